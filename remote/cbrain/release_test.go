package cbrain_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/filesmount/filesmount/remote"
	"github.com/filesmount/filesmount/remote/cbrain"
	"github.com/filesmount/filesmount/remote/cbrain/cbraintest"
)

var releases = []cbraintest.Release{cbraintest.ReleaseCurrent, cbraintest.Release700}

// onEachRelease runs body against an emulator of each release, whatever
// FILESMOUNT_CBRAIN_RELEASE says.
func onEachRelease(t *testing.T, body func(t *testing.T, f *fixture)) {
	for _, r := range releases {
		t.Run(string(r), func(t *testing.T) {
			body(t, setupWith(t, cbraintest.Options{Release: r}))
		})
	}
}

func names(es []remote.Entry) string {
	var out []string
	for _, e := range es {
		n := e.Name
		if e.IsDir {
			n += "/"
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

// The client tells the releases apart by the browse_path key alone.
func TestReleaseDetectedFromAnswers(t *testing.T) {
	onEachRelease(t, func(t *testing.T, f *fixture) {
		if r := f.client.Release(); r != cbrain.ReleaseUnknown {
			t.Fatalf("before any answer: %v", r)
		}
		f.srv.AddFile(cbraintest.FileSpec{Name: "a.txt", ProviderID: f.dp, OwnerID: f.user, Content: []byte("a")})
		if _, err := f.store.List(context.Background(), dpDir(f.dp)); err != nil {
			t.Fatal(err)
		}
		want := cbrain.ReleaseWithBrowsePath
		if f.srv.Release() == cbraintest.Release700 {
			want = cbrain.Release700
		}
		if r := f.client.Release(); r != want {
			t.Errorf("seen as %v, want %v", r, want)
		}
	})
}

// A MultiLevel provider: its subdirectories on current portals; every
// file at its top on 7.0.0, which does not say where files are.
func TestMultiLevelListingOnEachRelease(t *testing.T) {
	onEachRelease(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		f.srv.AddFile(cbraintest.FileSpec{Name: "top.txt", ProviderID: f.dp, OwnerID: f.user, Content: []byte("top")})
		deep := f.srv.AddFile(cbraintest.FileSpec{Name: "scan.nii", ProviderID: f.dp, OwnerID: f.user, Content: []byte("deep"), BrowsePath: "sub-01/anat"})
		top, err := f.store.List(ctx, dpDir(f.dp))
		if err != nil {
			t.Fatal(err)
		}
		if f.srv.Release() == cbraintest.Release700 {
			if got := names(top); got != "scan.nii top.txt" {
				t.Fatalf("top level: %s", got)
			}
		} else {
			if got := names(top); got != "sub-01/ top.txt" {
				t.Fatalf("top level: %s", got)
			}
			anat, err := f.store.List(ctx, remote.Entry{ID: fmt.Sprintf("bp/%d/sub-01/anat", f.dp), Name: "anat", IsDir: true})
			if err != nil || names(anat) != "scan.nii" {
				t.Fatalf("sub-01/anat: %s, %v", names(anat), err)
			}
		}
		if got := readAll(t, f, ufEntry(deep, "scan.nii")); got != "deep" {
			t.Errorf("content %q", got)
		}
	})
}

// A rename onto a taken name: 422 on current portals, 200 and nothing
// on 7.0.0; EEXIST on both, and nothing renamed.
func TestRenameOntoTakenNameOnEachRelease(t *testing.T) {
	onEachRelease(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		a := f.srv.AddFile(cbraintest.FileSpec{Name: "a.txt", ProviderID: f.dp, OwnerID: f.user, Content: []byte("a")})
		f.srv.AddFile(cbraintest.FileSpec{Name: "b.txt", ProviderID: f.dp, OwnerID: f.user, Content: []byte("b"), BrowsePath: "sub"})
		dir := dpDir(f.dp)
		_, err := f.store.Rename(ctx, dir, ufEntry(a, "a.txt"), dir, "b.txt", nil)
		if !errors.Is(err, remote.ErrExist) {
			t.Fatalf("rename onto a taken name: %v, want EEXIST", err)
		}
		if uf, _ := f.client.Userfile(ctx, int64(a)); uf.Name != "a.txt" {
			t.Errorf("renamed anyway: %+v", uf)
		}
	})
}

// On 7.0.0 a name may match files in several subdirectories; the newest
// is the one taken (an upload's own record is the newest).
func TestUploadTakesTheNewestOfSeveral(t *testing.T) {
	f := setupWith(t, cbraintest.Options{Release: cbraintest.Release700})
	ctx := context.Background()
	f.srv.AddFile(cbraintest.FileSpec{Name: "dup.txt", ProviderID: f.dp, OwnerID: f.user, Content: []byte("older"), BrowsePath: "a"})
	newer := f.srv.AddFile(cbraintest.FileSpec{Name: "dup.txt", ProviderID: f.dp, OwnerID: f.user, Content: []byte("newer"), BrowsePath: "b"})
	// The same content as the newest: adopted as an earlier attempt.
	e, err := f.store.Upload(ctx, dpDir(f.dp), "dup.txt", source([]byte("newer")), nil)
	if err != nil || e.ID != fmt.Sprintf("uf/%d", newer) {
		t.Fatalf("upload: %+v, %v; want userfile %d", e, err, newer)
	}
	if n := f.srv.Stats().ByRoute["POST /userfiles"]; n != 0 {
		t.Errorf("%d POSTs", n)
	}
}

// An upload's lookup after its POST may meet an older namesake in a
// subdirectory on 7.0.0 (here registered just before the POST lands, as
// another client could): its own record, the newest, is the one taken.
func TestUploadFindsItsRecordAmongOlderNamesakes(t *testing.T) {
	srv, err := cbraintest.New(cbraintest.Options{DataDir: t.TempDir(), Release: cbraintest.Release700})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	user := srv.AddUser("norm", "pw", false)
	dp := srv.AddProvider("TestDP", user, cbraintest.ProviderOptions{})
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/userfiles" {
			srv.AddFile(cbraintest.FileSpec{Name: "dup.txt", ProviderID: dp, OwnerID: user, Content: []byte("an older one"), BrowsePath: "sub"})
		}
		srv.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	client, err := cbrain.NewClient(cbrain.Config{URL: front.URL, Token: srv.NewToken(user)})
	if err != nil {
		t.Fatal(err)
	}
	client.PollInterval = 10 * time.Millisecond
	f := &fixture{srv: srv, client: client, store: cbrain.NewStore(client), user: user, dp: dp}
	e, err := f.store.Upload(context.Background(), dpDir(dp), "dup.txt", source([]byte("mine")), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, f, e); got != "mine" || e.Size != 4 {
		t.Errorf("the upload is %+v holding %q", e, got)
	}
	if n := len(named(t, f, dp, "dup.txt")); n != 2 {
		t.Errorf("%d userfiles named dup.txt, want the older one and the upload", n)
	}
}

// change_provider refuses a move when the owner has a file of that name
// on the destination in any subdirectory: the move crosses under a
// temporary name, then takes the name asked for.
func TestMoveCrossesUnderATemporaryNameWhenTheClashIsInASubdirectory(t *testing.T) {
	onEachRelease(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		multi := f.srv.AddProvider("Multi", f.user, cbraintest.ProviderOptions{})
		id := f.srv.AddFile(cbraintest.FileSpec{Name: "x.txt", ProviderID: f.dp, OwnerID: f.user, Content: []byte("moving")})
		f.srv.AddFile(cbraintest.FileSpec{Name: "X.TXT", ProviderID: multi, OwnerID: f.user, Content: []byte("stays"), BrowsePath: "sub"})
		e, err := f.store.Rename(ctx, dpDir(f.dp), ufEntry(id, "x.txt"), dpDir(multi), "y.txt", nil)
		if err != nil {
			t.Fatal(err)
		}
		uf, err := f.client.Userfile(ctx, int64(id))
		if err != nil || uf.Name != "y.txt" || uf.DataProviderID != int64(multi) || e.Name != "y.txt" {
			t.Fatalf("after the move: %+v, %v", uf, err)
		}
		if got := readAll(t, f, e); got != "moving" {
			t.Errorf("content %q", got)
		}
	})
}

// A move whose final name is taken on the destination, in a
// subdirectory, is refused before anything moves.
func TestMoveOntoANameTakenInASubdirectoryIsRefused(t *testing.T) {
	onEachRelease(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		multi := f.srv.AddProvider("Multi", f.user, cbraintest.ProviderOptions{})
		id := f.srv.AddFile(cbraintest.FileSpec{Name: "x.txt", ProviderID: f.dp, OwnerID: f.user, Content: []byte("moving")})
		f.srv.AddFile(cbraintest.FileSpec{Name: "y.txt", ProviderID: multi, OwnerID: f.user, Content: []byte("stays"), BrowsePath: "sub"})
		f.srv.ResetStats()
		_, err := f.store.Rename(ctx, dpDir(f.dp), ufEntry(id, "x.txt"), dpDir(multi), "y.txt", nil)
		if !errors.Is(err, remote.ErrExist) {
			t.Fatalf("move onto a name taken in a subdirectory: %v, want EEXIST", err)
		}
		if uf, _ := f.client.Userfile(ctx, int64(id)); uf.Name != "x.txt" || uf.DataProviderID != int64(f.dp) {
			t.Errorf("the file changed: %+v", uf)
		}
		if n := f.srv.Stats().ByRoute["POST /userfiles/change_provider"]; n != 0 {
			t.Errorf("%d moves asked for", n)
		}
	})
}
