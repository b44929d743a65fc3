package cbraintest

import (
	"net/http"

	"github.com/filesmount/filesmount/internal/faults"
)

// Fault injection (package faults) and the failure knobs that go with it.
// Other knobs live beside the state they change: SetUploadNeverCompletes
// (size stays null), SetQuotaExceeded, ExpireToken, SetProviderOnline.

// Faults returns the injector applied to every request, creating one
// (seed 1) if Options.Faults was nil. Rules match the route keys of
// Stats.ByRoute ("GET /userfiles/:id/content") or the request line
// ("GET /userfiles/7/content"). Safe for concurrent use; rules added
// while requests run apply to the requests that arrive afterwards.
func (s *Server) Faults() *faults.Injector {
	for {
		if in := s.faults.Load(); in != nil {
			return in
		}
		s.faults.CompareAndSwap(nil, faults.New(1))
	}
}

// SetCorruptDownloads makes content served from now on (GET
// /userfiles/:id/content and /stream) have one byte altered, the one in
// the middle, while Content-Length stays right: only a client that checks
// what it read notices.
func (s *Server) SetCorruptDownloads(v bool) { s.corrupt.Store(v) }

// serveWithFaults is the listener's handler: the injector (if any) in
// front of the emulator. It is outermost so that a latency or a status
// fault happens before anything else, like a slow or failing proxy.
func (s *Server) serveWithFaults(w http.ResponseWriter, r *http.Request) {
	in := s.faults.Load()
	if in == nil {
		s.serveHTTP(w, r)
		return
	}
	in.WrapWith(s.routeKey, s.faultAnswer, http.HandlerFunc(s.serveHTTP)).ServeHTTP(w, r)
}

// routeKey is the Stats.ByRoute key of a request, without serving it.
func (s *Server) routeKey(r *http.Request) string {
	rt, _, _, _, ok := s.match(r.Method, r.URL.Path)
	if !ok {
		return "UNKNOWN"
	}
	return rt.key
}

// faultAnswer writes an injected status in CBRAIN's error shape,
// {"error":"..."}, and counts and logs the request like a served one (the
// portal saw it).
func (s *Server) faultAnswer(w http.ResponseWriter, r *http.Request, key string, status int) {
	s.countRoute(key)
	writeJSON(w, status, map[string]string{"error": http.StatusText(status)})
	s.logf("cbraintest: %s %s -> %d (injected fault) [%s]", r.Method, r.URL.RequestURI(), status, key)
}
