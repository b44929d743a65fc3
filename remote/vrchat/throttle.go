package vrchat

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/filesmount/filesmount/internal/retry"
	"github.com/filesmount/filesmount/remote"
)

// Rate limits. VRChat publishes no numbers, answers 429 without
// Retry-After, and asks clients to back off rather than retry; a GET
// retried about five times within six seconds can lengthen a lockout
// (shared/reference/real-servers.md, VRChat item 3;
// vrchat-files-api.md §1.3, from VRChat's Creator Guidelines). So every
// request to the API host goes through one throttle per remote:
//
//   - a token bucket (golang.org/x/time/rate) caps the steady rate;
//   - a 429 closes the whole remote, not only the request that got it:
//     nothing is sent until the back-off ends, which starts at 2 s and
//     doubles on every further 429 up to 5 min, each spread by ±25%;
//   - when a back-off ends, one request (the probe) goes alone; the others
//     wait for its answer. A 429 closes the remote again, for longer; any
//     other answer reopens it and ends the back-off.
//
// A 429 answered to a request sent before the latest closure does not
// lengthen it: that request was already counted by the closure. The
// throttle never resends anything itself: a request refused with 429 is
// retried only if it is idempotent (see Client.do), and then through the
// throttle again. Storage hosts are not throttled: they are not VRChat's
// API and have their own limits.

// ThrottleOptions tunes the throttle of one remote. Zero fields take the
// defaults.
type ThrottleOptions struct {
	// Rate is the steady request rate on the API host (default 5 per
	// second); Burst how many may go at once after a quiet time (default
	// 10). rate.Inf disables the cap (not the back-off).
	Rate  rate.Limit
	Burst int
	// BackoffInitial is the first closure after a 429 (default 2 s);
	// each further 429 doubles it, up to BackoffMax (default 5 min).
	// Jitter spreads each closure over ±Jitter of it (default 0.25).
	BackoffInitial, BackoffMax time.Duration
	Jitter                     float64
	// MaxWait is the longest one attempt waits for the remote to reopen
	// (default 1 min): a request that would wait longer fails at once
	// with remote.ErrUnavailable, so that a read does not hang for the
	// minutes a long back-off lasts.
	MaxWait time.Duration

	// For tests: the clock, the sleep (which must return early with
	// ctx's error when ctx ends) and the random source in [0, 1). Nil
	// means real.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	Rand  func() float64
}

// Defaults of ThrottleOptions.
const (
	DefaultRate           = 5
	DefaultBurst          = 10
	DefaultBackoffInitial = 2 * time.Second
	DefaultBackoffMax     = 5 * time.Minute
	DefaultBackoffJitter  = 0.25
	DefaultMaxWait        = time.Minute
)

func (o ThrottleOptions) withDefaults() ThrottleOptions {
	if o.Rate <= 0 {
		o.Rate = DefaultRate
	}
	if o.Burst <= 0 {
		o.Burst = DefaultBurst
	}
	if o.BackoffInitial <= 0 {
		o.BackoffInitial = DefaultBackoffInitial
	}
	if o.BackoffMax < o.BackoffInitial {
		o.BackoffMax = max(DefaultBackoffMax, o.BackoffInitial)
	}
	if o.Jitter <= 0 || o.Jitter >= 1 {
		o.Jitter = DefaultBackoffJitter
	}
	if o.MaxWait <= 0 {
		o.MaxWait = DefaultMaxWait
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = retry.Sleep
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	return o
}

// backoff is the remote-wide back-off as a pure state machine: no clock,
// no blocking (the caller passes the time and holds throttle.mu), so that
// its schedule can be computed at real scale in a test.
type backoff struct {
	initial, max time.Duration
	jitter       float64
	rand         func() float64

	limited bool          // a 429 came, and no answer since the closure it caused
	delay   time.Duration // the last closure before jitter (0 while not limited)
	until   time.Time     // nothing is sent before this
	epoch   uint64        // counts closures
	probing bool          // the lone request after a closure is out
}

// ticket is what admit hands a request that may go: settle needs it back.
type ticket struct {
	epoch uint64
	probe bool
}

// admit decides for a request at now: go (with its ticket), or wait
// (wait > 0: until the closure ends; wait < 0: until the probe out now is
// answered).
func (b *backoff) admit(now time.Time) (tk ticket, wait time.Duration) {
	switch {
	case now.Before(b.until):
		return ticket{}, b.until.Sub(now)
	case b.limited && b.probing:
		return ticket{}, -1
	case b.limited:
		b.probing = true
		return ticket{epoch: b.epoch, probe: true}, 0
	}
	return ticket{epoch: b.epoch}, 0
}

// outcome of a request, for settle.
type outcome int

const (
	unsent    outcome = iota // not sent after all, or no answer came (network error)
	answered                 // any answer but 429
	throttled                // 429
)

// settle records the outcome of a request admitted with tk. retryAfter
// is the 429's Retry-After (ok false: none, VRChat's usual answer).
// It reports whether this answer closed the remote.
func (b *backoff) settle(now time.Time, tk ticket, o outcome, retryAfter time.Duration, hasRetryAfter bool) bool {
	if tk.probe {
		b.probing = false
	}
	current := tk.epoch == b.epoch
	switch o {
	case answered:
		if current {
			b.limited, b.delay = false, 0
		}
	case throttled:
		if !current {
			return false // sent before the latest closure, which already counts it
		}
		b.limited = true
		b.epoch++
		if hasRetryAfter {
			// The server's own word: no doubling.
			b.until = maxTime(b.until, now.Add(retryAfter))
			return true
		}
		if b.delay == 0 {
			b.delay = b.initial
		} else {
			b.delay = min(2*b.delay, b.max)
		}
		spread := 1 - b.jitter + 2*b.jitter*b.rand()
		b.until = now.Add(time.Duration(float64(b.delay) * spread))
		return true
	}
	return false
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// throttle is one remote's limiter and back-off.
type throttle struct {
	o   ThrottleOptions // with defaults
	lim *rate.Limiter   // safe for concurrent use

	mu      sync.Mutex // protects b and changed
	b       backoff
	changed chan struct{} // closed and replaced when a probe is settled
}

func newThrottle(o ThrottleOptions) *throttle {
	o = o.withDefaults()
	return &throttle{o: o, lim: rate.NewLimiter(o.Rate, o.Burst),
		b:       backoff{initial: o.BackoffInitial, max: o.BackoffMax, jitter: o.Jitter, rand: o.Rand},
		changed: make(chan struct{})}
}

// backingOffError is the failure of a request that gave up because the
// remote-wide back-off would keep it waiting too long. The wait is this
// client's own, not one the server asked for, and the message says so.
type backingOffError struct {
	op     string
	until  time.Time
	left   time.Duration
	budget time.Duration
	probe  bool // it waited for the lone request after a closure to be answered
}

func (e *backingOffError) Error() string {
	if e.probe {
		return fmt.Sprintf("vrchat: %s: VRChat answered 429 (too many requests), and this client sends one request alone "+
			"before the others; its answer took longer than a request waits (%s)", e.op, e.budget)
	}
	return fmt.Sprintf("vrchat: %s: VRChat answered 429 (too many requests) without saying for how long, so this client "+
		"holds back every request to it until %s (%s more), longer than a request waits (%s)",
		e.op, e.until.Format("15:04:05"), e.left.Round(time.Second), e.budget)
}

func (e *backingOffError) Unwrap() error { return remote.ErrUnavailable }

// wait blocks until a request may go to the API host: the remote is open
// (or this request is the probe) and the limiter has a token for it.
func (t *throttle) wait(ctx context.Context, op string) (ticket, error) {
	start := t.o.Now()
	for {
		tk, err := t.gate(ctx, op, start)
		if err != nil {
			return ticket{}, err
		}
		if err := t.limit(ctx); err != nil {
			t.settle(tk, nil, nil)
			return ticket{}, err
		}
		// A closure while this request waited for its token: it must not
		// go now after all.
		t.mu.Lock()
		stale := tk.epoch != t.b.epoch || t.o.Now().Before(t.b.until)
		t.mu.Unlock()
		if !stale {
			return tk, nil
		}
		t.settle(tk, nil, nil)
	}
}

// gate waits until the back-off admits a request, for at most MaxWait
// from start.
func (t *throttle) gate(ctx context.Context, op string, start time.Time) (ticket, error) {
	for {
		t.mu.Lock()
		now := t.o.Now()
		tk, wait := t.b.admit(now)
		until, changed := t.b.until, t.changed
		t.mu.Unlock()
		if wait == 0 {
			return tk, nil
		}
		left := t.o.MaxWait - now.Sub(start)
		if wait > 0 && wait > left {
			return ticket{}, &backingOffError{op: op, until: until, left: wait, budget: t.o.MaxWait}
		}
		if left <= 0 {
			return ticket{}, &backingOffError{op: op, budget: t.o.MaxWait, probe: true}
		}
		if wait < 0 {
			// Waiting for the probe's answer, which wakes us through
			// changed, or for the budget to run out.
			wctx, cancel := context.WithCancel(ctx)
			stop := make(chan struct{})
			go func() {
				select {
				case <-changed:
					cancel()
				case <-stop:
				}
			}()
			err := t.o.Sleep(wctx, left)
			close(stop)
			cancel()
			if ctx.Err() != nil {
				return ticket{}, ctx.Err()
			}
			_ = err // woken by the probe's answer, or the budget ran out: look again
			continue
		}
		if err := t.o.Sleep(ctx, wait); err != nil {
			return ticket{}, err
		}
	}
}

// limit takes a token from the limiter, waiting on the throttle's clock.
func (t *throttle) limit(ctx context.Context) error {
	if t.o.Rate == rate.Inf {
		return nil
	}
	now := t.o.Now()
	r := t.lim.ReserveN(now, 1)
	if !r.OK() {
		return fmt.Errorf("vrchat: request rate limiter refused a request: %w", remote.ErrUnavailable)
	}
	if d := r.DelayFrom(now); d > 0 {
		if err := t.o.Sleep(ctx, d); err != nil {
			r.CancelAt(t.o.Now())
			return err
		}
	}
	return nil
}

// settle records what became of a request sent with tk: resp is its
// answer, err the failure if no answer came (both nil: it was not sent).
func (t *throttle) settle(tk ticket, resp *http.Response, err error) {
	o := unsent
	var ra time.Duration
	var hasRA bool
	switch {
	case resp != nil && resp.StatusCode == http.StatusTooManyRequests:
		o = throttled
		ra, hasRA = retry.ParseRetryAfter(resp.Header.Get("Retry-After"), t.o.Now())
	case resp != nil:
		o = answered
	}
	t.mu.Lock()
	t.b.settle(t.o.Now(), tk, o, ra, hasRA)
	if tk.probe {
		close(t.changed)
		t.changed = make(chan struct{})
	}
	t.mu.Unlock()
}
