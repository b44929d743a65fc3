package faults

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// payload is a body whose bytes depend on their offset, so that a cut or
// shifted body is noticed.
func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

// bodyHandler serves body with a Content-Length, in 4 KiB flushed writes
// (like a file being streamed).
func bodyHandler(body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		for off := 0; off < len(body); off += 4096 {
			if _, err := w.Write(body[off:min(off+4096, len(body))]); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	})
}

// start serves next wrapped by in on a real TCP listener.
func start(t *testing.T, in *Injector, next http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(in.Wrap(func(r *http.Request) string { return r.Method + " /route" }, next))
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, []byte, error) {
	t.Helper()
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func TestStatusSequenceThenSuccess(t *testing.T) {
	in := New(1)
	in.Add(Rule{Kind: Status, Status: 503, Count: 3})
	srv := start(t, in, bodyHandler([]byte("ok")))
	for i, want := range []int{503, 503, 503, 200, 200} {
		resp, b, err := get(t, nil, srv.URL)
		if err != nil || resp.StatusCode != want {
			t.Fatalf("request %d: %d %q %v, want %d", i, resp.StatusCode, b, err, want)
		}
		if want == 503 && string(b) != `{"error":"Service Unavailable"}` {
			t.Fatalf("503 body %q", b)
		}
		if want == 503 && resp.Header.Get("Retry-After") != "" {
			t.Fatalf("Retry-After without being asked: %q", resp.Header.Get("Retry-After"))
		}
	}
	if st := in.Stats(); st[Status] != 3 || in.Total() != 3 {
		t.Fatalf("stats %v total %d", st, in.Total())
	}
}

func TestStatusRetryAfterAndFormatter(t *testing.T) {
	in := New(1)
	in.Add(Rule{Kind: Status, Status: 429, RetryAfter: "7", Count: 1}, Rule{Kind: Status, Status: 502, Count: 1})
	var gotRoute string
	format := func(w http.ResponseWriter, r *http.Request, route string, status int) {
		gotRoute = route
		w.WriteHeader(status)
		io.WriteString(w, "custom")
	}
	// The upload's body is read before the answer, so the client sees
	// the status rather than a broken pipe.
	srv := httptest.NewServer(in.WrapWith(func(*http.Request) string { return "POST /up" }, format, bodyHandler(nil)))
	defer srv.Close()
	resp, err := http.Post(srv.URL, "application/octet-stream", bytes.NewReader(payload(4<<20)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "7" || string(b) != "custom" || gotRoute != "POST /up" {
		t.Fatalf("got %d Retry-After=%q %q route %q", resp.StatusCode, resp.Header.Get("Retry-After"), b, gotRoute)
	}
	resp, b, _ = get(t, nil, srv.URL)
	if resp.StatusCode != 502 || resp.Header.Get("Retry-After") != "" {
		t.Fatalf("got %d Retry-After=%q %q", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
}

func TestLatency(t *testing.T) {
	in := New(1)
	in.Add(Rule{Kind: Latency, Delay: 150 * time.Millisecond, Count: 1})
	srv := start(t, in, bodyHandler([]byte("ok")))
	t0 := time.Now()
	resp, b, err := get(t, nil, srv.URL)
	if d := time.Since(t0); err != nil || resp.StatusCode != 200 || string(b) != "ok" || d < 150*time.Millisecond {
		t.Fatalf("%d %q %v after %s", resp.StatusCode, b, err, d)
	}
	t0 = time.Now()
	get(t, nil, srv.URL)
	if d := time.Since(t0); d >= 150*time.Millisecond {
		t.Fatalf("second request (count used up) took %s", d)
	}
	if in.Stats()[Latency] != 1 {
		t.Fatalf("stats %v", in.Stats())
	}
}

func TestResetMidBody(t *testing.T) {
	body := payload(1 << 20)
	in := New(1)
	in.Add(Rule{Kind: Reset, After: 10000})
	srv := start(t, in, bodyHandler(body))
	resp, b, err := get(t, nil, srv.URL)
	if resp.StatusCode != 200 || resp.ContentLength != int64(len(body)) {
		t.Fatalf("headers: %d, length %d", resp.StatusCode, resp.ContentLength)
	}
	if !errors.Is(err, syscall.ECONNRESET) || len(b) > 10000 || !bytes.Equal(b, body[:len(b)]) {
		t.Fatalf("read %d bytes, err %v; want at most 10000 then ECONNRESET", len(b), err)
	}
	if in.Stats()[Reset] != 1 {
		t.Fatalf("stats %v", in.Stats())
	}
}

func TestShortBody(t *testing.T) {
	body := payload(100000)
	in := New(1)
	in.Add(Rule{Kind: Short, After: 12345, Count: 1}, Rule{Kind: Short, After: 1 << 30, Count: 1})
	srv := start(t, in, bodyHandler(body))
	resp, b, err := get(t, nil, srv.URL)
	if resp.ContentLength != int64(len(body)) || !errors.Is(err, io.ErrUnexpectedEOF) || !bytes.Equal(b, body[:12345]) {
		t.Fatalf("length %d, read %d, err %v", resp.ContentLength, len(b), err)
	}
	// After beyond the body: capped, one byte is still missing.
	_, b, err = get(t, nil, srv.URL)
	if !errors.Is(err, io.ErrUnexpectedEOF) || len(b) != len(body)-1 {
		t.Fatalf("capped: read %d, err %v", len(b), err)
	}
	// Count used up: whole bodies again.
	if _, b, err = get(t, nil, srv.URL); err != nil || !bytes.Equal(b, body) {
		t.Fatalf("after the faults: %d bytes, %v", len(b), err)
	}
}

func TestShortBodyWithoutContentLength(t *testing.T) {
	// A JSON answer written without Content-Length is buffered so that
	// the headers still announce its full length.
	in := New(1)
	in.Add(Rule{Kind: Short, After: 5})
	srv := start(t, in, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"hello":`)
		io.WriteString(w, `"world"}`)
	}))
	resp, b, err := get(t, nil, srv.URL)
	if resp.ContentLength != 17 || !errors.Is(err, io.ErrUnexpectedEOF) || string(b) != `{"hel` {
		t.Fatalf("length %d, read %q, err %v", resp.ContentLength, b, err)
	}
}

func TestStallUntilClientGivesUp(t *testing.T) {
	body := payload(50000)
	in := New(1)
	in.Add(Rule{Kind: Stall, After: 1000})
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		in.Wrap(nil, bodyHandler(body)).ServeHTTP(w, r)
	}))
	defer srv.Close()
	c := &http.Client{Timeout: 300 * time.Millisecond}
	t0 := time.Now()
	_, b, err := get(t, c, srv.URL)
	if err == nil || len(b) != 1000 || time.Since(t0) < 300*time.Millisecond {
		t.Fatalf("read %d bytes, err %v after %s; want 1000 then a timeout", len(b), err, time.Since(t0))
	}
	t.Logf("client error: %v", err)
	select {
	case <-done: // the stalled handler ended with the client's connection
	case <-time.After(5 * time.Second):
		t.Fatal("the stalled handler did not end after the client left")
	}
}

func TestStallWithDelayThenRest(t *testing.T) {
	body := payload(50000)
	in := New(1)
	in.Add(Rule{Kind: Stall, After: 0, Delay: 200 * time.Millisecond})
	srv := start(t, in, bodyHandler(body))
	t0 := time.Now()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if d := time.Since(t0); d >= 200*time.Millisecond {
		t.Fatalf("headers came after %s: they should precede the stall", d)
	}
	b, err := io.ReadAll(resp.Body)
	if d := time.Since(t0); err != nil || !bytes.Equal(b, body) || d < 200*time.Millisecond {
		t.Fatalf("%d bytes, %v, after %s", len(b), err, d)
	}
}

func TestEmptyBodyAndHeadAreLeftAlone(t *testing.T) {
	in := New(1)
	in.Add(Rule{Kind: Reset})
	srv := start(t, in, bodyHandler(payload(10)))
	resp, err := http.Head(srv.URL)
	if err != nil || resp.StatusCode != 200 || resp.ContentLength != 10 {
		t.Fatalf("HEAD: %v %v", resp, err)
	}
	srv2 := start(t, in, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	resp, b, err := get(t, nil, srv2.URL)
	if err != nil || resp.StatusCode != 204 || len(b) != 0 {
		t.Fatalf("204: %d %q %v", resp.StatusCode, b, err)
	}
	if in.Total() != 0 {
		t.Fatalf("stats %v", in.Stats())
	}
}

// serve runs one request through in without a network (enough for
// status faults).
func serve(in *Injector, method, path string) int {
	h := in.Wrap(func(r *http.Request) string { return r.Method + " /userfiles/:id/content" },
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Code
}

func TestProbabilityIsSeeded(t *testing.T) {
	run := func(seed int64) (pattern []bool, n int) {
		in := New(seed)
		in.Add(Rule{Kind: Status, Status: 500, Probability: 0.3})
		for range 300 {
			f := serve(in, "GET", "/x") == 500
			pattern = append(pattern, f)
			if f {
				n++
			}
		}
		if in.Stats()[Status] != int64(n) {
			panic("stats disagree")
		}
		return pattern, n
	}
	a, n := run(42)
	b, _ := run(42)
	c, _ := run(43)
	if n < 60 || n > 120 {
		t.Fatalf("p=0.3 fired %d times in 300", n)
	}
	eq := func(x, y []bool) bool {
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
		return true
	}
	if !eq(a, b) || eq(a, c) {
		t.Fatal("the same seed must give the same faults, another seed other ones")
	}
}

func TestCountWithProbability(t *testing.T) {
	in := New(7)
	in.Add(Rule{Kind: Status, Status: 500, Probability: 0.5, Count: 5})
	n := 0
	for range 100 {
		if serve(in, "GET", "/x") == 500 {
			n++
		}
	}
	if n != 5 {
		t.Fatalf("fired %d times, want Count=5", n)
	}
}

func TestRouteMatching(t *testing.T) {
	for _, tc := range []struct {
		route, method, path string
		hit                 bool
	}{
		{"", "GET", "/a", true},
		{"/userfiles", "GET", "/userfiles/7/content", true},
		{"GET /userfiles/:id/content", "GET", "/x", true}, // the route key
		{"/userfiles/7/", "GET", "/userfiles/7/content", true},
		{"/userfiles/8/", "GET", "/userfiles/7/content", false},
		{"POST", "GET", "/userfiles/7/content", false},
		{"=GET /userfiles/:id/content", "GET", "/x", true},
		{"=GET /userfiles/:id", "GET", "/x", false},
		{"=GET /userfiles/7/content", "GET", "/userfiles/7/content", true},
		{"userfiles", "GET", "/x", true}, // case-sensitive substring of the key
		{"USERFILES", "GET", "/x", false},
	} {
		in := New(1)
		in.Add(Rule{Kind: Status, Status: 500, Route: tc.route})
		if got := serve(in, tc.method, tc.path) == 500; got != tc.hit {
			t.Errorf("route %q on %s %s: hit %v, want %v", tc.route, tc.method, tc.path, got, tc.hit)
		}
	}
}

func TestOneLatencyAndOneResponseRulePerRequest(t *testing.T) {
	in := New(1)
	in.Add(
		Rule{Kind: Latency, Delay: time.Millisecond, Count: 1},
		Rule{Kind: Latency, Delay: time.Millisecond, Count: 1},
		Rule{Kind: Status, Status: 503, Count: 1},
		Rule{Kind: Status, Status: 500, Count: 1},
	)
	got := []int{serve(in, "GET", "/"), serve(in, "GET", "/"), serve(in, "GET", "/")}
	if got[0] != 503 || got[1] != 500 || got[2] != 200 {
		t.Fatalf("statuses %v, want [503 500 200]: rules apply in order, one per phase", got)
	}
	if st := in.Stats(); st[Latency] != 2 || st[Status] != 2 {
		t.Fatalf("stats %v", st)
	}
	in.Reset()
	if serve(in, "GET", "/") != 200 || in.Total() != 0 || len(in.Rules()) != 0 {
		t.Fatal("Reset must drop rules and statistics")
	}
}

func TestConcurrentCount(t *testing.T) {
	in := New(1)
	in.Add(Rule{Kind: Status, Status: 503, Count: 10})
	var mu sync.Mutex
	n := 0
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if serve(in, "GET", "/") == 503 {
				mu.Lock()
				n++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if n != 10 || in.Total() != 10 {
		t.Fatalf("%d faults (stats %v), want 10", n, in.Stats())
	}
}

func TestNilInjectorAndInvalidRules(t *testing.T) {
	next := http.NotFoundHandler()
	var in *Injector
	if in.Wrap(nil, next) == nil {
		t.Fatal("a nil injector must wrap to next")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Add of an invalid rule must panic")
		}
	}()
	New(1).Add(Rule{Kind: Status, Status: 200})
}

func TestCorrupt(t *testing.T) {
	body := payload(1001)
	got, err := io.ReadAll(Corrupt(bytes.NewReader(body), int64(len(body))))
	if err != nil || len(got) != len(body) {
		t.Fatal(len(got), err)
	}
	for i := range body {
		if (got[i] != body[i]) != (i == 500) {
			t.Fatalf("byte %d: %x vs %x; only byte 500 must differ", i, got[i], body[i])
		}
	}
	// Seeking (as http.ServeContent does for ranges) keeps the offset.
	rs := CorruptSeeker(bytes.NewReader(body), int64(len(body)))
	rs.Seek(498, io.SeekStart)
	p := make([]byte, 4)
	io.ReadFull(rs, p)
	if p[0] != body[498] || p[2] != ^body[500] || p[3] != body[501] {
		t.Fatalf("range 498..501: %x vs %x", p, body[498:502])
	}
}
