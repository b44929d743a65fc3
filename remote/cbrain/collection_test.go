package cbrain_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/filesmount/filesmount/internal/faults"
	"github.com/filesmount/filesmount/remote"
	"github.com/filesmount/filesmount/remote/cbrain"
	"github.com/filesmount/filesmount/remote/cbrain/cbraintest"
)

// oddCollection has members whose names need escaping in JSON and HTML.
var oddCollection = map[string][]byte{
	`a&b.txt`:      []byte("ampersand\n"),
	`<lt>&gt;.txt`: []byte("angles\n"),
	`q"uote.txt`:   []byte("quote\n"),
	`it's.txt`:     []byte("apostrophe\n"),
	"sub/x.dat":    []byte("in a subdirectory\n"),
}

var memberTime = time.Date(2024, 3, 9, 17, 4, 5, 678_000_000, time.UTC)

type collFixture struct {
	*fixture
	remoteDP         int
	localColl, rColl int
}

func collSetup(t *testing.T, opts cbraintest.DisplayOptions) *collFixture {
	t.Helper()
	srv, err := cbraintest.New(cbraintest.Options{DataDir: t.TempDir(), Display: opts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	user := srv.AddUser("norm", "pw", false)
	dp := srv.AddProvider("LocalDP", user, cbraintest.ProviderOptions{})
	rdp := srv.AddProvider("RemoteDP", user, cbraintest.ProviderOptions{Remote: true})
	client, err := cbrain.NewClient(cbrain.Config{URL: srv.URL(), Token: srv.NewToken(user)})
	if err != nil {
		t.Fatal(err)
	}
	client.PollInterval = 5 * time.Millisecond
	client.SyncTimeout = 20 * time.Second
	f := &collFixture{fixture: &fixture{srv: srv, client: client, store: cbrain.NewStore(client), user: user, dp: dp}, remoteDP: rdp}
	f.localColl = srv.AddFile(cbraintest.FileSpec{Name: "Local", ProviderID: dp, OwnerID: user, Type: "FileCollection", Members: oddCollection})
	f.rColl = srv.AddFile(cbraintest.FileSpec{Name: "Far", ProviderID: rdp, OwnerID: user, Type: "FileCollection", Members: oddCollection})
	for _, id := range []int{f.localColl, f.rColl} {
		for rel := range oddCollection {
			srv.SetMemberTime(id, rel, memberTime)
		}
	}
	return f
}

// entry lists the path of names from the root, as the mount does, and
// returns the entry at its end.
func (f *collFixture) entry(t *testing.T, names ...string) remote.Entry {
	t.Helper()
	e, _ := f.store.Root(context.Background())
	for _, name := range names {
		list, err := f.store.List(context.Background(), e)
		if err != nil {
			t.Fatalf("list %s: %v", e.Name, err)
		}
		found := false
		for _, c := range list {
			if c.Name == name {
				e, found = c, true
				break
			}
		}
		if !found {
			t.Fatalf("%q not in %s", name, e.Name)
		}
	}
	return e
}

func (f *collFixture) reports(t *testing.T) (int64, int64) {
	st := f.srv.Stats()
	return st.ErrorMessages, st.ExceptionLogs
}

func checkMembers(t *testing.T, got []remote.Entry) {
	t.Helper()
	var names []string
	for _, e := range got {
		names = append(names, e.Name)
		if e.IsDir {
			continue
		}
		if e.Size != int64(len(oddCollection[e.Name])) {
			t.Errorf("%q: size %d, want %d", e.Name, e.Size, len(oddCollection[e.Name]))
		}
		if !e.ModTime.Equal(memberTime) {
			t.Errorf("%q: mtime %v, want the member's own %v", e.Name, e.ModTime, memberTime)
		}
	}
	if want := `<lt>&gt;.txt|a&b.txt|it's.txt|q"uote.txt|sub`; strings.Join(names, "|") != want {
		t.Errorf("members %q, want %q", strings.Join(names, "|"), want)
	}
}

func readMember(t *testing.T, s *cbrain.Store, e remote.Entry) string {
	t.Helper()
	b, err := s.Open(context.Background(), e, 0, -1)
	if err != nil {
		t.Fatalf("open %q: %v", e.Name, err)
	}
	defer b.Close()
	data, err := io.ReadAll(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestCollectionListedOnEachVariant: an unsynced collection is synced,
// then listed, with its members' names, sizes and mtimes, and no report
// filed on the portal; a known-synced one is asked directly; a collection
// on a provider the portal syncs inline is asked without a sync.
func TestCollectionListedOnEachVariant(t *testing.T) {
	for _, v := range cbraintest.DisplayVariants {
		t.Run(v.Name, func(t *testing.T) {
			f := collSetup(t, v.Opts)
			coll := f.entry(t, "RemoteDP", "Far")
			f.srv.ResetStats()
			members, err := f.store.List(context.Background(), coll)
			if err != nil {
				t.Fatal(err)
			}
			checkMembers(t, members)
			st := f.srv.Stats()
			if st.ByRoute["POST /userfiles/sync_multiple"] != 1 || st.ByRoute["GET /userfiles/:id/display"] != 1 {
				t.Errorf("first listing: %v, want 1 sync and 1 display", st.ByRoute)
			}
			if msgs, logs := f.reports(t); msgs != 0 || logs != 0 {
				t.Errorf("listing an unsynced collection filed %d error messages and %d exception logs on the portal, want 0", msgs, logs)
			}
			// Known synced now: asked directly.
			f.srv.ResetStats()
			sub := members[len(members)-1]
			deeper, err := f.store.List(context.Background(), sub)
			if err != nil || len(deeper) != 1 || deeper[0].Name != "x.dat" {
				t.Fatalf("sub: %+v, %v", deeper, err)
			}
			if got := readMember(t, f.store, deeper[0]); got != "in a subdirectory\n" {
				t.Errorf("member read %q", got)
			}
			for _, m := range members {
				if !m.IsDir {
					if got := readMember(t, f.store, m); got != string(oddCollection[m.Name]) {
						t.Errorf("%q read %q", m.Name, got)
					}
				}
			}
			st = f.srv.Stats()
			if st.ByRoute["POST /userfiles/sync_multiple"] != 0 || st.ByRoute["GET /userfiles/:id/display"] != 1 {
				t.Errorf("listing a known-synced collection: %v, want no sync and 1 display", st.ByRoute)
			}
			// A fast-syncing provider: no sync.
			local := f.entry(t, "LocalDP", "Local")
			f.srv.ResetStats()
			members, err = f.store.List(context.Background(), local)
			if err != nil {
				t.Fatal(err)
			}
			checkMembers(t, members)
			st = f.srv.Stats()
			if st.ByRoute["POST /userfiles/sync_multiple"] != 0 || st.ByRoute["GET /userfiles/:id/display"] != 1 || st.ErrorMessages != 0 {
				t.Errorf("listing a collection on a fast-syncing provider: %+v, want no sync, 1 display, no report", st)
			}
		})
	}
}

// TestCollectionDroppedFromCache: a collection known synced that the
// portal's cache dropped costs one refused ask (one report on the portal,
// none when the viewer's errors are rendered), then a sync; its members
// are read again after a sync too.
func TestCollectionDroppedFromCache(t *testing.T) {
	for _, v := range cbraintest.DisplayVariants {
		t.Run(v.Name, func(t *testing.T) {
			f := collSetup(t, v.Opts)
			coll := f.entry(t, "RemoteDP", "Far")
			members, err := f.store.List(context.Background(), coll)
			if err != nil {
				t.Fatal(err)
			}
			f.srv.EvictFromCache(f.rColl)
			f.srv.ResetStats()
			again, err := f.store.List(context.Background(), coll)
			if err != nil {
				t.Fatal(err)
			}
			checkMembers(t, again)
			st := f.srv.Stats()
			wantReports := int64(1)
			if v.Opts.ViewerErrors {
				wantReports = 0
			}
			if st.ByRoute["GET /userfiles/:id/display"] != 2 || st.ByRoute["POST /userfiles/sync_multiple"] != 1 || st.ErrorMessages != wantReports {
				t.Errorf("after the cache dropped it: %+v, want 2 displays, 1 sync, %d reports", st, wantReports)
			}
			// A member read after the cache dropped it: 404, sync, read.
			f.srv.EvictFromCache(f.rColl)
			f.srv.ResetStats()
			if got := readMember(t, f.store, members[0]); got != string(oddCollection[members[0].Name]) {
				t.Errorf("read after eviction %q", got)
			}
			st = f.srv.Stats()
			if st.ByRoute["POST /userfiles/sync_multiple"] != 1 || st.ErrorMessages != 0 {
				t.Errorf("read after eviction: %+v, want 1 sync and no report", st)
			}
		})
	}
}

// TestCollectionFailuresAreKept: a failed listing is answered from the
// kept failure until FailureTTL ends, without asking the portal.
func TestCollectionFailuresAreKept(t *testing.T) {
	t.Run("provider listed offline", func(t *testing.T) {
		f := collSetup(t, cbraintest.DisplayOptions{})
		coll := f.entry(t, "RemoteDP", "Far")
		f.srv.SetProviderOnline(f.remoteDP, false)
		root, _ := f.store.Root(context.Background())
		f.store.List(context.Background(), root)
		f.srv.ResetStats()
		for i := 0; i < 5; i++ {
			_, err := f.store.List(context.Background(), coll)
			if !errors.Is(err, remote.ErrUnavailable) || !strings.Contains(err.Error(), `"RemoteDP" is offline`) {
				t.Fatalf("listing %d: %v", i, err)
			}
		}
		if n := f.srv.Stats().Requests; n != 0 {
			t.Errorf("5 listings of a collection on an offline provider made %d requests, want 0", n)
		}
	})
	t.Run("provider gone offline since listed", func(t *testing.T) {
		f := collSetup(t, cbraintest.DisplayOptions{})
		coll := f.entry(t, "RemoteDP", "Far")
		f.srv.SetProviderOnline(f.remoteDP, false)
		f.srv.ResetStats()
		_, err := f.store.List(context.Background(), coll)
		if !errors.Is(err, remote.ErrUnavailable) || !strings.Contains(err.Error(), "could not sync") {
			t.Fatalf("first listing: %v", err)
		}
		first := f.srv.Stats().Requests
		for i := 0; i < 5; i++ {
			_, again := f.store.List(context.Background(), coll)
			if !errors.Is(again, remote.ErrUnavailable) || !strings.Contains(again.Error(), "kept") {
				t.Fatalf("listing %d: %v", i+2, again)
			}
		}
		st := f.srv.Stats()
		if st.Requests != first || st.ByRoute["GET /userfiles/:id/display"] != 0 || st.ErrorMessages != 0 {
			t.Errorf("6 listings: %+v; want only the first listing's %d requests, no display, no report", st, first)
		}
		// Once the failure's time is over the portal is asked again.
		f.srv.SetProviderOnline(f.remoteDP, true)
		f.store.FailureTTL = time.Nanosecond
		if _, err := f.store.List(context.Background(), coll); err != nil {
			t.Errorf("after the kept failure: %v", err)
		}
	})
	t.Run("failing viewer", func(t *testing.T) {
		f := collSetup(t, cbraintest.DisplayOptions{})
		coll := f.entry(t, "LocalDP", "Local")
		f.srv.Faults().Add(faults.Rule{Kind: faults.Status, Status: 500, Route: "GET /userfiles/:id/display"})
		f.srv.ResetStats()
		for i := 0; i < 4; i++ {
			if _, err := f.store.List(context.Background(), coll); err == nil {
				t.Fatalf("listing %d succeeded", i)
			}
		}
		if n := f.srv.Stats().ByRoute["GET /userfiles/:id/display"]; n != 1 {
			t.Errorf("4 listings asked the failing viewer %d times, want 1", n)
		}
	})
}
