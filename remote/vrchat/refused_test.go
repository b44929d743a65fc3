package vrchat_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/filesmount/filesmount/internal/faults"
	"github.com/filesmount/filesmount/remote"
	"github.com/filesmount/filesmount/remote/vrchat"
	"github.com/filesmount/filesmount/remote/vrchat/vrchattest"
)

// downloadEnv is an emulator with one user, an avatar, a world and an
// image, and a Store on a session of that user.
type downloadEnv struct {
	srv                  *vrchattest.Server
	user                 string
	store                *vrchat.Store
	avatar, world, image string
}

func newDownloadEnv(t *testing.T, o vrchattest.Options) *downloadEnv {
	t.Helper()
	o.DataDir = t.TempDir()
	srv, err := vrchattest.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	env := &downloadEnv{srv: srv, user: srv.AddUser("u", "pw")}
	env.avatar = srv.AddFile(vrchattest.FileSpec{OwnerID: env.user, Name: "Avatar", MimeType: "application/x-avatar", Extension: ".vrca",
		Versions: []vrchattest.VersionSpec{{Content: []byte("avatar bundle")}}})
	env.world = srv.AddFile(vrchattest.FileSpec{OwnerID: env.user, Name: "World", MimeType: "application/x-world", Extension: ".vrcw",
		Versions: []vrchattest.VersionSpec{{Content: []byte("world bundle")}}})
	env.image = srv.AddFile(vrchattest.FileSpec{OwnerID: env.user, Name: "Pic", MimeType: "image/png", Extension: ".png",
		Versions: []vrchattest.VersionSpec{{Content: vrchattest.PNG(8, 8, 1)}}})
	auth, twoFA := srv.NewSession(env.user)
	c, err := vrchat.NewClient(vrchat.Config{URL: srv.URL(), UserAgent: ua, Cookies: vrchat.Cookies{Auth: auth, TwoFactorAuth: twoFA}})
	if err != nil {
		t.Fatal(err)
	}
	c.Retry = fastRetry
	env.store = vrchat.NewStore(c)
	return env
}

// read lists the File's versions (as the mount does before a read) and
// reads latest<ext>.
func (env *downloadEnv) read(id string) ([]byte, error) {
	ctx := context.Background()
	entries, err := env.store.List(ctx, remote.Entry{ID: "f/" + id, IsDir: true})
	if err != nil {
		return nil, err
	}
	b, err := env.store.Open(ctx, entries[0], 0, -1)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	return io.ReadAll(b)
}

// The refusal of an asset by a valid session is EACCES naming the kind of
// File, checked once with GET /auth/user, remembered for that File, and
// does not stop other Files; nobody logs in. Every emulator variant.
func TestRefusedDownloadIsPermissionDenied(t *testing.T) {
	for _, mode := range []vrchattest.DownloadMode{vrchattest.DownloadToStorage, vrchattest.DownloadOnAPIHost, vrchattest.DownloadDirect} {
		for _, status := range []int{401, 403} {
			for _, atRedirect := range []bool{false, true} {
				if mode == vrchattest.DownloadDirect && atRedirect {
					continue // no redirect to refuse at
				}
				name := fmt.Sprintf("%s/%d/at-redirect=%v", mode, status, atRedirect)
				t.Run(name, func(t *testing.T) {
					env := newDownloadEnv(t, vrchattest.Options{Download: mode, AssetRefusal: status, AssetRefusedAtRedirect: atRedirect})
					_, err := env.read(env.avatar)
					if !errors.Is(err, remote.ErrPermission) || errors.Is(err, remote.ErrAuth) {
						t.Fatalf("avatar: %v; want ErrPermission only", err)
					}
					msg := err.Error()
					if !strings.Contains(msg, "avatar") || !strings.Contains(msg, "does not serve") || strings.Contains(msg, "filesmount login") {
						t.Errorf("message: %s", msg)
					}
					st := env.srv.Stats()
					if n := st.ByRoute["GET /auth/user"]; n != 1 {
						t.Errorf("%d session checks, want 1", n)
					}
					// Remembered: no request at all for the second read.
					before := st.Requests
					if _, err2 := env.read(env.avatar); !errors.Is(err2, remote.ErrPermission) {
						t.Errorf("second read: %v", err2)
					}
					if after := env.srv.Stats(); after.Requests != before+1 { // the listing only
						t.Errorf("the second read made %d requests, want 1 (the listing)", after.Requests-before)
					}
					// Another asset: refused too, with the verdict reused.
					if _, err := env.read(env.world); !errors.Is(err, remote.ErrPermission) || !strings.Contains(err.Error(), "world") {
						t.Errorf("world: %v", err)
					}
					if n := env.srv.Stats().ByRoute["GET /auth/user"]; n != 1 {
						t.Errorf("%d session checks after a second File, want 1 (the verdict is reused)", n)
					}
					// Images keep working.
					if b, err := env.read(env.image); err != nil || len(b) == 0 {
						t.Errorf("image: %d bytes, %v", len(b), err)
					}
					if n := env.srv.Logins(env.user); n != 0 {
						t.Errorf("%d logins", n)
					}
					if n := env.srv.Stats().CookiesSeenOnS3; n != 0 {
						t.Errorf("%d storage requests carried cookies", n)
					}
				})
			}
		}
	}
}

// Non-image Files are listed with their size, MD5 and time, and read
// where VRChat serves them (the default emulator, every download mode).
func TestAssetsListedAndReadWhereServed(t *testing.T) {
	for _, mode := range []vrchattest.DownloadMode{vrchattest.DownloadToStorage, vrchattest.DownloadOnAPIHost, vrchattest.DownloadDirect} {
		t.Run(mode.String(), func(t *testing.T) {
			env := newDownloadEnv(t, vrchattest.Options{Download: mode})
			entries, err := env.store.List(context.Background(), remote.Entry{ID: "f/" + env.world, IsDir: true})
			if err != nil || len(entries) != 2 {
				t.Fatalf("listing: %v, %v", entries, err)
			}
			for _, e := range entries {
				if e.Size != int64(len("world bundle")) || len(e.MD5) != 16 || e.ModTime.IsZero() {
					t.Errorf("%s: size %d, MD5 %x, time %v", e.Name, e.Size, e.MD5, e.ModTime)
				}
			}
			if b, err := env.read(env.world); err != nil || string(b) != "world bundle" {
				t.Errorf("read: %q, %v", b, err)
			}
			if n := env.srv.Stats().CookiesSeenOnS3; n != 0 {
				t.Errorf("%d storage requests carried cookies", n)
			}
		})
	}
}

// "Session expired" only when GET /auth/user says so; the daemon does not
// log in.
func TestExpiredSessionOnDownload(t *testing.T) {
	env := newDownloadEnv(t, vrchattest.Options{})
	entries, err := env.store.List(context.Background(), remote.Entry{ID: "f/" + env.image, IsDir: true})
	if err != nil {
		t.Fatal(err)
	}
	env.srv.ExpireSessions(env.user)
	_, err = env.store.Open(context.Background(), entries[0], 0, -1)
	if !errors.Is(err, remote.ErrAuth) || errors.Is(err, remote.ErrPermission) || !strings.Contains(err.Error(), "run `filesmount login vrchat`") ||
		!strings.Contains(err.Error(), "GET /auth/user refuses the session too") {
		t.Errorf("err = %v", err)
	}
	if n := env.srv.Logins(env.user); n != 0 {
		t.Errorf("%d logins", n)
	}
}

// When the session check itself fails, the read fails with EIO's error
// (remote.ErrUnavailable), not EACCES; that verdict is not remembered.
func TestSessionCheckFailureIsUnavailable(t *testing.T) {
	env := newDownloadEnv(t, vrchattest.Options{AssetRefusal: 401})
	env.srv.Faults().Add(faults.Rule{Kind: faults.Status, Status: 503, Route: "=GET /auth/user"})
	_, err := env.read(env.avatar)
	if !errors.Is(err, remote.ErrUnavailable) || errors.Is(err, remote.ErrPermission) || errors.Is(err, remote.ErrAuth) ||
		!strings.Contains(err.Error(), "checking the session failed") {
		t.Fatalf("err = %v", err)
	}
	env.srv.Faults().Reset()
	if _, err := env.read(env.avatar); !errors.Is(err, remote.ErrPermission) {
		t.Errorf("after the check works again: %v", err)
	}
}

// A redirect keeps the session cookies only while it stays on the API's
// scheme, host and port, judged hop by hop; no redirect at all sends them
// to the API only. At most 5 redirects are followed.
func TestDownloadRedirectCookies(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]string{} // path → Cookie header
	record := func(r *http.Request) {
		mu.Lock()
		seen[r.Host+r.URL.Path] = r.Header.Get("Cookie")
		mu.Unlock()
	}
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		record(r)
		io.WriteString(w, "from storage")
	}))
	t.Cleanup(other.Close)
	var api *httptest.Server
	api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		record(r)
		switch r.URL.Path {
		case "/file/file_same/1": // → another path on the API host → bytes
			http.Redirect(w, r, "/file/file_same/1/file", http.StatusFound)
		case "/file/file_same/1/file":
			io.WriteString(w, "from the API")
		case "/file/file_other/1": // → another host
			http.Redirect(w, r, other.URL+"/bucket/key?Signature=x", http.StatusFound)
		case "/file/file_direct/1":
			io.WriteString(w, "direct")
		case "/file/file_loop/1":
			http.Redirect(w, r, "/file/file_loop/1", http.StatusFound)
		default:
			w.WriteHeader(404)
		}
	}))
	t.Cleanup(api.Close)
	c, err := vrchat.NewClient(vrchat.Config{URL: api.URL, UserAgent: ua, Cookies: vrchat.Cookies{Auth: "sess"}})
	if err != nil {
		t.Fatal(err)
	}
	c.Retry = fastRetry
	s := vrchat.NewStore(c)
	read := func(id string) (string, error) {
		b, err := s.Open(context.Background(), remote.Entry{ID: "v/" + id + "/1", Name: "1.bin"}, 0, -1)
		if err != nil {
			return "", err
		}
		defer b.Close()
		got, err := io.ReadAll(b)
		return string(got), err
	}
	apiHost, otherHost := strings.TrimPrefix(api.URL, "http://"), strings.TrimPrefix(other.URL, "http://")
	for _, tc := range []struct {
		id, want string
		cookies  map[string]bool // host+path → cookies expected
	}{
		{"file_same", "from the API", map[string]bool{apiHost + "/file/file_same/1": true, apiHost + "/file/file_same/1/file": true}},
		{"file_other", "from storage", map[string]bool{apiHost + "/file/file_other/1": true, otherHost + "/bucket/key": false}},
		{"file_direct", "direct", map[string]bool{apiHost + "/file/file_direct/1": true}},
	} {
		got, err := read(tc.id)
		if err != nil || got != tc.want {
			t.Errorf("%s: %q, %v", tc.id, got, err)
			continue
		}
		mu.Lock()
		for p, want := range tc.cookies {
			ck, ok := seen[p]
			if !ok {
				t.Errorf("%s: %s not requested", tc.id, p)
			} else if has := strings.Contains(ck, "auth=sess"); has != want {
				t.Errorf("%s: %s got cookies %q, want them: %v", tc.id, p, ck, want)
			}
		}
		mu.Unlock()
	}
	if _, err := read("file_loop"); err == nil || !strings.Contains(err.Error(), "more than 5 redirects") {
		t.Errorf("a redirect loop: %v", err)
	}
}
