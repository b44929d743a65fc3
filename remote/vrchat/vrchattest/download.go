package vrchattest

import (
	"net/http"
)

// GET /file/{id}/{v} and /file/{id}/{v}/{file|signature|delta} (§6): 302
// to a pre-signed GET URL on the object store (another host, so a correct
// client sends no cookies there). Options.DownloadRedirect is ignored:
// the emulator always redirects.
//
// Version 0 → 404 "File version type not found" (recorded). The same 404
// answers [INF] a version without that part, one that is not "complete"
// (waiting, queued, error), and one marked deleted; a version number past
// the end → 404 "File version not found" [INF].
func (s *Server) hDownload(c *call) {
	s.mu.Lock()
	f, st, msg := s.findFileLocked(c.id)
	if f == nil {
		s.mu.Unlock()
		c.error(st, msg)
		return
	}
	if c.v >= len(f.versions) {
		s.mu.Unlock()
		c.error(http.StatusNotFound, "File version not found")
		return
	}
	v := f.versions[c.v]
	p := v.partOf(c.typ)
	if c.v == 0 || p == nil || v.deleted || !v.servable() || p.status != "complete" || p.obj == nil {
		s.mu.Unlock()
		c.error(http.StatusNotFound, msgVersionTypeNotFound)
		return
	}
	loc := s.presignLocked(http.MethodGet, p.fileName, "", "", 0, "")
	s.mu.Unlock()
	h := c.w.Header()
	h.Set("Location", loc)
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "private, no-cache")
	c.w.WriteHeader(http.StatusFound)
	c.w.Write([]byte("Found. Redirecting to " + loc))
}
