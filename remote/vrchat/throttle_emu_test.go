package vrchat_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/filesmount/filesmount/internal/retry"
	"github.com/filesmount/filesmount/remote/vrchat"
	"github.com/filesmount/filesmount/remote/vrchat/vrchattest"
)

// scale runs the rate-limit schedule 20 times faster than the real one,
// so that "the minute after the first 429" takes 3 s.
const scale = 20

// Several readers against an emulator that answers 429 (without
// Retry-After) to everything, at 1/20 of the real schedule: the whole
// remote backs off, so the requests after the first 429 are the lone
// probes of the schedule (at most 5 in the scaled minute, see
// TestBackoffFigureAtRealScale), and never the burst of ~5 retries within
// 6 s that lengthens VRChat's lockout. The bounds hold however slow the
// machine: a slower run only makes fewer requests.
func TestEmulatorLockoutIsNeverHammered(t *testing.T) {
	srv, err := vrchattest.New(vrchattest.Options{DataDir: t.TempDir(), RateHammerWindow: 6 * time.Second / scale})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	user := srv.AddUser("u", "pw")
	id := srv.AddFile(vrchattest.FileSpec{OwnerID: user, Name: "Pic", MimeType: "image/png", Extension: ".png",
		Versions: []vrchattest.VersionSpec{{Content: vrchattest.PNG(4, 4, 1)}}})
	auth, twoFA := srv.NewSession(user)
	c, err := vrchat.NewClient(vrchat.Config{URL: srv.URL(), UserAgent: ua, Cookies: vrchat.Cookies{Auth: auth, TwoFactorAuth: twoFA},
		Throttle: vrchat.ThrottleOptions{BackoffInitial: vrchat.DefaultBackoffInitial / scale, BackoffMax: vrchat.DefaultBackoffMax / scale,
			MaxWait: vrchat.DefaultMaxWait / scale}})
	if err != nil {
		t.Fatal(err)
	}
	p := retry.Default()
	c.Retry = retry.Policy{Initial: p.Initial / scale, Max: p.Max / scale, MaxElapsed: p.MaxElapsed / scale}
	srv.SetRateLimited(true)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	reader := func() {
		defer wg.Done()
		for ctx.Err() == nil {
			c.File(ctx, id)
		}
	}
	const readers = 8
	wg.Add(1)
	go reader() // alone, so that no request is in flight when the first 429 comes
	deadline := time.Now().Add(30 * time.Second)
	for srv.Stats().RateLimited == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no 429 in 30 s")
		}
		time.Sleep(time.Millisecond)
	}
	first := time.Now()
	// The others start once the client has the 429, not merely once the
	// emulator sent it: a request they sent before would be in flight
	// when the closure came (on a loaded machine, 7 of them: that is
	// hammering, but the test's, not the client's).
	for !c.BackingOff() {
		if time.Now().After(deadline) {
			t.Fatal("the client never backed off")
		}
		time.Sleep(time.Millisecond)
	}
	wg.Add(readers - 1)
	for i := 1; i < readers; i++ {
		go reader()
	}
	time.Sleep(time.Until(first.Add(time.Minute / scale)))
	st := srv.Stats()
	cancel()
	after := st.RateLimited - 1
	if after < 1 || after > 5 {
		t.Errorf("%d requests in the scaled minute after the first 429, want 1 to 5 (the probes)", after)
	}
	if st.Requests != st.RateLimited {
		t.Errorf("%d requests, %d refused with 429: something got through", st.Requests, st.RateLimited)
	}
	if st.LockoutsLengthened != 0 {
		t.Errorf("the lockout was lengthened %d times: the client hammered", st.LockoutsLengthened)
	}
	if n := srv.Logins(user); n != 0 {
		t.Errorf("%d logins", n)
	}
	t.Logf("%d readers, schedule at 1/%d: %d requests in the scaled minute after the first 429; lockout lengthened %d times",
		readers, scale, after, st.LockoutsLengthened)
}
