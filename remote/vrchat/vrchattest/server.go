package vrchattest

import (
	"crypto/rand"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/filesmount/filesmount/internal/faults"
)

// Options configures a Server.
type Options struct {
	// DataDir is where contents are stored (required). Tests pass t.TempDir().
	DataDir string
	// MultipartThreshold is the declared size at or above which a part gets
	// category "multipart" (default 10 MiB; the real threshold is [?], §10).
	MultipartThreshold int64
	// MinPartSize is the S3 minimum for every part but the last, checked
	// at finish (default 5 MiB).
	MinPartSize int64
	// QueuedPolls: after the finish that completes a version, the version
	// reports "queued" for this many GET /file/{id} before "complete"
	// (default 0: complete at once).
	QueuedPolls int
	// Download is where downloads lead (see DownloadMode; default
	// DownloadToStorage).
	Download DownloadMode
	// AssetRefusal, if 401 or 403, refuses downloads of Files that are not
	// images with that status (default 0: served). Real VRChat probably
	// refuses them to a user session, but no answer was ever recorded
	// (real-servers.md, VRChat item 1); see download.go.
	AssetRefusal int
	// AssetRefusedAtRedirect moves that refusal to the place the download
	// redirect leads to.
	AssetRefusedAtRedirect bool
	// RateLockout, RateHammerCount and RateHammerWindow shape the lockout
	// of LockOut (see ratelimit.go); zero values take the defaults.
	RateLockout      time.Duration
	RateHammerCount  int
	RateHammerWindow time.Duration
	// MaxLogins is how many Basic logins (with the right password) a user
	// may do before GET /auth/user answers 429 "Created too many sessions
	// for that user" (default 10; negative: unlimited).
	MaxLogins int
	// URLTTL is the lifetime of pre-signed object URLs (default 1 h). See
	// also SetURLTTL.
	URLTTL time.Duration
	// Logf, if set, receives one line per request.
	Logf func(format string, args ...any)
	// Faults, if set, injects faults into every request on both listeners
	// (see Server.Faults).
	Faults *faults.Injector

	// Answers no recording shows (completion.go); the tests run each.

	// VersionStatusAfterFinish is the version-level status once every
	// entry of a version is finished: VersionComplete, VersionQueued or
	// VersionWaiting. Default: VersionQueued if QueuedPolls > 0 (what
	// QueuedPolls meant before), else VersionComplete.
	VersionStatusAfterFinish string
	// EntryQueuedPolls makes a finished entry report "queued" for this
	// many GET /file/{id} before "complete" (default 0: complete at once).
	EntryQueuedPolls int
	// LargeCategory is the category of entries declared at or above
	// MultipartThreshold: CategoryMultipart (default) or CategoryQueued.
	LargeCategory string
	// WrongCodeAnswer is how a wrong 2FA code is answered (unrecorded,
	// see hVerify2FA): WrongCode400 (default), WrongCode401 or
	// WrongCodeNotVerified (200 {"verified":false}).
	WrongCodeAnswer int
	// ImageAcceptsJPEGAndGIF makes POST /file/image take JPEG and GIF
	// files too. Default: PNG only, as the spec describes the file ("the
	// binary blob of the png file") and as VRCX always sends; whether
	// VRChat takes other formats was never recorded.
	ImageAcceptsJPEGAndGIF bool
}

// Server is a running emulator: the API on one listener, the object store
// on another.
type Server struct {
	opts      Options
	apiSrv    *http.Server
	s3Srv     *http.Server
	apiURL    string // http://127.0.0.1:PORT/api/1
	s3URL     string // http://localhost:PORT2
	secret    []byte // HMAC key of the pre-signed URLs
	closeOnce sync.Once

	mu sync.Mutex // guards st (the whole data model)
	st state

	statsMu sync.Mutex // guards stats (apart from mu so that counting never waits)
	stats   Stats

	// Failure knobs read without taking mu (see faults.go).
	faults     atomic.Pointer[faults.Injector] // nil: no injected faults
	corrupt    atomic.Bool                     // SetCorruptDownloads
	wrongETag  atomic.Bool                     // SetWrongETag
	stayQueued atomic.Bool                     // SetVersionsStayQueued
	entryErr   entryErrors                     // SetEntryError
}

// state is the in-memory database. Guarded by Server.mu.
type state struct {
	users    map[string]*user    // by id
	byName   map[string]*user    // by lower-case username
	sessions map[string]*session // by auth cookie value
	twoFA    map[string]string   // twoFactorAuth cookie value → user id
	files    map[string]*file    // by id
	owned    map[string][]*file  // owner id → Files, oldest first
	objects  map[string]*part    // object key (FileData.fileName) → part
	analysis map[analysisKey]bool

	gen         int64 // makes on-disk names unique
	rateLimited bool
	lockedUntil time.Time   // LockOut: 429 until then (ratelimit.go)
	refusedAt   []time.Time // recent 429s of rate limiting, to spot hammering
	urlTTL      time.Duration
}

// New starts an emulator on two loopback listeners.
func New(opts Options) (*Server, error) {
	if opts.DataDir == "" {
		return nil, errors.New("vrchattest: Options.DataDir is required")
	}
	if opts.MultipartThreshold <= 0 {
		opts.MultipartThreshold = 10 << 20
	}
	if opts.MinPartSize <= 0 {
		opts.MinPartSize = 5 << 20
	}
	if opts.MaxLogins == 0 {
		opts.MaxLogins = 10
	}
	if opts.URLTTL == 0 {
		opts.URLTTL = time.Hour
	}
	opts.completionDefaults()
	if opts.WrongCodeAnswer == 0 {
		opts.WrongCodeAnswer = WrongCode400
	}
	for _, d := range []string{"objects", "parts", "tmp"} {
		if err := os.MkdirAll(filepath.Join(opts.DataDir, d), 0o755); err != nil {
			return nil, err
		}
	}
	apiLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s3Ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		apiLn.Close()
		return nil, err
	}
	s := &Server{opts: opts, secret: make([]byte, 32)}
	rand.Read(s.secret)
	s.st = state{
		users:    map[string]*user{},
		byName:   map[string]*user{},
		sessions: map[string]*session{},
		twoFA:    map[string]string{},
		files:    map[string]*file{},
		owned:    map[string][]*file{},
		objects:  map[string]*part{},
		analysis: map[analysisKey]bool{},
		urlTTL:   opts.URLTTL,
	}
	s.stats.ByRoute = map[string]int64{}
	s.apiURL = "http://" + apiLn.Addr().String() + apiPrefix
	// "localhost", not 127.0.0.1: another host name, so that host-scoped
	// cookies (which ignore ports) are not due there.
	s.s3URL = "http://localhost:" + portOf(s3Ln.Addr())
	s.faults.Store(opts.Faults)
	s.apiSrv = &http.Server{Handler: s.withFaults(s.apiRouteKey, s.apiFaultAnswer, s.serveAPI), ReadHeaderTimeout: 30 * time.Second}
	s.s3Srv = &http.Server{Handler: s.withFaults(s3RouteKey, s.s3FaultAnswer, s.serveS3), ReadHeaderTimeout: 30 * time.Second}
	go s.apiSrv.Serve(apiLn) //nolint:errcheck // ErrServerClosed on Close
	go s.s3Srv.Serve(s3Ln)   //nolint:errcheck
	return s, nil
}

func portOf(a net.Addr) string {
	_, p, _ := net.SplitHostPort(a.String())
	return p
}

// URL is the API base, e.g. "http://127.0.0.1:41234/api/1" (no trailing slash).
func (s *Server) URL() string { return s.apiURL }

// S3URL is the base of the object endpoint, on another host, e.g.
// "http://localhost:41235". Objects are at S3URL()+"/"+Bucket+"/"+key.
func (s *Server) S3URL() string { return s.s3URL }

// Close stops both listeners and closes open connections, so that DataDir
// can be removed afterwards.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.apiSrv.Close()
		s.s3Srv.Close()
	})
}

// SetRateLimited makes every API request (after the User-Agent check)
// answer 429 while on. The object store is not affected.
func (s *Server) SetRateLimited(on bool) {
	s.mu.Lock()
	s.st.rateLimited = on
	s.mu.Unlock()
}

// SetURLTTL changes the lifetime of the pre-signed URLs handed out from
// now on. A negative value makes them expired at once (to test that a
// client asks for a fresh URL).
func (s *Server) SetURLTTL(d time.Duration) {
	s.mu.Lock()
	s.st.urlTTL = d
	s.mu.Unlock()
}

func (s *Server) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf(format, args...)
	}
}

// nextGen returns a fresh number for on-disk names. Caller holds mu.
func (s *Server) nextGenLocked() int64 {
	s.st.gen++
	return s.st.gen
}

// Stats are counters since New or the last ResetStats.
type Stats struct {
	// Requests counts requests to both listeners.
	Requests int64
	// ByRoute counts requests per route, e.g. "GET /files",
	// "GET /file/{id}", "GET /file/{id}/{v}", "GET /file/{id}/{v}/{type}",
	// "PUT /file/{id}/{v}/{type}/start", and on the object store
	// "GET s3", "HEAD s3", "PUT s3", "PUT s3 part". Requests that match no
	// route count as "UNKNOWN" (API) or "UNKNOWN s3".
	ByRoute map[string]int64
	// DownloadBytes counts body bytes sent by the object endpoint.
	DownloadBytes int64
	// CookiesSeenOnS3 counts object-store requests that carried a Cookie
	// header (0 for a correct client).
	CookiesSeenOnS3 int64
	// RateLimited counts API requests refused with 429 by SetRateLimited
	// or LockOut; LockoutsLengthened the bursts of hammering among them
	// (see ratelimit.go; 0 for a client that backs off).
	RateLimited, LockoutsLengthened int64
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
	s.stats = Stats{ByRoute: map[string]int64{}}
	s.statsMu.Unlock()
}

func (s *Server) countRoute(key string) {
	s.statsMu.Lock()
	s.stats.Requests++
	s.stats.ByRoute[key]++
	s.statsMu.Unlock()
}

func (s *Server) countDownload(n int64) {
	s.statsMu.Lock()
	s.stats.DownloadBytes += n
	s.statsMu.Unlock()
}

func (s *Server) countCookieOnS3() {
	s.statsMu.Lock()
	s.stats.CookiesSeenOnS3++
	s.statsMu.Unlock()
}

// statusWriter records the status and the body size. It exposes only
// Write (no ReadFrom), so copies go through bounded buffers.
type statusWriter struct {
	http.ResponseWriter
	status int
	n      int64
	count  func(int64) // optional: adds body bytes to a Stats counter
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
	// Counted before the write (and corrected after a short one), so
	// that a client that has read the last byte already sees it counted.
	if w.count != nil {
		w.count(int64(len(p)))
	}
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	if w.count != nil && n < len(p) {
		w.count(int64(n - len(p)))
	}
	return n, err
}

func (s *Server) logRequest(side string, r *http.Request, sw *statusWriter, key string, start time.Time) {
	if s.opts.Logf == nil {
		return
	}
	st := sw.status
	if st == 0 {
		st = http.StatusOK
	}
	s.logf("vrchattest %s: %s %s -> %d (%d bytes, %s) [%s]", side, r.Method, redactQuery(r.URL.RequestURI()), st, sw.n,
		time.Since(start).Round(time.Microsecond), key)
}

// redactQuery hides pre-signed URL signatures in logs.
func redactQuery(u string) string {
	if i := strings.Index(u, "Signature="); i >= 0 {
		j := strings.IndexByte(u[i:], '&')
		if j < 0 {
			return u[:i] + "Signature=REDACTED"
		}
		return u[:i] + "Signature=REDACTED" + u[i+j:]
	}
	return u
}
