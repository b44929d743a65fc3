package retry

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// fake is a clock that sleeps instantly and records the waits.
type fake struct {
	now    time.Time
	sleeps []time.Duration
}

func (f *fake) policy(p Policy, r float64) Policy {
	p.Now = func() time.Time { return f.now }
	p.Sleep = func(ctx context.Context, d time.Duration) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		f.sleeps = append(f.sleeps, d)
		f.now = f.now.Add(d)
		return nil
	}
	p.Rand = func() float64 { return r }
	return p
}

var errBusy = errors.New("busy")

func failing(retryAfter time.Duration) Op {
	return func(int) (time.Duration, bool, error) { return retryAfter, true, errBusy }
}

func TestBackoffGrowsToMax(t *testing.T) {
	f := &fake{now: time.Unix(0, 0)}
	p := f.policy(Policy{Initial: 100 * time.Millisecond, Max: time.Second, MaxAttempts: 7, MaxElapsed: time.Hour}, 0.5)
	err := p.Do(context.Background(), failing(0))
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i := range want {
		want[i] *= time.Millisecond
	}
	if !equal(f.sleeps, want) {
		t.Errorf("sleeps %v, want %v", f.sleeps, want)
	}
	var re *Error
	if !errors.As(err, &re) || re.Attempts != 7 || !errors.Is(err, errBusy) ||
		!strings.Contains(err.Error(), "gave up after 7 attempts over 3.5s") {
		t.Errorf("err = %v", err)
	}
}

func TestJitterBounds(t *testing.T) {
	p := Policy{Initial: time.Second, Max: 10 * time.Second, Jitter: 0.5}
	for _, c := range []struct {
		r       float64
		attempt int
		want    time.Duration
	}{
		{0, 1, 500 * time.Millisecond},
		{0.999999, 1, 1499999 * time.Microsecond},
		{0, 3, 2 * time.Second},
		{0.999999, 5, 10 * time.Second}, // 16 s capped, jittered up, capped again
		{0, 5, 5 * time.Second},
	} {
		p.Rand = func() float64 { return c.r }
		if got := p.Delay(c.attempt); got.Round(time.Microsecond) != c.want {
			t.Errorf("Delay(%d) with rand %v = %v, want %v", c.attempt, c.r, got, c.want)
		}
	}
	// Real randomness stays within ±50%.
	p.Rand = nil
	for range 1000 {
		if d := p.Delay(2); d < time.Second || d > 3*time.Second {
			t.Fatalf("Delay(2) = %v, outside [1s, 3s]", d)
		}
	}
}

func TestMaxElapsedBoundsTheWhole(t *testing.T) {
	f := &fake{now: time.Unix(0, 0)}
	p := f.policy(Policy{Initial: time.Second, Max: time.Minute, MaxElapsed: 5 * time.Second, MaxAttempts: -1}, 0.5)
	err := p.Do(context.Background(), failing(0))
	// 1 s, 2 s; the next wait (4 s) would end after 5 s: give up now.
	if !equal(f.sleeps, []time.Duration{time.Second, 2 * time.Second}) || !strings.Contains(err.Error(), "3 attempts over 3s") {
		t.Errorf("sleeps %v, err %v", f.sleeps, err)
	}
}

func TestRetryAfterHonouredAndCapped(t *testing.T) {
	f := &fake{now: time.Unix(0, 0)}
	p := f.policy(Policy{Initial: 10 * time.Millisecond, MaxAttempts: 3, MaxElapsed: time.Minute}, 0.5)
	n := 0
	err := p.Do(context.Background(), func(attempt int) (time.Duration, bool, error) {
		n = attempt
		if attempt == 1 {
			return 7 * time.Second, true, errBusy // longer than the backoff: wait that long
		}
		return 0, false, nil
	})
	if err != nil || n != 2 || !equal(f.sleeps, []time.Duration{7 * time.Second}) {
		t.Errorf("err %v, attempts %d, sleeps %v", err, n, f.sleeps)
	}

	f = &fake{now: time.Unix(0, 0)}
	p = f.policy(p, 0.5)
	err = p.Do(context.Background(), failing(time.Hour))
	if len(f.sleeps) != 0 || !errors.Is(err, errBusy) || !strings.Contains(err.Error(), "asked to retry after 1h0m0s, beyond the 1m0s limit") {
		t.Errorf("an hour's Retry-After: sleeps %v, err %v", f.sleeps, err)
	}
}

func TestNotRetriedIsReturnedUnchanged(t *testing.T) {
	calls := 0
	err := Policy{}.Do(context.Background(), func(int) (time.Duration, bool, error) {
		calls++
		return 0, false, errBusy
	})
	if err != errBusy || calls != 1 {
		t.Errorf("err %v after %d calls", err, calls)
	}
	calls = 0
	err = Policy{Initial: time.Millisecond}.Do(context.Background(), func(attempt int) (time.Duration, bool, error) {
		calls++
		if attempt < 3 {
			return 0, true, errBusy
		}
		return 0, false, nil
	})
	if err != nil || calls != 3 {
		t.Errorf("err %v after %d calls", err, calls)
	}
}

func TestContextCancelStopsWaiting(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	err := Policy{Initial: time.Hour, MaxElapsed: 2 * time.Hour}.Do(ctx, failing(0))
	if time.Since(start) > time.Second || !errors.Is(err, context.Canceled) || !errors.Is(err, errBusy) ||
		!strings.Contains(err.Error(), "stopped (context canceled) after 1 attempt") {
		t.Errorf("after %v: %v", time.Since(start), err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for h, want := range map[string]time.Duration{
		"120":                              2 * time.Minute,
		" 0 ":                              0,
		"Thu, 02 Jan 2025 03:05:05 GMT":    time.Minute,
		"Thu, 02 Jan 2025 03:00:00 GMT":    0, // in the past
		"Thursday, 02-Jan-25 03:04:15 GMT": 10 * time.Second,
	} {
		if got, ok := ParseRetryAfter(h, now); !ok || got != want {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v", h, got, ok, want)
		}
	}
	for _, h := range []string{"", "soon", "-5", "1.5"} {
		if _, ok := ParseRetryAfter(h, now); ok {
			t.Errorf("ParseRetryAfter(%q) accepted", h)
		}
	}
	if d, ok := ParseRetryAfter("99999999999999999", now); !ok || d <= 1000*time.Hour {
		t.Errorf("huge value: %v %v", d, ok)
	}
}

func equal(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
