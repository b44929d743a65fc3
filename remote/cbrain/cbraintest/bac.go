package cbraintest

import (
	"net/http"
	"sort"
	"time"
)

// bac is a BackgroundActivity (§6). Guarded by Server.mu.
type bac struct {
	id           int
	userID       int
	typ          string
	status       string
	items        []int
	messages     []any // aligned with items; nil = success
	currentItem  int
	numSuccesses int
	numFailures  int
	options      map[string]any
	updatedAt    time.Time
}

type bacJSON struct {
	ID               int            `json:"id"`
	UserID           int            `json:"user_id"`
	RemoteResourceID int            `json:"remote_resource_id"`
	Type             string         `json:"type"`
	Status           string         `json:"status"`
	Items            []int          `json:"items"`
	Messages         []any          `json:"messages"`
	CurrentItem      int            `json:"current_item"`
	NumSuccesses     int            `json:"num_successes"`
	NumFailures      int            `json:"num_failures"`
	HandlerLock      *string        `json:"handler_lock"`
	Options          map[string]any `json:"options"`
	UpdatedAt        string         `json:"updated_at"`
}

func (b *bac) api() bacJSON {
	j := bacJSON{ID: b.id, UserID: b.userID, RemoteResourceID: 1, Type: b.typ, Status: b.status,
		Items: append([]int{}, b.items...), Messages: append([]any{}, b.messages...), CurrentItem: b.currentItem,
		NumSuccesses: b.numSuccesses, NumFailures: b.numFailures, Options: map[string]any{}, UpdatedAt: railsTime(b.updatedAt)}
	for k, v := range b.options {
		j.Options[k] = v
	}
	if b.status == "InProgress" && b.currentItem > 0 {
		j.HandlerLock = strp("Portal-emulator")
	}
	return j
}

// itemFunc processes one item of a BAC, without mu held; it returns nil
// on success or the failure message.
type itemFunc func(id int) (msg any, ok bool)

// startBAC records a BackgroundActivity (status InProgress) and processes
// it asynchronously after Options.BACDelay, one item at a time, like a
// portal worker. Returns the BAC id.
func (s *Server) startBAC(uid int, typ string, items []int, options map[string]any, fn itemFunc) int {
	s.mu.Lock()
	id := s.newID("background_activities")
	b := &bac{id: id, userID: uid, typ: typ, status: "InProgress", items: items, messages: []any{},
		options: options, updatedAt: time.Now()}
	s.st.bacs[id] = b
	s.mu.Unlock()
	s.goBackground(func() {
		if !s.sleep(s.opts.BACDelay) {
			return
		}
		for i, item := range items {
			select {
			case <-s.done:
				return
			default:
			}
			msg, ok := fn(item)
			s.mu.Lock()
			b.currentItem = i + 1
			if ok {
				b.numSuccesses++
			} else {
				b.numFailures++
			}
			b.messages = append(b.messages, msg)
			b.updatedAt = time.Now()
			s.mu.Unlock()
		}
		s.mu.Lock()
		switch {
		case b.numFailures == 0:
			b.status = "Completed"
		case b.numSuccesses == 0:
			b.status = "Failed"
		default:
			b.status = "PartiallyCompleted"
		}
		b.updatedAt = time.Now()
		s.mu.Unlock()
	})
	return id
}

// BACStatus returns a background activity's status ("" if unknown). For tests.
func (s *Server) BACStatus(id int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.st.bacs[id]; b != nil {
		return b.status
	}
	return ""
}

// GET /background_activities/:id.
func (s *Server) hBACShow(c *call) {
	id, ok := strictID(c.id)
	s.mu.Lock()
	var b *bac
	if ok {
		b = s.st.bacs[id]
	}
	if b != nil && b.userID != c.uid && !s.isAdmin(c.uid) {
		b = nil
	}
	var j bacJSON
	if b != nil {
		j = b.api()
	}
	s.mu.Unlock()
	if b == nil {
		c.notFound("BackgroundActivity", c.id)
		return
	}
	c.json(http.StatusOK, j)
}

// GET /background_activities: the caller's BACs (all for admins), newest
// first, 25 per page.
func (s *Server) hBACIndex(c *call) {
	s.mu.Lock()
	admin := s.isAdmin(c.uid)
	var list []*bac
	for _, b := range s.st.bacs {
		if admin || b.userID == c.uid {
			list = append(list, b)
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].id > list[j].id })
	per := perPage(c)
	page, _ := railsInt(c.get("page"))
	if page < 1 {
		page = 1
	}
	lo := min(int(page-1)*per, len(list))
	out := []bacJSON{}
	for _, b := range list[lo:min(lo+per, len(list))] {
		out = append(out, b.api())
	}
	s.mu.Unlock()
	c.json(http.StatusOK, out)
}
