// Package retry is the one retry policy the backends share: jittered
// exponential backoff bounded by a number of attempts and a total time,
// honouring the server's Retry-After. It also has the wrappers that make
// a response body fail loudly (stalled, reset or short) instead of
// ending early as if the object were complete.
//
// The package decides when to wait and when to give up; what is safe to
// retry (which requests are idempotent, which answers are transient) is
// the caller's knowledge and is passed in by the op function.
package retry

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Policy says how often and how long to retry. A zero field takes the
// value of Default(), so Policy{MaxAttempts: 3} is the default policy with
// three attempts.
type Policy struct {
	// Initial is the delay before the second attempt; each later delay is
	// Multiplier times the previous one, up to Max.
	Initial, Max time.Duration
	Multiplier   float64
	// Jitter spreads each delay uniformly over ±Jitter of it (0.5: from
	// half to one and a half times), so that clients that failed together
	// do not come back together. It must be in (0, 1].
	Jitter float64
	// MaxElapsed bounds the whole operation: no attempt starts after it,
	// and no wait is begun that would end after it.
	MaxElapsed time.Duration
	// MaxAttempts counts the first attempt; 1 never retries. A negative
	// value leaves only MaxElapsed as the bound.
	MaxAttempts int

	// For tests: the clock, the sleep (which must return ctx's error if
	// ctx ends first) and the random source in [0, 1). Nil means real.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	Rand  func() float64
}

// Default is the policy the backends start with. Six attempts with these
// delays wait about 6 s in all (at most 9.3 s with jitter) on a dead
// server, so an interactive `ls` fails in seconds; a server that asks for
// longer with Retry-After is waited for up to MaxElapsed.
func Default() Policy {
	return Policy{
		Initial:     200 * time.Millisecond,
		Max:         30 * time.Second,
		Multiplier:  2,
		Jitter:      0.5,
		MaxElapsed:  2 * time.Minute,
		MaxAttempts: 6,
	}
}

// WithDefaults returns p with its zero fields set from Default() and its
// hooks set to the real clock, sleep and random source.
func (p Policy) WithDefaults() Policy {
	d := Default()
	if p.Initial <= 0 {
		p.Initial = d.Initial
	}
	if p.Max <= 0 {
		p.Max = d.Max
	}
	if p.Multiplier < 1 {
		p.Multiplier = d.Multiplier
	}
	if p.Jitter <= 0 || p.Jitter > 1 {
		p.Jitter = d.Jitter
	}
	if p.MaxElapsed <= 0 {
		p.MaxElapsed = d.MaxElapsed
	}
	if p.MaxAttempts == 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.Sleep == nil {
		p.Sleep = Sleep
	}
	if p.Rand == nil {
		p.Rand = rand.Float64
	}
	return p
}

// Sleep waits for d, or returns ctx's error if ctx ends first.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Delay is the wait after the attempt-th attempt (1-based), before
// Retry-After is taken into account.
func (p Policy) Delay(attempt int) time.Duration {
	p = p.WithDefaults()
	d := float64(p.Initial) * math.Pow(p.Multiplier, float64(attempt-1))
	d = min(d, float64(p.Max))
	d *= 1 - p.Jitter + 2*p.Jitter*p.Rand()
	return time.Duration(min(d, float64(p.Max)))
}

// Op is one attempt. attempt counts from 1. It returns err == nil on
// success; otherwise retry says whether another attempt may help (the
// request is idempotent and the failure transient), and retryAfter is the
// server's requested wait (0 if none).
type Op func(attempt int) (retryAfter time.Duration, retry bool, err error)

// Do runs op until it succeeds, fails for good, or the policy gives up.
// A failure op does not want retried is returned unchanged. When the
// policy gives up, or ctx ends while waiting, the last failure is returned
// wrapped in an *Error that says how many attempts were made over how
// long (and wraps ctx's error if that was the reason).
func (p Policy) Do(ctx context.Context, op Op) error {
	p = p.WithDefaults()
	start := p.Now()
	for attempt := 1; ; attempt++ {
		retryAfter, again, err := op(attempt)
		if err == nil || !again {
			return err
		}
		elapsed := p.Now().Sub(start)
		giveUp := func(why string, cause error) error {
			return &Error{Err: err, Attempts: attempt, Elapsed: elapsed, Why: why, Cause: cause}
		}
		if ctx.Err() != nil {
			return giveUp("", context.Cause(ctx))
		}
		if p.MaxAttempts > 0 && attempt >= p.MaxAttempts {
			return giveUp("", nil)
		}
		delay := p.Delay(attempt)
		if retryAfter > 0 {
			delay = max(delay, retryAfter)
		}
		if elapsed+delay > p.MaxElapsed {
			if retryAfter > 0 && retryAfter == delay {
				return giveUp(fmt.Sprintf("the server asked to retry after %s, beyond the %s limit", retryAfter, p.MaxElapsed), nil)
			}
			return giveUp("", nil)
		}
		if serr := p.Sleep(ctx, delay); serr != nil {
			elapsed = p.Now().Sub(start)
			return giveUp("", serr)
		}
	}
}

// Error is a failure after which the policy stopped retrying. It unwraps
// to the last attempt's error (and to Cause, if set), so errors.Is and
// errors.As see the remote's status and sentinel.
type Error struct {
	Err      error         // the last attempt's error
	Attempts int           // how many attempts were made
	Elapsed  time.Duration // from the first attempt to giving up
	Why      string        // a particular reason to stop, may be ""
	Cause    error         // ctx's error if the caller gave up, else nil
}

func (e *Error) Error() string {
	what := "gave up"
	if e.Cause != nil {
		what = "stopped (" + e.Cause.Error() + ")"
	}
	s := "attempts"
	if e.Attempts == 1 {
		s = "attempt"
	}
	msg := fmt.Sprintf("%v (%s after %d %s over %s", e.Err, what, e.Attempts, s, e.Elapsed.Round(time.Millisecond))
	if e.Why != "" {
		msg += ": " + e.Why
	}
	return msg + ")"
}

func (e *Error) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Err, e.Cause}
	}
	return []error{e.Err}
}
