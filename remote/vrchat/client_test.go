package vrchat_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/filesmount/filesmount/remote"
	"github.com/filesmount/filesmount/remote/vrchat"
	"github.com/filesmount/filesmount/remote/vrchat/vrchattest"
)

const ua = "filesmount/test tests@filesmount.test"

func newServer(t *testing.T) *vrchattest.Server {
	t.Helper()
	srv, err := vrchattest.New(vrchattest.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

func TestLoginWithEachSecondFactor(t *testing.T) {
	srv := newServer(t)
	ctx := context.Background()
	user := srv.AddUser("Ann Smith", "p:ss%word", "totp", "otp")
	totp, recovery, _ := srv.TwoFactorCodes(user)
	emailUser := srv.AddUser("bob@lab.org", "pw", "emailOtp")
	_, _, email := srv.TwoFactorCodes(emailUser)

	for _, tc := range []struct{ name, user, pass, method, code string }{
		{"totp", "Ann Smith", "p:ss%word", "totp", totp},
		{"recovery", "Ann Smith", "p:ss%word", "otp", recovery},
		{"email", "bob@lab.org", "pw", "emailOtp", email},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := vrchat.NewClient(vrchat.Config{URL: srv.URL(), UserAgent: ua})
			if err != nil {
				t.Fatal(err)
			}
			methods, err := c.Login(ctx, tc.user, tc.pass)
			if err != nil {
				t.Fatal(err)
			}
			if len(methods) == 0 {
				t.Fatal("no second factor requested")
			}
			// Before verification the session cannot be used.
			if _, err := c.CurrentUser(ctx); !errors.Is(err, remote.ErrAuth) {
				t.Errorf("before verifying: %v", err)
			}
			if err := c.Verify2FA(ctx, tc.method, "000000"); err == nil {
				t.Error("a wrong code was accepted")
			}
			if err := c.Verify2FA(ctx, tc.method, tc.code); err != nil {
				t.Fatal(err)
			}
			me, err := c.CurrentUser(ctx)
			if err != nil || me.ID == "" {
				t.Fatalf("after verifying: %+v, %v", me, err)
			}
			k := c.Cookies()
			if k.Auth == "" || k.TwoFactorAuth == "" {
				t.Errorf("cookies %+v", k)
			}
			// The saved cookies alone make a working session.
			c2, _ := vrchat.NewClient(vrchat.Config{URL: srv.URL(), UserAgent: ua, Cookies: k})
			if _, err := c2.CurrentUser(ctx); err != nil {
				t.Errorf("reusing cookies: %v", err)
			}
		})
	}
	c, _ := vrchat.NewClient(vrchat.Config{URL: srv.URL(), UserAgent: ua})
	if _, err := c.Login(ctx, "Ann Smith", "wrong"); !errors.Is(err, remote.ErrAuth) || !strings.Contains(err.Error(), "login refused") {
		t.Errorf("wrong password: %v", err)
	}
}

func TestExpiredSessionAndUserAgent(t *testing.T) {
	srv := newServer(t)
	ctx := context.Background()
	user := srv.AddUser("u", "pw")
	auth, twoFA := srv.NewSession(user)
	c, _ := vrchat.NewClient(vrchat.Config{URL: srv.URL(), UserAgent: ua, Cookies: vrchat.Cookies{Auth: auth, TwoFactorAuth: twoFA}})
	if _, err := c.CurrentUser(ctx); err != nil {
		t.Fatal(err)
	}
	srv.ExpireSessions(user)
	_, err := c.CurrentUser(ctx)
	if !errors.Is(err, remote.ErrAuth) || !strings.Contains(err.Error(), "filesmount login vrchat") || strings.Contains(err.Error(), auth) {
		t.Errorf("expired session: %v", err)
	}
	if _, err := vrchat.NewClient(vrchat.Config{URL: srv.URL(), UserAgent: "Go-http-client/1.1"}); err == nil {
		t.Error("a generic User-Agent was accepted")
	}
}

func TestDownloadsRangeWithoutCookies(t *testing.T) {
	srv := newServer(t)
	ctx := context.Background()
	user := srv.AddUser("u", "pw")
	content := []byte("0123456789abcdefghij")
	srv.AddFile(vrchattest.FileSpec{OwnerID: user, Name: "f", MimeType: "application/octet-stream", Extension: ".bin",
		Versions: []vrchattest.VersionSpec{{Content: content}}})
	auth, twoFA := srv.NewSession(user)
	c, _ := vrchat.NewClient(vrchat.Config{URL: srv.URL(), UserAgent: ua, Cookies: vrchat.Cookies{Auth: auth, TwoFactorAuth: twoFA}})
	s := vrchat.NewStore(c)
	root, _ := s.Root(ctx)
	files, err := s.List(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	var dir remote.Entry
	for _, e := range files {
		if e.Name == "f" {
			dir = e
		}
	}
	versions, err := s.List(ctx, dir)
	if err != nil || len(versions) != 2 || versions[0].Name != "latest.bin" || versions[1].Name != "1.bin" || versions[0].ID != versions[1].ID {
		t.Fatalf("versions %+v, %v", versions, err)
	}
	if len(versions[1].MD5) != 16 || !versions[1].Immutable {
		t.Errorf("version entry %+v", versions[1])
	}
	for i := 0; i < 2; i++ {
		b, err := s.Open(ctx, versions[1], 5, 4)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(b)
		b.Close()
		if !b.Ranged || b.Offset != 5 || string(got) != "5678" {
			t.Errorf("range read: ranged %v offset %d %q", b.Ranged, b.Offset, got)
		}
	}
	st := srv.Stats()
	if st.CookiesSeenOnS3 != 0 {
		t.Errorf("%d storage requests carried cookies", st.CookiesSeenOnS3)
	}
	if st.ByRoute["GET /file/{id}/{v}"] != 1 {
		t.Errorf("the download location was resolved %d times for 2 reads", st.ByRoute["GET /file/{id}/{v}"])
	}
}

func TestExpiredDownloadURLIsResolvedAgain(t *testing.T) {
	srv := newServer(t)
	ctx := context.Background()
	user := srv.AddUser("u", "pw")
	id := srv.AddFile(vrchattest.FileSpec{OwnerID: user, Name: "f", MimeType: "image/png", Extension: ".png",
		Versions: []vrchattest.VersionSpec{{Content: []byte("abcdef")}}})
	auth, twoFA := srv.NewSession(user)
	c, _ := vrchat.NewClient(vrchat.Config{URL: srv.URL(), UserAgent: ua, Cookies: vrchat.Cookies{Auth: auth, TwoFactorAuth: twoFA}})
	s := vrchat.NewStore(c)
	e := remote.Entry{ID: "v/" + id + "/1", Name: "1.png", Size: 6}
	srv.SetURLTTL(-time.Hour) // every pre-signed URL is already expired
	if _, err := s.Open(ctx, e, 0, 2); err == nil {
		t.Fatal("read through an expired URL succeeded")
	}
	srv.SetURLTTL(time.Hour)
	b, err := s.Open(ctx, e, 0, 2)
	if err != nil {
		t.Fatalf("after URLs are valid again: %v", err)
	}
	got, _ := io.ReadAll(b)
	b.Close()
	if string(got) != "ab" {
		t.Errorf("got %q", got)
	}
}

func TestMissingFile(t *testing.T) {
	srv := newServer(t)
	user := srv.AddUser("u", "pw")
	auth, twoFA := srv.NewSession(user)
	c, _ := vrchat.NewClient(vrchat.Config{URL: srv.URL(), UserAgent: ua, Cookies: vrchat.Cookies{Auth: auth, TwoFactorAuth: twoFA}})
	_, err := c.File(context.Background(), "file_00000000-0000-0000-0000-000000000000")
	if !errors.Is(err, remote.ErrNotFound) || !strings.Contains(err.Error(), "File not found") {
		t.Errorf("err = %v", err)
	}
}
