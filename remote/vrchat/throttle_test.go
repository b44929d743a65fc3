package vrchat

import (
	"container/heap"
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/filesmount/filesmount/internal/retry"
)

func newBackoff(r func() float64) *backoff {
	o := ThrottleOptions{}.withDefaults()
	return &backoff{initial: o.BackoffInitial, max: o.BackoffMax, jitter: o.Jitter, rand: r}
}

func half() float64 { return 0.5 } // no jitter: the spread's middle

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// A 429 closes the remote for 2 s, then 4, 8, ... up to 5 min; after each
// closure one probe goes alone; any other answer to it reopens the remote
// and starts the back-off afresh.
func TestBackoffSchedule(t *testing.T) {
	b := newBackoff(half)
	now := t0
	tk, wait := b.admit(now)
	if wait != 0 || tk.probe {
		t.Fatalf("open remote: wait %v probe %v", wait, tk.probe)
	}
	var want []time.Duration
	for d := 2 * time.Second; len(want) < 12; d = min(2*d, 5*time.Minute) {
		want = append(want, d)
	}
	for i, d := range want {
		if !b.settle(now, tk, throttled, 0, false) {
			t.Fatalf("429 #%d did not close the remote", i+1)
		}
		if _, w := b.admit(now); w != d {
			t.Fatalf("closure #%d: %v, want %v", i+1, w, d)
		}
		if _, w := b.admit(now.Add(d - time.Millisecond)); w != time.Millisecond {
			t.Fatalf("closure #%d still closed 1 ms before its end: wait %v", i+1, w)
		}
		now = now.Add(d)
		if tk, wait = b.admit(now); wait != 0 || !tk.probe {
			t.Fatalf("after closure #%d: wait %v probe %v, want the probe", i+1, wait, tk.probe)
		}
		if _, w := b.admit(now); w >= 0 {
			t.Fatalf("a second request went beside the probe (wait %v)", w)
		}
	}
	// The probe is answered: open again, and the next 429 starts at 2 s.
	b.settle(now, tk, answered, 0, false)
	if tk2, w := b.admit(now); w != 0 || tk2.probe {
		t.Fatalf("after a good answer: wait %v probe %v", w, tk2.probe)
	}
	tk, _ = b.admit(now)
	b.settle(now, tk, throttled, 0, false)
	if _, w := b.admit(now); w != 2*time.Second {
		t.Fatalf("back-off after a reopening: %v", w)
	}
}

// Each closure is spread over ±25%.
func TestBackoffJitter(t *testing.T) {
	for _, r := range []float64{0, 0.999999} {
		b := newBackoff(func() float64 { return r })
		tk, _ := b.admit(t0)
		b.settle(t0, tk, throttled, 0, false)
		_, w := b.admit(t0)
		lo, hi := 1500*time.Millisecond, 2500*time.Millisecond
		if w < lo || w > hi {
			t.Errorf("rand %v: closure %v outside [%v, %v]", r, w, lo, hi)
		}
	}
}

// 429s to requests sent before the closure (several readers hit at once)
// do not lengthen it; a network failure of the probe hands the probe on.
func TestStale429DoesNotLengthen(t *testing.T) {
	b := newBackoff(half)
	var tks []ticket
	for i := 0; i < 8; i++ {
		tk, _ := b.admit(t0)
		tks = append(tks, tk)
	}
	for i, tk := range tks {
		closed := b.settle(t0.Add(time.Duration(i)*time.Millisecond), tk, throttled, 0, false)
		if closed != (i == 0) {
			t.Fatalf("429 #%d closed the remote: %v", i+1, closed)
		}
	}
	if _, w := b.admit(t0); w != 2*time.Second {
		t.Fatalf("closure %v, want 2s", w)
	}
	now := t0.Add(2 * time.Second)
	probe, _ := b.admit(now)
	b.settle(now, probe, unsent, 0, false)
	if tk, w := b.admit(now); w != 0 || !tk.probe {
		t.Fatalf("after the probe failed to reach the server: wait %v probe %v", w, tk.probe)
	}
}

// A Retry-After, if VRChat ever sends one, is the closure itself.
func TestRetryAfterIsTheClosure(t *testing.T) {
	b := newBackoff(half)
	tk, _ := b.admit(t0)
	b.settle(t0, tk, throttled, 7*time.Second, true)
	if _, w := b.admit(t0); w != 7*time.Second {
		t.Fatalf("closure %v, want 7s", w)
	}
}

// simEvent is one event of the simulation below.
type simEvent struct {
	at     time.Time
	seq    int
	reader int
	answer bool // the reader's request is answered (else: it tries to send)
	tk     ticket
}

type simQueue []simEvent

func (q simQueue) Len() int { return len(q) }
func (q simQueue) Less(i, j int) bool {
	return q[i].at.Before(q[j].at) || (q[i].at.Equal(q[j].at) && q[i].seq < q[j].seq)
}
func (q simQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *simQueue) Push(x any)   { *q = append(*q, x.(simEvent)) }
func (q *simQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// simulateAll429 runs the real back-off state machine with its default
// options on a simulated clock: readers request without pause against an
// API that answers 429 to everything, each answer taking latency. A
// reader retries a 429 after the client's own retry delay, waits for the
// remote to reopen or for the probe's answer, gives up when the wait
// would pass MaxWait (and, being a program reading in a loop, asks again
// 10 ms later). It returns the times of the requests sent after the
// client received the first 429, relative to it.
func simulateAll429(readers int, seed uint64, horizon time.Duration) []time.Duration {
	rng := rand.New(rand.NewPCG(seed, 1))
	jitterRand := rand.New(rand.NewPCG(seed, 2)) // the back-off's own draws, the same whatever the readers
	o := ThrottleOptions{}.withDefaults()
	b := &backoff{initial: o.BackoffInitial, max: o.BackoffMax, jitter: o.Jitter, rand: jitterRand.Float64}
	policy := retry.Default()
	policy.Rand = rng.Float64
	const latency = 20 * time.Millisecond
	q := &simQueue{}
	seq := 0
	push := func(e simEvent) { seq++; e.seq = seq; heap.Push(q, e) }
	waitStart := make([]time.Time, readers) // start of the current wait, for MaxWait
	attempt := make([]int, readers)
	var probeWaiters []int
	var first429 time.Time
	var sends []time.Duration
	for r := 0; r < readers; r++ {
		push(simEvent{at: t0, reader: r})
	}
	for q.Len() > 0 {
		e := heap.Pop(q).(simEvent)
		if !first429.IsZero() && e.at.Sub(first429) > horizon {
			break
		}
		r := e.reader
		if e.answer {
			b.settle(e.at, e.tk, throttled, 0, false)
			if first429.IsZero() {
				first429 = e.at
			}
			if e.tk.probe {
				for _, w := range probeWaiters {
					push(simEvent{at: e.at, reader: w})
				}
				probeWaiters = nil
			}
			// The client's retry policy: wait, then through the throttle again.
			attempt[r]++
			if attempt[r] >= policy.MaxAttempts {
				attempt[r] = 0
				push(simEvent{at: e.at.Add(10 * time.Millisecond), reader: r})
			} else {
				push(simEvent{at: e.at.Add(policy.Delay(attempt[r])), reader: r})
			}
			waitStart[r] = time.Time{}
			continue
		}
		if waitStart[r].IsZero() {
			waitStart[r] = e.at
		}
		tk, wait := b.admit(e.at)
		left := o.MaxWait - e.at.Sub(waitStart[r])
		switch {
		case wait == 0:
			if !first429.IsZero() {
				sends = append(sends, e.at.Sub(first429))
			}
			push(simEvent{at: e.at.Add(latency), reader: r, answer: true, tk: tk})
		case wait > left || left <= 0: // gives up, and the program reads again
			waitStart[r], attempt[r] = time.Time{}, 0
			push(simEvent{at: e.at.Add(10 * time.Millisecond), reader: r})
		case wait < 0:
			probeWaiters = append(probeWaiters, r)
		default:
			push(simEvent{at: e.at.Add(wait), reader: r})
		}
	}
	return sends
}

// TestBackoffFigureAtRealScale computes the figure of issue 11: against an
// API answering 429 to everything, how many requests the client makes in
// the minute after the first 429, at the real schedule (2 s doubling, ±25%)
// and whatever the number of readers.
func TestBackoffFigureAtRealScale(t *testing.T) {
	lo, hi := 1<<30, 0
	for seed := uint64(1); seed <= 500; seed++ {
		var counts []int
		for _, readers := range []int{1, 8, 64} {
			sends := simulateAll429(readers, seed, time.Minute)
			counts = append(counts, len(sends))
			for i := 1; i < len(sends); i++ {
				if gap := sends[i] - sends[i-1]; gap < 1500*time.Millisecond {
					t.Fatalf("seed %d, %d readers: requests %v and %v after the first 429 are %v apart", seed, readers, sends[i-1], sends[i], gap)
				}
			}
		}
		if counts[0] != counts[1] || counts[1] != counts[2] {
			t.Fatalf("seed %d: %v requests for 1, 8, 64 readers: the number of readers matters", seed, counts)
		}
		lo, hi = min(lo, counts[0]), max(hi, counts[0])
	}
	// Nominal probes at 2, 6, 14, 30 and 62 s; with ±25% the fifth falls
	// inside the minute when the draws are short.
	if lo != 4 || hi != 5 {
		t.Errorf("requests in the minute after the first 429: %d to %d, want 4 to 5", lo, hi)
	}
	t.Logf("figure: %d to %d requests in the minute after the first 429 (%d to %d counting it), whatever the number of readers (1, 8, 64; 500 seeds)", lo, hi, lo+1, hi+1)
}

// virtualClock is a clock that moves only when the one goroutine using
// it sleeps.
type virtualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *virtualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *virtualClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return nil
}

// The same figure through the real client (retries, throttle, limiter),
// one reader, on a virtual clock: each request it makes is counted at its
// virtual time. Giving up says it is our own back-off, never that the
// server asked for the wait.
func TestThrottledClientAtRealScale(t *testing.T) {
	vc := &virtualClock{now: t0}
	var mu sync.Mutex
	var at []time.Time
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		at = append(at, vc.Now())
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte(`{"error":{"message":"Too many requests","status_code":429}}`))
	}))
	t.Cleanup(api.Close)
	rng := rand.New(rand.NewPCG(7, 7))
	c, err := NewClient(Config{URL: api.URL, UserAgent: "filesmount/test test@filesmount.test",
		Throttle: ThrottleOptions{Now: vc.Now, Sleep: vc.Sleep, Rand: rng.Float64}})
	if err != nil {
		t.Fatal(err)
	}
	c.Retry.Now, c.Retry.Sleep, c.Retry.Rand = vc.Now, vc.Sleep, rng.Float64
	var lastErr error
	for vc.Now().Sub(t0) < 3*time.Minute {
		_, lastErr = c.File(context.Background(), "file_1")
		if lastErr == nil {
			t.Fatal("a 429 became a success")
		}
		if strings.Contains(lastErr.Error(), "the server asked") {
			t.Fatalf("our own back-off is blamed on the server: %v", lastErr)
		}
		vc.Sleep(context.Background(), 10*time.Millisecond) // the program reads again
	}
	mu.Lock()
	defer mu.Unlock()
	first := at[0]
	n := 0
	for _, a := range at[1:] {
		if a.Sub(first) <= time.Minute {
			n++
		}
	}
	if n < 4 || n > 5 {
		t.Errorf("%d requests in the minute after the first 429, want 4 or 5 (all at: %v)", n, at)
	}
	// Past a minute the back-off outlasts MaxWait: requests give up at once.
	c2 := lastErr.Error()
	if !strings.Contains(c2, "holds back every request") && !strings.Contains(c2, "gave up") {
		t.Errorf("last failure: %v", lastErr)
	}
	t.Logf("real client, 1 reader, virtual clock: %d requests in the minute after the first 429; %d in 3 minutes; last error: %v", n, len(at)-1, lastErr)
}

// probeServer answers the first request 429, holds the second (the
// probe) until release is closed, and answers the rest with a File.
type probeServer struct {
	mu         sync.Mutex
	n          int
	duringHold int // requests that arrived while the probe was held
	held       bool
	probeIn    chan struct{}
	release    chan struct{}
}

func (p *probeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.n++
	n := p.n
	if p.held {
		p.duringHold++
	}
	if n == 2 {
		p.held = true
	}
	p.mu.Unlock()
	switch n {
	case 1:
		w.WriteHeader(http.StatusTooManyRequests)
		return
	case 2:
		close(p.probeIn)
		<-p.release
		p.mu.Lock()
		p.held = false
		p.mu.Unlock()
	}
	w.Write([]byte(`{"id":"file_1","name":"P","versions":[{"version":0,"status":"complete"}]}`))
}

func probeClient(t *testing.T, maxWait time.Duration) (*Client, *probeServer) {
	t.Helper()
	p := &probeServer{probeIn: make(chan struct{}), release: make(chan struct{})}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		select {
		case <-p.release:
		default:
			close(p.release)
		}
	})
	c, err := NewClient(Config{URL: srv.URL, UserAgent: "filesmount/test test@filesmount.test",
		Throttle: ThrottleOptions{BackoffInitial: 10 * time.Millisecond, MaxWait: maxWait}})
	if err != nil {
		t.Fatal(err)
	}
	c.Retry = retry.Policy{Initial: time.Millisecond, Max: 5 * time.Millisecond, MaxAttempts: 4, MaxElapsed: time.Minute}
	return c, p
}

// After a closure, the probe goes alone: the other readers wait for its
// answer, then go.
func TestProbeGoesAlone(t *testing.T) {
	c, p := probeClient(t, time.Minute)
	errs := make(chan error, 6)
	go func() { _, err := c.File(context.Background(), "file_1"); errs <- err }()
	<-p.probeIn // the first reader's retry is the probe, held by the server
	for i := 0; i < 5; i++ {
		go func() { _, err := c.File(context.Background(), "file_1"); errs <- err }()
	}
	// Nothing may reach the server while the probe is out; give the
	// others time to try (a wrong throttle would send at once).
	time.Sleep(200 * time.Millisecond)
	close(p.release)
	for i := 0; i < 6; i++ {
		if err := <-errs; err != nil {
			t.Errorf("reader: %v", err)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.duringHold != 0 || p.n != 7 {
		t.Errorf("%d requests arrived beside the probe; %d in all, want 7", p.duringHold, p.n)
	}
}

// A reader that waits for the probe longer than MaxWait gives up with our
// own reason, never the server's.
func TestProbeWaitIsBounded(t *testing.T) {
	c, p := probeClient(t, 100*time.Millisecond)
	go c.File(context.Background(), "file_1")
	<-p.probeIn
	_, err := c.File(context.Background(), "file_1")
	if err == nil || !strings.Contains(err.Error(), "sends one request alone") || strings.Contains(err.Error(), "the server asked") {
		t.Errorf("err = %v", err)
	}
}
