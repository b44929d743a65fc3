package vrchattest

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/filesmount/filesmount/internal/faults"
)

// Fault injection (package faults) and the failure knobs that go with it.
// Other knobs live beside the state they change: SetURLTTL (expired
// pre-signed URLs), ExpireSessions (expired cookies), SetRateLimited,
// Options.QueuedPolls, SetAnalysis.

// Faults returns the injector applied to every request on both listeners,
// creating one (seed 1) if Options.Faults was nil. Rules match the route
// keys of Stats.ByRoute ("GET /file/{id}", "GET s3", "PUT s3 part") or the
// request line ("GET /api/1/file/file_..."), so route=s3 selects the
// object store only. Safe for concurrent use; rules added while requests
// run apply to the requests that arrive afterwards.
func (s *Server) Faults() *faults.Injector {
	for {
		if in := s.faults.Load(); in != nil {
			return in
		}
		s.faults.CompareAndSwap(nil, faults.New(1))
	}
}

// SetCorruptDownloads makes the object store serve, from now on, objects
// with one byte altered (the one in the middle, whatever range is asked
// for) while Content-Length and ETag stay right: only a client that checks
// the MD5 of what it read notices.
func (s *Server) SetCorruptDownloads(v bool) { s.corrupt.Store(v) }

// SetWrongETag makes object-store PUTs (simple and part) answer an ETag
// that is not the MD5 of the bytes received. The bytes are stored right,
// so a client that checks the ETag notices; one that passes the ETags on
// to finish gets S3's InvalidPart (400), as it would from S3.
func (s *Server) SetWrongETag(v bool) { s.wrongETag.Store(v) }

// SetVersionsStayQueued makes uploads finished from now on leave their
// version "queued" forever: the upload is accepted, the version never
// becomes complete (a stuck processing pipeline). Versions finished while
// it was on stay queued after it is turned off.
func (s *Server) SetVersionsStayQueued(v bool) { s.stayQueued.Store(v) }

// answeredETag is the ETag a PUT answers for o: its own, or with
// SetWrongETag the MD5 of something else, still well-formed.
func (s *Server) answeredETag(o *object) string {
	if !s.wrongETag.Load() {
		return o.etag
	}
	h := md5.Sum(append([]byte("wrong etag for "), o.md5[:]...))
	return `"` + hex.EncodeToString(h[:]) + `"`
}

// withFaults puts the injector (if any, looked up per request so that
// Faults can create it later) in front of a listener's handler: a
// latency or status fault happens before anything else, like a slow or
// failing proxy.
func (s *Server) withFaults(route func(*http.Request) string, answer faults.Formatter, serve http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in := s.faults.Load()
		if in == nil {
			serve(w, r)
			return
		}
		in.WrapWith(route, answer, serve).ServeHTTP(w, r)
	})
}

// apiRouteKey is the Stats.ByRoute key of an API request, without serving it.
func (s *Server) apiRouteKey(r *http.Request) string {
	if p, ok := strings.CutPrefix(r.URL.Path, apiPrefix+"/"); ok {
		if rt, _, ok := s.match(r.Method, p); ok {
			return rt.key
		}
	}
	return "UNKNOWN"
}

// apiFaultAnswer writes an injected status in the API's envelope
// {"error":{"message":...,"status_code":N}}; the request is counted and
// logged like a served one (the API saw it).
func (s *Server) apiFaultAnswer(w http.ResponseWriter, r *http.Request, key string, status int) {
	s.countRoute(key)
	msg := http.StatusText(status)
	if status == http.StatusTooManyRequests {
		msg = msgRateLimited
	}
	writeError(w, status, msg)
	s.logf("vrchattest api: %s %s -> %d (injected fault) [%s]", r.Method, redactQuery(r.URL.RequestURI()), status, key)
}

// s3FaultAnswer writes an injected status as S3 would: an XML <Error>,
// SlowDown for 503 and 429, InternalError for 500.
func (s *Server) s3FaultAnswer(w http.ResponseWriter, r *http.Request, key string, status int) {
	s.countRoute(key)
	e := s3Error{Code: strings.ReplaceAll(http.StatusText(status), " ", ""), Message: http.StatusText(status)}
	switch status {
	case http.StatusServiceUnavailable, http.StatusTooManyRequests:
		e = s3Error{Code: "SlowDown", Message: "Please reduce your request rate."}
	case http.StatusInternalServerError:
		e = s3Error{Code: "InternalError", Message: "We encountered an internal error. Please try again."}
	}
	w.Header().Set("Server", "AmazonS3")
	w.Header().Set("x-amz-request-id", fmt.Sprintf("%016X", time.Now().UnixNano()))
	writeS3Error(w, r, status, e)
	s.logf("vrchattest s3: %s %s -> %d (injected fault) [%s]", r.Method, redactQuery(r.URL.RequestURI()), status, key)
}
