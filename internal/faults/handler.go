package faults

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"time"
)

// Formatter writes the answer of a Status fault: headers (Retry-After is
// already set) and body, in the shape the emulated service uses for that
// status. route is the request's route key.
type Formatter func(w http.ResponseWriter, r *http.Request, route string, status int)

// JSONError is the default Formatter: {"error":"<status text>"}, the shape
// of CBRAIN's errors and of many other APIs.
func JSONError(w http.ResponseWriter, _ *http.Request, _ string, status int) {
	b, _ := json.Marshal(map[string]string{"error": http.StatusText(status)})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

// Wrap is WrapWith(route, JSONError, next).
func (in *Injector) Wrap(route func(*http.Request) string, next http.Handler) http.Handler {
	return in.WrapWith(route, JSONError, next)
}

// WrapWith returns next with the injector's faults applied. route gives a
// request's route key (nil: only the request line is matched); format
// writes status faults (nil: JSONError). With a nil injector it returns
// next unchanged.
func (in *Injector) WrapWith(route func(*http.Request) string, format Formatter, next http.Handler) http.Handler {
	if in == nil {
		return next
	}
	if format == nil {
		format = JSONError
	}
	return &handler{in: in, route: route, format: format, next: next}
}

type handler struct {
	in     *Injector
	route  func(*http.Request) string
	format Formatter
	next   http.Handler
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := ""
	if h.route != nil {
		key = h.route(r)
	}
	lat, resp := h.in.pick(key, r)
	if lat != nil {
		h.in.count(Latency)
		if !sleep(r.Context(), lat.Delay) {
			return // the client is gone: nobody to answer
		}
	}
	switch {
	case resp == nil:
		h.next.ServeHTTP(w, r)
	case resp.Kind == Status:
		h.in.count(Status)
		// Read the request body first: answering an upload early makes
		// the client see a broken pipe instead of the status, and tests
		// want the status.
		io.Copy(io.Discard, r.Body)
		if resp.RetryAfter != "" {
			w.Header().Set("Retry-After", resp.RetryAfter)
		}
		h.format(w, r, key, resp.Status)
	default:
		cw := &cutWriter{w: w, rc: http.NewResponseController(w), ctx: r.Context(), rule: *resp,
			fired: func() { h.in.count(resp.Kind) }}
		h.next.ServeHTTP(cw, r)
		cw.finish()
	}
}

// sleep waits d, or until ctx ends (d <= 0: only the latter). It reports
// whether the wait ended because d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		<-ctx.Done()
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
