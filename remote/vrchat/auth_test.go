package vrchat_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/filesmount/filesmount/remote"
	"github.com/filesmount/filesmount/remote/vrchat"
	"github.com/filesmount/filesmount/remote/vrchat/vrchattest"
)

// A wrong code is recognised as such under each plausible answer (none
// was recorded), and a right code still works after it.
func TestWrongCodeUnderEachAnswer(t *testing.T) {
	for _, answer := range []int{vrchattest.WrongCode400, vrchattest.WrongCode401, vrchattest.WrongCodeNotVerified} {
		t.Run(fmt.Sprint(answer), func(t *testing.T) {
			srv, err := vrchattest.New(vrchattest.Options{DataDir: t.TempDir(), WrongCodeAnswer: answer})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(srv.Close)
			ctx := context.Background()
			user := srv.AddUser("erin", "pw", "totp")
			totp, _, _ := srv.TwoFactorCodes(user)
			c, _ := vrchat.NewClient(vrchat.Config{URL: srv.URL(), UserAgent: ua})
			if _, err := c.Login(ctx, "erin", "pw"); err != nil {
				t.Fatal(err)
			}
			err = c.Verify2FA(ctx, "totp", "000000")
			if !errors.Is(err, vrchat.ErrWrongCode) || !errors.Is(err, remote.ErrAuth) {
				t.Fatalf("wrong code: %v", err)
			}
			if strings.Contains(err.Error(), "session") || strings.Contains(err.Error(), "filesmount login") {
				t.Errorf("a wrong code is reported as an expired session: %v", err)
			}
			if err := c.Verify2FA(ctx, "totp", totp); err != nil {
				t.Fatalf("right code after a wrong one: %v", err)
			}
			if _, err := c.CurrentUser(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
	// A session that is gone is not a wrong code: no other code can help.
	srv := newServer(t)
	c, _ := vrchat.NewClient(vrchat.Config{URL: srv.URL(), UserAgent: ua})
	if err := c.Verify2FA(context.Background(), "totp", "123456"); err == nil || errors.Is(err, vrchat.ErrWrongCode) {
		t.Errorf("verify without a session: %v", err)
	}
}

// A remembered device's twoFactorAuth cookie lets a Basic login skip 2FA,
// also after the session it came with has ended.
func TestRememberedDeviceSkipsTwoFactor(t *testing.T) {
	srv := newServer(t)
	ctx := context.Background()
	user := srv.AddUser("fay", "pw", "totp")
	_, tfa := srv.NewSession(user)
	srv.ExpireSessions(user)
	c, _ := vrchat.NewClient(vrchat.Config{URL: srv.URL(), UserAgent: ua, Cookies: vrchat.Cookies{TwoFactorAuth: tfa}})
	methods, err := c.Login(ctx, "fay", "pw")
	if err != nil || len(methods) != 0 {
		t.Fatalf("login from a remembered device: %v, asked for %v", err, methods)
	}
	if me, err := c.CurrentUser(ctx); err != nil || me.ID != user {
		t.Fatalf("after login: %+v %v", me, err)
	}
	// Without it, 2FA is asked for.
	c2, _ := vrchat.NewClient(vrchat.Config{URL: srv.URL(), UserAgent: ua})
	if methods, err := c2.Login(ctx, "fay", "pw"); err != nil || len(methods) == 0 {
		t.Fatalf("login from a new device: %v, asked for %v", err, methods)
	}
}
