package cbraintest

import (
	"fmt"
	"net/http"
)

// fileIDs parses file_ids (JSON array, form file_ids[], or a scalar) and
// drops duplicates. bad lists the raw values that are not ids.
func (c *call) fileIDs() (ids []int, raw []string) {
	raw = c.list("file_ids")
	seen := map[int]bool{}
	for _, v := range raw {
		id, ok := strictID(v)
		if !ok {
			id = -1 // never found
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids, raw
}

// POST /userfiles/sync_multiple (§6).
func (s *Server) hSyncMultiple(c *call) {
	ids, raw := c.fileIDs()
	s.mu.Lock()
	missing := len(ids) == 0
	for _, id := range ids {
		if f := s.st.files[id]; f == nil || !s.canRead(c.uid, f) {
			missing = true
		}
	}
	if missing { // RecordNotFound with an array id [I]
		s.mu.Unlock()
		if raw == nil {
			raw = []string{}
		}
		c.notFound("Userfile", raw)
		return
	}
	if c.get("operation") == "all_newer" {
		n := 0
		for _, id := range ids {
			f := s.st.files[id]
			if p := s.st.providers[f.dpID]; p != nil && p.remote && f.cached {
				f.cached = false // InSync -> ProvNewer
				n++
			}
		}
		s.mu.Unlock()
		c.json(http.StatusOK, map[string]any{"notice": fmt.Sprintf("Marked %d files as newer on provider", n)})
		return
	}
	s.mu.Unlock()
	bid := s.startBAC(c.uid, "BackgroundActivity::SyncFile", ids, map[string]any{}, func(id int) (any, bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		f := s.st.files[id]
		if f == nil {
			return "Userfile not found", false
		}
		p := s.st.providers[f.dpID]
		switch {
		case p == nil || !p.online:
			return fmt.Sprintf("Data Provider '%s' is offline", providerName(p)), false
		case !f.stored:
			return "Content not available on provider", false
		}
		f.cached = true
		return nil, true
	})
	c.json(http.StatusOK, map[string]any{
		"message":                "Synchronization started in background. Files that cannot be synchronized will be skipped.",
		"background_activity_id": bid,
	})
}

func providerName(p *provider) string {
	if p == nil {
		return "(none)"
	}
	return p.name
}
