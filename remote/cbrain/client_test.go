package cbrain_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/filesmount/filesmount/remote"
	"github.com/filesmount/filesmount/remote/cbrain"
	"github.com/filesmount/filesmount/remote/cbrain/cbraintest"
)

type fixture struct {
	srv    *cbraintest.Server
	client *cbrain.Client
	store  *cbrain.Store
	user   int
	dp     int
}

func setup(t *testing.T) *fixture {
	t.Helper()
	srv, err := cbraintest.New(cbraintest.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	user := srv.AddUser("norm", "pw", false)
	dp := srv.AddProvider("TestDP", user, cbraintest.ProviderOptions{})
	client, err := cbrain.NewClient(cbrain.Config{URL: srv.URL(), Token: srv.NewToken(user)})
	if err != nil {
		t.Fatal(err)
	}
	client.PollInterval = 10 * time.Millisecond
	client.SyncTimeout = 10 * time.Second
	return &fixture{srv: srv, client: client, store: cbrain.NewStore(client), user: user, dp: dp}
}

func TestLoginAndSession(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	s, err := cbrain.Login(ctx, f.srv.URL(), "norm", "pw", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Token) != 32 || s.UserID != int64(f.user) {
		t.Errorf("session %+v", s)
	}
	_, err = cbrain.Login(ctx, f.srv.URL(), "norm", "not-the-password", nil)
	if !errors.Is(err, remote.ErrAuth) || strings.Contains(err.Error(), "not-the-password") {
		t.Errorf("bad password: %v", err)
	}
	c, _ := cbrain.NewClient(cbrain.Config{URL: f.srv.URL(), Token: s.Token})
	if id, err := c.CheckSession(ctx); err != nil || id != int64(f.user) {
		t.Errorf("CheckSession = %d, %v", id, err)
	}
	f.srv.ExpireToken(s.Token)
	_, err = c.CheckSession(ctx)
	if !errors.Is(err, remote.ErrAuth) || strings.Contains(err.Error(), s.Token) {
		t.Errorf("expired token: %v", err)
	}
}

func TestUnreachablePortal(t *testing.T) {
	c, _ := cbrain.NewClient(cbrain.Config{URL: "http://127.0.0.1:1", Token: "x"})
	c.Retry = fastRetry
	_, err := c.CheckSession(context.Background())
	if !errors.Is(err, remote.ErrUnavailable) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("err = %v", err)
	}
}

func TestListingPagesAndShapes(t *testing.T) {
	f := setup(t)
	for i := 0; i < 2500; i++ {
		f.srv.AddFile(cbraintest.FileSpec{Name: fmt.Sprintf("f%04d.txt", i), ProviderID: f.dp, OwnerID: f.user, Content: []byte("abc")})
	}
	f.srv.AddFile(cbraintest.FileSpec{Name: "pending.bin", ProviderID: f.dp, OwnerID: f.user, Content: []byte("x"), SizeNull: true})
	f.srv.AddFile(cbraintest.FileSpec{Name: "Coll", ProviderID: f.dp, OwnerID: f.user, Type: "FileCollection",
		Members: map[string][]byte{"a.txt": []byte("A"), "sub/b.txt": []byte("BB")}})
	f.srv.ResetStats()
	root, _ := f.store.Root(context.Background())
	dps, err := f.store.List(context.Background(), root)
	if err != nil || len(dps) != 1 || dps[0].Name != "TestDP" || !dps[0].IsDir {
		t.Fatalf("providers: %+v, %v", dps, err)
	}
	files, err := f.store.List(context.Background(), dps[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2502 {
		t.Fatalf("listed %d files, want 2502", len(files))
	}
	if n := f.srv.Stats().ByRoute["GET /userfiles"]; n != 3 {
		t.Errorf("%d list requests for 2502 files, want 3", n)
	}
	byName := map[string]remote.Entry{}
	for _, e := range files {
		byName[e.Name] = e
	}
	if e := byName["pending.bin"]; e.Size != remote.SizeUnknown {
		t.Errorf("null size became %d", e.Size)
	}
	if e := byName["f0001.txt"]; e.Size != 3 || e.IsDir || e.ModTime != cbrain.ModTime {
		t.Errorf("f0001.txt: %+v", e)
	}
	coll := byName["Coll"]
	if !coll.IsDir {
		t.Fatalf("collection not a directory: %+v", coll)
	}
	members, err := f.store.List(context.Background(), coll)
	if err != nil || len(members) != 2 {
		t.Fatalf("collection members %+v, %v", members, err)
	}
	if members[0].Name != "a.txt" || members[0].Size != 1 || members[1].Name != "sub" || !members[1].IsDir {
		t.Errorf("members %+v", members)
	}
	// Members carry the portal's own mtime (lstat's, to the millisecond).
	if mt := members[0].ModTime; time.Since(mt) > time.Minute || time.Since(mt) < -time.Second {
		t.Errorf("a.txt mtime %v, want about now (when the emulator wrote it)", mt)
	}
	sub, err := f.store.List(context.Background(), members[1])
	if err != nil || len(sub) != 1 || sub[0].Name != "b.txt" || sub[0].Size != 2 {
		t.Fatalf("sub %+v, %v", sub, err)
	}
	b, err := f.store.Open(context.Background(), sub[0], 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(b)
	b.Close()
	if string(data) != "BB" {
		t.Errorf("member content %q", data)
	}
}

func TestContentIgnoresRange(t *testing.T) {
	f := setup(t)
	id := f.srv.AddFile(cbraintest.FileSpec{Name: "data.bin", ProviderID: f.dp, OwnerID: f.user, Content: []byte("0123456789")})
	e, err := f.store.Stat(context.Background(), remote.Entry{ID: fmt.Sprintf("uf/%d", id)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.store.Open(context.Background(), e, 4, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	data, _ := io.ReadAll(b)
	if b.Ranged || b.Offset != 0 || string(data) != "0123456789" {
		t.Errorf("ranged=%v offset=%d data=%q: CBRAIN must answer the whole file", b.Ranged, b.Offset, data)
	}
	if f.store.Caps().RangeReads {
		t.Error("store claims range reads after a 200")
	}
}

func TestUnsyncedContentIsSyncedThenRead(t *testing.T) {
	f := setup(t)
	far := f.srv.AddProvider("Far", f.user, cbraintest.ProviderOptions{Remote: true, Type: "SshDataProvider"})
	id := f.srv.AddFile(cbraintest.FileSpec{Name: "far.txt", ProviderID: far, OwnerID: f.user, Content: []byte("far away")})
	e, err := f.store.Stat(context.Background(), remote.Entry{ID: fmt.Sprintf("uf/%d", id)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.store.Open(context.Background(), e, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(b)
	b.Close()
	if string(data) != "far away" {
		t.Errorf("content %q", data)
	}
	if n := f.srv.Stats().ByRoute["POST /userfiles/sync_multiple"]; n != 1 {
		t.Errorf("%d syncs, want 1", n)
	}
}

func TestMissingFileIsNotFound(t *testing.T) {
	f := setup(t)
	_, err := f.store.Open(context.Background(), remote.Entry{ID: "uf/99999", Name: "gone"}, 0, -1)
	if !errors.Is(err, remote.ErrNotFound) {
		t.Errorf("err = %v, want ErrNotFound", err)
	}
}

// TestHeadersAndNoRedirects checks, with a bare server, that every request
// carries the required headers and that a 302 is an error, not followed.
func TestHeadersAndNoRedirects(t *testing.T) {
	var followed bool
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/users/2/change_password" {
			followed = true
		}
		if r.Header.Get("Accept") != "application/json" || r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(401)
			return
		}
		if r.URL.Query().Has("cbrain_api_token") {
			t.Error("token sent in the URL")
		}
		http.Redirect(w, r, "/users/2/change_password", http.StatusFound)
	}))
	defer ts.Close()
	c, _ := cbrain.NewClient(cbrain.Config{URL: ts.URL, Token: "tok"})
	_, err := c.Userfiles(context.Background(), url.Values{})
	if err == nil || followed || !errors.Is(err, remote.ErrAuth) || !strings.Contains(err.Error(), "password change") {
		t.Errorf("err = %v, followed = %v", err, followed)
	}
}

func TestUnsyncableContentFailsClearly(t *testing.T) {
	f := setup(t)
	far := f.srv.AddProvider("Far", f.user, cbraintest.ProviderOptions{Remote: true, Type: "SshDataProvider"})
	id := f.srv.AddFile(cbraintest.FileSpec{Name: "far.txt", ProviderID: far, OwnerID: f.user, Content: []byte("far away")})
	f.srv.SetProviderOnline(far, false)
	e, err := f.store.Stat(context.Background(), remote.Entry{ID: fmt.Sprintf("uf/%d", id)})
	if err != nil {
		t.Fatal(err)
	}
	f.client.SyncTimeout = 2 * time.Second
	start := time.Now()
	_, err = f.store.Open(context.Background(), e, 0, -1)
	t.Logf("error: %v", err)
	if !errors.Is(err, remote.ErrUnavailable) || !strings.Contains(err.Error(), "sync") || !strings.Contains(err.Error(), "far.txt") {
		t.Errorf("err = %v; want an unavailable error naming the file and the sync", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("gave up after %v; the bound is 2 s", time.Since(start))
	}
}
