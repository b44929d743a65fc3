//go:build linux

package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/filesmount/filesmount/remote/cbrain/cbraintest"
)

// TestLargeDirectoryListing checks the metadata budget: `ls -l` of a
// 10,000-file provider costs one paged listing (per_page=1000) and no
// request per file, and a second `ls -l` after the kernel's attribute TTL
// has expired is answered from the daemon's listing cache.
func TestLargeDirectoryListing(t *testing.T) {
	const n = 10_000
	env := mountCBRAIN(t, envOptions{
		metadataTTL: time.Minute,
		seed: func(t *testing.T, srv *cbraintest.Server, user int) {
			dp := srv.AddProvider("Big", user, cbraintest.ProviderOptions{})
			for i := 0; i < n; i++ {
				srv.AddFile(cbraintest.FileSpec{Name: fmt.Sprintf("sub-%05d.txt", i), ProviderID: dp, OwnerID: user, Content: []byte("x")})
			}
		},
	})
	dir := filepath.Join(env.mnt, "cbrain", "Big")
	env.srv.ResetStats()
	out := run(t, "ls", "-l", dir)
	if got := strings.Count(out, "sub-"); got != n {
		t.Fatalf("ls -l shows %d files, want %d", got, n)
	}
	st := env.srv.Stats()
	lists := st.ByRoute["GET /userfiles"]
	// 10 full pages, then the short (empty) page that proves the end:
	// CBRAIN returns no totals.
	if lists > n/1000+1 {
		t.Errorf("ls -l made %d list requests, want at most %d", lists, n/1000+1)
	}
	if lists+st.ByRoute["GET /data_providers"] != st.Requests {
		t.Errorf("ls -l made per-file or other requests: %v", st.ByRoute)
	}
	t.Logf("ls -l of %d files: %d requests %v", n, st.Requests, st.ByRoute)

	time.Sleep(1100 * time.Millisecond) // past the kernel's 1 s attribute TTL
	env.srv.ResetStats()
	run(t, "ls", "-l", dir)
	if st := env.srv.Stats(); st.Requests != 0 {
		t.Errorf("warm ls -l made %d requests: %v", st.Requests, st.ByRoute)
	}
}

// TestNameCollisionsStayVisible: two userfiles with one name on one
// provider (different owners) both appear, the smallest id under the
// plain name and the other as name~<id>.
func TestNameCollisionsStayVisible(t *testing.T) {
	var first, second int
	env := mountCBRAIN(t, envOptions{seed: func(t *testing.T, srv *cbraintest.Server, user int) {
		other := srv.AddUser("colleague", "pw", false)
		g := srv.AddGroup("SharedLab", "WorkGroup", user, other)
		dp := srv.AddProvider("Shared", user, cbraintest.ProviderOptions{Type: "SshDataProvider"})
		first = srv.AddFile(cbraintest.FileSpec{Name: "scan.nii", ProviderID: dp, OwnerID: user, GroupID: g, Content: []byte("mine")})
		second = srv.AddFile(cbraintest.FileSpec{Name: "scan.nii", ProviderID: dp, OwnerID: other, GroupID: g, Content: []byte("theirs")})
	}})
	dir := filepath.Join(env.mnt, "cbrain", "Shared")
	if got := run(t, "cat", filepath.Join(dir, "scan.nii")); got != "mine" {
		t.Errorf("scan.nii = %q, want the lowest id's content", got)
	}
	other := fmt.Sprintf("scan~%d.nii", second)
	if got := run(t, "cat", filepath.Join(dir, other)); got != "theirs" {
		t.Errorf("%s = %q", other, got)
	}
	_ = first
}
