package cbraintest

import (
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/filesmount/filesmount/internal/faults"
)

// Options configures a Server.
type Options struct {
	// DataDir is where contents are stored (required). Tests pass t.TempDir().
	DataDir string
	// UploadDelay is the time between the 201 of POST /userfiles and the
	// moment the new file's size is set (0: immediately, but still
	// asynchronously, like the real double-forked copier).
	UploadDelay time.Duration
	// BACDelay is the time before a background activity is processed
	// (0: as soon as possible, asynchronously).
	BACDelay time.Duration
	// LoginDelay is the sleep before a failed POST /session answers. The
	// real server sleeps 3 s; 0 by default to keep tests fast.
	LoginDelay time.Duration
	// Addr is the listening address; default "127.0.0.1:0".
	Addr string
	// Logf, if set, receives one line per request.
	Logf func(format string, args ...any)
	// Faults, if set, injects faults into every request (see Server.Faults).
	Faults *faults.Injector
	// Release is the CBRAIN release played (release.go); empty: the one
	// FILESMOUNT_CBRAIN_RELEASE names, else ReleaseCurrent.
	Release Release
	// Display plays the display action's unrecorded answers (display.go).
	Display DisplayOptions
}

// Server is a running emulator.
type Server struct {
	opts     Options
	ln       net.Listener
	srv      *http.Server
	url      string
	handler  http.Handler
	done     chan struct{}  // closed by Close; background goroutines stop
	wg       sync.WaitGroup // background goroutines (uploads, BACs)
	closeMux sync.Once

	mu sync.Mutex // protects every field below (the whole data model)
	st state

	statsMu sync.Mutex // protects stats (kept apart so that counting never waits on mu)
	stats   Stats

	// Failure knobs read on every request without taking mu.
	faults  atomic.Pointer[faults.Injector] // Options.Faults or Server.Faults; nil: none
	corrupt atomic.Bool                     // SetCorruptDownloads
}

// state is the in-memory "database". Guarded by Server.mu.
type state struct {
	nextID    map[string]int // per table
	users     map[int]*user
	byLogin   map[string]*user
	groups    map[int]*group
	providers map[int]*provider
	files     map[int]*userfile
	tags      map[int]*tag
	sessions  map[string]*session
	bacs      map[int]*bac

	sorted      []*userfile // all userfiles by (lower(name), id); rebuilt when dirty
	sortedDirty bool

	everyoneID int // the "everyone" SystemGroup: every user is a member

	banned        map[string]bool // client IPs banned by the spurious-params trap
	uploadNoEnd   bool            // SetUploadNeverCompletes
	quotaExceeded map[int]bool    // SetQuotaExceeded
	contentGen    int64           // makes content file names unique (never rewritten in place)
}

// New starts an emulator listening on a loopback port.
func New(opts Options) (*Server, error) {
	if opts.DataDir == "" {
		return nil, errors.New("cbraintest: Options.DataDir is required")
	}
	for _, d := range []string{"files", "tmp"} {
		if err := os.MkdirAll(filepath.Join(opts.DataDir, d), 0o755); err != nil {
			return nil, err
		}
	}
	var err error
	if opts.Release == "" {
		opts.Release, err = ReleaseFromEnv()
	} else {
		opts.Release, err = checkRelease(opts.Release)
	}
	if err != nil {
		return nil, err
	}
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, ln: ln, done: make(chan struct{})}
	s.st = state{
		nextID:        map[string]int{},
		users:         map[int]*user{},
		byLogin:       map[string]*user{},
		groups:        map[int]*group{},
		providers:     map[int]*provider{},
		files:         map[int]*userfile{},
		tags:          map[int]*tag{},
		sessions:      map[string]*session{},
		bacs:          map[int]*bac{},
		banned:        map[string]bool{},
		quotaExceeded: map[int]bool{},
	}
	s.stats.ByRoute = map[string]int64{}
	s.st.everyoneID = s.addGroupLocked("everyone", "SystemGroup", nil)
	s.faults.Store(opts.Faults)
	s.handler = http.HandlerFunc(s.serveWithFaults)
	s.url = "http://" + ln.Addr().String()
	s.srv = &http.Server{Handler: s.handler, ReadHeaderTimeout: 30 * time.Second}
	go s.srv.Serve(ln) //nolint:errcheck // returns ErrServerClosed on Close
	return s, nil
}

// URL is the base URL, e.g. "http://127.0.0.1:41234" (no trailing slash).
func (s *Server) URL() string { return s.url }

// Handler is the emulator as an http.Handler (for mounting elsewhere).
func (s *Server) Handler() http.Handler { return s.handler }

// Close stops the listener, closes open connections and waits for the
// background goroutines, so that DataDir can be removed afterwards.
func (s *Server) Close() {
	s.closeMux.Do(func() {
		s.srv.Close()
		close(s.done)
		s.wg.Wait()
	})
}

// sleep waits d or until Close; it reports false if the server closed.
func (s *Server) sleep(d time.Duration) bool {
	if d <= 0 {
		select {
		case <-s.done:
			return false
		default:
			return true
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.done:
		return false
	}
}

// goBackground runs f in a goroutine that Close waits for.
func (s *Server) goBackground(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

func (s *Server) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf(format, args...)
	}
}

// newID allocates the next id of a table (ids start at 1 like MySQL).
// Caller holds mu.
func (s *Server) newID(table string) int {
	s.st.nextID[table]++
	return s.st.nextID[table]
}

// Stats are counters since the last ResetStats.
type Stats struct {
	Requests int64
	// ByRoute counts requests per route pattern, e.g. "GET /userfiles",
	// "GET /userfiles/:id", "GET /userfiles/:id/content". Unrouted requests
	// count under "UNKNOWN".
	ByRoute map[string]int64
	// ContentBytes counts body bytes written by content, stream and
	// download responses.
	ContentBytes int64
	// TokenIPChanges counts tokens deactivated because a request came
	// from another client address than the one they are bound to.
	TokenIPChanges int64
	// ErrorMessages and ExceptionLogs count what the real portal would
	// have filed for its admins and the user: an error Message and an
	// ExceptionLog entry (e.g. every display request that fails, see
	// display.go). A client should make neither in normal use.
	ErrorMessages, ExceptionLogs int64
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	c := s.stats
	c.ByRoute = make(map[string]int64, len(s.stats.ByRoute))
	for k, v := range s.stats.ByRoute {
		c.ByRoute[k] = v
	}
	return c
}

// ResetStats zeroes the counters.
func (s *Server) ResetStats() {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	s.stats = Stats{ByRoute: map[string]int64{}}
}

func (s *Server) countRoute(key string) {
	s.statsMu.Lock()
	s.stats.Requests++
	s.stats.ByRoute[key]++
	s.statsMu.Unlock()
}

func (s *Server) countTokenIPChange() {
	s.statsMu.Lock()
	s.stats.TokenIPChanges++
	s.statsMu.Unlock()
}

func (s *Server) countContent(n int64) {
	s.statsMu.Lock()
	s.stats.ContentBytes += n
	s.statsMu.Unlock()
}

// SetUploadNeverCompletes is a failure knob: later uploads keep size null
// forever and never get content (a background copier that died, §4).
func (s *Server) SetUploadNeverCompletes(v bool) {
	s.mu.Lock()
	s.st.uploadNoEnd = v
	s.mu.Unlock()
}

// SetQuotaExceeded makes the user's next uploads answer HTTP 200
// {"error":"Disk Quota Exceeded for user ..."} (§4).
func (s *Server) SetQuotaExceeded(userID int, v bool) {
	s.mu.Lock()
	s.st.quotaExceeded[userID] = v
	s.mu.Unlock()
}

// UnbanAll lifts the IP bans set by the POST /session spurious-params trap.
// All emulator clients are 127.0.0.1, so one ban blocks everything.
func (s *Server) UnbanAll() {
	s.mu.Lock()
	s.st.banned = map[string]bool{}
	s.mu.Unlock()
}

// statusWriter records the status and counts body bytes.
type statusWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	key := s.dispatch(sw, r)
	if sw.status == 0 {
		sw.WriteHeader(http.StatusOK)
	}
	s.logf("cbraintest: %s %s -> %d (%d bytes, %s) [%s]", r.Method, r.URL.RequestURI(), sw.status, sw.n, time.Since(start).Round(time.Microsecond), key)
}
