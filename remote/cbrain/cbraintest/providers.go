package cbraintest

import (
	"net/http"
	"sort"
	"strings"
)

// providerJSON is DataProvider#for_api (§7), with its four pseudo-attributes last.
type providerJSON struct {
	ID                   int     `json:"id"`
	Name                 string  `json:"name"`
	Type                 string  `json:"type"`
	UserID               int     `json:"user_id"`
	GroupID              int     `json:"group_id"`
	Online               bool    `json:"online"`
	ReadOnly             bool    `json:"read_only"`
	Description          *string `json:"description"`
	IsBrowsable          bool    `json:"is_browsable"`
	IsFastSyncing        bool    `json:"is_fast_syncing"`
	AllowFileOwnerChange bool    `json:"allow_file_owner_change"`
	ContentStorageShared bool    `json:"content_storage_shared_between_users"`
}

func providerAPI(p *provider) providerJSON {
	return providerJSON{ID: p.id, Name: p.name, Type: p.typ, UserID: p.ownerID, GroupID: p.groupID,
		Online: p.online, ReadOnly: p.readOnly, Description: p.description, IsBrowsable: p.browsable,
		IsFastSyncing: !p.remote, AllowFileOwnerChange: true, ContentStorageShared: p.shared}
}

// GET /data_providers: accessible providers (offline ones included), by
// name, not paginated, capped at 1000 (§7).
func (s *Server) hProvidersIndex(c *call) {
	s.mu.Lock()
	var out []providerJSON
	for _, p := range s.st.providers {
		if s.providerAccessible(c.uid, p) {
			out = append(out, providerAPI(p))
		}
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := strings.ToLower(out[i].Name), strings.ToLower(out[j].Name)
		if a != b {
			return a < b
		}
		return out[i].ID < out[j].ID
	})
	if len(out) > 1000 {
		out = out[:1000]
	}
	if out == nil {
		out = []providerJSON{}
	}
	c.json(http.StatusOK, out)
}

// findProvider: 404 JSON if unknown, 200 {"error"} if not accessible (§7).
func (s *Server) findProvider(c *call) (providerJSON, bool) {
	id, ok := strictID(c.id)
	s.mu.Lock()
	var p *provider
	if ok {
		p = s.st.providers[id]
	}
	acc := p != nil && s.providerAccessible(c.uid, p)
	var j providerJSON
	if p != nil {
		j = providerAPI(p)
	}
	s.mu.Unlock()
	if p == nil {
		c.notFound("DataProvider", c.id)
		return j, false
	}
	if !acc {
		c.cbNotice("Provider not accessible by current user.")
		return j, false
	}
	return j, true
}

// GET /data_providers/:id.
func (s *Server) hProviderShow(c *call) {
	if j, ok := s.findProvider(c); ok {
		c.json(http.StatusOK, j)
	}
}

// GET /data_providers/:id/is_alive: {"is_alive":bool}.
func (s *Server) hProviderIsAlive(c *call) {
	if j, ok := s.findProvider(c); ok {
		c.json(http.StatusOK, map[string]bool{"is_alive": j.Online})
	}
}

type groupJSON struct {
	ID          int     `json:"id"`
	Name        string  `json:"name"`
	Description *string `json:"description"`
	Type        string  `json:"type"`
	SiteID      *int    `json:"site_id"`
	Invisible   bool    `json:"invisible"`
}

func groupAPI(g *group) groupJSON {
	return groupJSON{ID: g.id, Name: g.name, Description: g.description, Type: g.typ, Invisible: g.invisible}
}

// listable is current_user.listable_groups: no invisible groups, no
// "everyone" (mu held).
func (s *Server) listable(uid int, g *group) bool {
	if g.invisible || g.id == s.st.everyoneID {
		return false
	}
	return s.isAdmin(uid) || g.members[uid]
}

// GET /groups: all listable groups by name; admins get pages of 50 (§7).
func (s *Server) hGroupsIndex(c *call) {
	s.mu.Lock()
	admin := s.isAdmin(c.uid)
	var out []groupJSON
	for _, g := range s.st.groups {
		if s.listable(c.uid, g) {
			out = append(out, groupAPI(g))
		}
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := strings.ToLower(out[i].Name), strings.ToLower(out[j].Name)
		if a != b {
			return a < b
		}
		return out[i].ID < out[j].ID
	})
	if admin {
		per := 50
		if c.get("per_page") != "" || c.get("per-page") != "" {
			per = perPage(c)
		}
		page, _ := railsInt(c.get("page"))
		if page < 1 {
			page = 1
		}
		lo := min(int(page-1)*per, len(out))
		out = out[lo:min(lo+per, len(out))]
	}
	if out == nil {
		out = []groupJSON{}
	}
	c.json(http.StatusOK, out)
}

// GET /groups/:id: 404 JSON when not viewable.
func (s *Server) hGroupShow(c *call) {
	id, ok := strictID(c.id)
	s.mu.Lock()
	var g *group
	if ok {
		g = s.st.groups[id]
	}
	visible := g != nil && (s.isAdmin(c.uid) || g.members[c.uid])
	var j groupJSON
	if visible {
		j = groupAPI(g)
	}
	s.mu.Unlock()
	if !visible {
		c.notFound("Group", c.id)
		return
	}
	c.json(http.StatusOK, j)
}

// POST /groups/switch?id=N: sticky current project for the token; no id
// (or "all") clears it. Empty 200.
func (s *Server) hGroupsSwitch(c *call) {
	s.mu.Lock()
	ok := s.switchProject(c, c.get("id"))
	s.mu.Unlock()
	if !ok {
		c.notFound("Group", c.get("id"))
		return
	}
	c.head(http.StatusOK)
}

type userJSON struct {
	ID              int     `json:"id"`
	Login           string  `json:"login"`
	FullName        string  `json:"full_name"`
	Email           string  `json:"email"`
	Type            string  `json:"type"`
	SiteID          *int    `json:"site_id"`
	TimeZone        *string `json:"time_zone"`
	City            *string `json:"city"`
	LastConnectedAt *string `json:"last_connected_at"`
	AccountLocked   bool    `json:"account_locked"`
	PublicKey       *string `json:"public_key"`
}

// GET /users/:id: self only for normal users (400 otherwise), 404 unknown.
func (s *Server) hUserShow(c *call) {
	id, ok := strictID(c.id)
	s.mu.Lock()
	var u *user
	if ok {
		u = s.st.users[id]
	}
	admin := s.isAdmin(c.uid)
	var j userJSON
	if u != nil {
		typ := "NormalUser"
		if u.admin {
			typ = "AdminUser"
		}
		j = userJSON{ID: u.id, Login: u.login, FullName: u.fullName, Email: u.email, Type: typ,
			TimeZone: strp("UTC")}
		if u.lastConnected != nil {
			j.LastConnectedAt = strp(railsTime(*u.lastConnected))
		}
	}
	s.mu.Unlock()
	switch {
	case u == nil:
		c.notFound("User", c.id)
	case !admin && u.id != c.uid:
		c.cbError("You don't have permission to view this user.")
	default:
		c.json(http.StatusOK, j)
	}
}
