package cbraintest

import (
	"net/http"
	"strconv"
	"strings"
)

// userfileJSON is Userfile#for_api (§2): exactly these keys in this
// order; tag_ids/tag_names only when the file has tags.
type userfileJSON struct {
	ID             int      `json:"id"`
	Name           string   `json:"name"`
	BrowsePath     *string  `json:"browse_path"`
	Size           *int64   `json:"size"`
	UserID         int      `json:"user_id"`
	ParentID       *int     `json:"parent_id"`
	Type           string   `json:"type"`
	GroupID        int      `json:"group_id"`
	DataProviderID int      `json:"data_provider_id"`
	GroupWritable  bool     `json:"group_writable"`
	NumFiles       *int     `json:"num_files"`
	Hidden         bool     `json:"hidden"`
	Immutable      bool     `json:"immutable"`
	Archived       bool     `json:"archived"`
	Description    *string  `json:"description"`
	TagIDs         []int    `json:"tag_ids,omitempty"`
	TagNames       []string `json:"tag_names,omitempty"`
}

// forAPI snapshots a record (mu held).
func (s *Server) forAPI(f *userfile) userfileJSON {
	j := userfileJSON{ID: f.id, Name: f.name, BrowsePath: f.browsePath, Size: f.size, UserID: f.userID,
		ParentID: f.parentID, Type: f.typ, GroupID: f.groupID, DataProviderID: f.dpID,
		GroupWritable: f.groupWritable, NumFiles: f.numFiles, Hidden: f.hidden, Immutable: f.immutable,
		Archived: f.archived, Description: f.description}
	if len(f.tagIDs) > 0 {
		j.TagIDs = append([]int(nil), f.tagIDs...)
		for _, t := range f.tagIDs {
			name := ""
			if tg := s.st.tags[t]; tg != nil {
				name = tg.name
			}
			j.TagNames = append(j.TagNames, name)
		}
	}
	return j
}

// userfileColumns are the userfiles table columns usable as simple
// filters (§2) and how MySQL compares them.
var userfileColumns = map[string]byte{
	"id": 'i', "size": 'i', "user_id": 'i', "parent_id": 'i', "group_id": 'i', "data_provider_id": 'i', "num_files": 'i',
	"group_writable": 'i', "hidden": 'i', "immutable": 'i', "archived": 'i', // tinyint
	"name": 's', "type": 's', "description": 's', "browse_path": 's', "zenodo_deposit_id": 's', "zenodo_doi": 's',
	"created_at": 't', "updated_at": 't',
}

type colFilter struct {
	col    string
	values []string // equality (1 value) or IN
}

// column returns a column's value as MySQL would compare it; ok=false is NULL.
func column(f *userfile, col string) (num float64, str string, ok bool) {
	b := func(v bool) (float64, string, bool) {
		if v {
			return 1, "1", true
		}
		return 0, "0", true
	}
	switch col {
	case "id":
		return float64(f.id), "", true
	case "size":
		if f.size == nil {
			return 0, "", false
		}
		return float64(*f.size), "", true
	case "user_id":
		return float64(f.userID), "", true
	case "parent_id":
		if f.parentID == nil {
			return 0, "", false
		}
		return float64(*f.parentID), "", true
	case "group_id":
		return float64(f.groupID), "", true
	case "data_provider_id":
		return float64(f.dpID), "", true
	case "num_files":
		if f.numFiles == nil {
			return 0, "", false
		}
		return float64(*f.numFiles), "", true
	case "group_writable":
		return b(f.groupWritable)
	case "hidden":
		return b(f.hidden)
	case "immutable":
		return b(f.immutable)
	case "archived":
		return b(f.archived)
	case "name":
		return 0, f.name, true
	case "type":
		return 0, f.typ, true
	case "description":
		if f.description == nil {
			return 0, "", false
		}
		return 0, *f.description, true
	case "browse_path":
		if f.browsePath == nil {
			return 0, "", false
		}
		return 0, *f.browsePath, true
	case "created_at":
		return 0, f.createdAt.UTC().Format("2006-01-02 15:04:05"), true
	case "updated_at":
		return 0, f.updatedAt.UTC().Format("2006-01-02 15:04:05"), true
	}
	return 0, "", false // zenodo_*: always NULL here
}

// mysqlNum converts a string the way MySQL does when comparing it with a
// number: the leading numeric prefix, else 0 ("true" is 0, see §2 [I]).
func mysqlNum(s string) float64 {
	s = strings.TrimSpace(s)
	end := 0
	for end < len(s) && (s[end] >= '0' && s[end] <= '9' || s[end] == '.' || (end == 0 && (s[end] == '-' || s[end] == '+'))) {
		end++
	}
	for end > 0 {
		if v, err := strconv.ParseFloat(s[:end], 64); err == nil {
			return v
		}
		end--
	}
	return 0
}

func (cf colFilter) match(f *userfile) bool {
	num, str, ok := column(f, cf.col)
	if !ok {
		return false // NULL = anything is never true
	}
	kind := userfileColumns[cf.col]
	for _, v := range cf.values {
		switch kind {
		case 'i':
			if mysqlNum(v) == num {
				return true
			}
		default: // utf8mb3_unicode_ci: case-insensitive, trailing spaces ignored
			if strings.EqualFold(strings.TrimRight(v, " "), strings.TrimRight(str, " ")) {
				return true
			}
		}
	}
	return false
}

// likeMatch is MySQL LIKE (case-insensitive): % any run, _ one char, \ escapes.
func likeMatch(pat, s string) bool {
	p, t := []rune(strings.ToLower(pat)), []rune(strings.ToLower(s))
	var rec func(i, j int) bool
	memo := map[[2]int]bool{}
	rec = func(i, j int) bool {
		k := [2]int{i, j}
		if v, ok := memo[k]; ok {
			return v
		}
		var r bool
		switch {
		case i == len(p):
			r = j == len(t)
		case p[i] == '%':
			r = rec(i+1, j) || (j < len(t) && rec(i, j+1))
		case p[i] == '_':
			r = j < len(t) && rec(i+1, j+1)
		case p[i] == '\\' && i+1 < len(p):
			r = j < len(t) && t[j] == p[i+1] && rec(i+2, j+1)
		default:
			r = j < len(t) && t[j] == p[i] && rec(i+1, j+1)
		}
		memo[k] = r
		return r
	}
	return rec(0, 0)
}

// perPage implements Scope::Pagination (§2, §12): default 25, clamp to
// 1..1000, a non-numeric value gives the default.
func perPage(c *call) int {
	v := c.get("per_page")
	if v == "" {
		v = c.get("per-page")
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return 25
	}
	d := strings.TrimLeft(v, "+-")
	if d == "" || d[0] < '0' || d[0] > '9' {
		return 25
	}
	n, _ := railsInt(v)
	return int(min(max(n, 1), 1000))
}

// switchProject applies POST /groups/switch semantics to the session
// (mu held). "" or "all" clears. Returns false if the group is not the
// user's.
func (s *Server) switchProject(c *call, v string) bool {
	ss := c.session()
	if ss == nil {
		return false
	}
	v = strings.TrimSpace(v)
	if v == "" || v == "all" {
		ss.project = 0
		return true
	}
	gid, ok := strictID(v)
	if !ok || s.st.groups[gid] == nil || !(s.isAdmin(c.uid) || s.isMember(c.uid, gid)) {
		return false
	}
	ss.project = gid
	return true
}

// GET /userfiles (§2).
func (s *Server) hUserfilesIndex(c *call) {
	var filters []colFilter
	for k, vals := range c.p {
		if base, ok := strings.CutSuffix(k, "[]"); ok {
			if _, isCol := userfileColumns[base]; isCol {
				filters = append(filters, colFilter{col: base, values: vals})
			}
			continue
		}
		if _, isCol := userfileColumns[k]; isCol && len(vals) > 0 {
			filters = append(filters, colFilter{col: k, values: vals[len(vals)-1:]}) // Rails: last value wins
		}
	}
	like := strings.TrimSpace(c.get("name_like")) // n.strip
	likePlain := !s.nameLikeWildcards() || !strings.ContainsAny(like, `%_\`)
	likeLower := strings.ToLower(like)
	idsOnly := c.get("ids_only") != ""
	per := perPage(c)
	page, _ := railsInt(c.get("page"))
	if page < 1 {
		page = 1
	}

	s.mu.Lock()
	if c.has("switch_group_id") {
		s.switchProject(c, c.get("switch_group_id"))
	}
	project := 0
	if ss := c.session(); ss != nil {
		project = ss.project
	}
	admin := s.isAdmin(c.uid)
	skip := (int(page) - 1) * per
	var ids []int
	var out []any
	if !idsOnly {
		out = make([]any, 0, min(per, 1000))
	}
	for _, f := range s.sortedFiles() {
		if f.hidden || (project != 0 && f.groupID != project) {
			continue
		}
		if !admin && !s.canRead(c.uid, f) {
			continue
		}
		ok := true
		for _, cf := range filters {
			if !cf.match(f) {
				ok = false
				break
			}
		}
		if ok && like != "" {
			if likePlain {
				ok = strings.Contains(f.lname, likeLower)
			} else {
				ok = likeMatch("%"+like+"%", f.name)
			}
		}
		if !ok {
			continue
		}
		if idsOnly {
			ids = append(ids, f.id)
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		out = append(out, s.userfileForAPI(f))
		if len(out) == per {
			break
		}
	}
	s.mu.Unlock()
	if idsOnly {
		if ids == nil {
			ids = []int{}
		}
		c.json(http.StatusOK, ids)
		return
	}
	c.json(http.StatusOK, out)
}

// findReadable looks up :id with read access (mu held).
func (s *Server) findReadable(c *call) *userfile {
	id, ok := strictID(c.id)
	if !ok {
		return nil
	}
	f := s.st.files[id]
	if f == nil || !s.canRead(c.uid, f) {
		return nil
	}
	return f
}

// GET /userfiles/:id (§2): hidden files are shown too.
func (s *Server) hUserfileShow(c *call) {
	s.mu.Lock()
	f := s.findReadable(c)
	var j any
	if f != nil {
		j = s.userfileForAPI(f)
	}
	s.mu.Unlock()
	if f == nil {
		c.notFound("Userfile", c.id)
		return
	}
	c.json(http.StatusOK, j)
}
