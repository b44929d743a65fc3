//go:build linux

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/filesmount/filesmount/remote/cbrain/cbraintest"
)

// TestCBRAINMultiLevelOnEachRelease mounts a MultiLevel provider from a
// current portal and from a 7.0.0 one, whose userfiles carry no
// browse_path: subdirectories on the first, every file at the top on the
// second. Reading, copying in (the upload finds its record by name),
// renaming, and a move from another provider whose name is taken in a
// subdirectory of the destination work on both.
func TestCBRAINMultiLevelOnEachRelease(t *testing.T) {
	for _, release := range []cbraintest.Release{cbraintest.ReleaseCurrent, cbraintest.Release700} {
		t.Run(string(release), func(t *testing.T) {
			env := mountCBRAIN(t, envOptions{release: release, seed: func(t *testing.T, srv *cbraintest.Server, user int) {
				dp := srv.AddProvider("Multi", user, cbraintest.ProviderOptions{Type: "FlatDirLocalDataProvider", Description: "MultiLevel"})
				srv.AddFile(cbraintest.FileSpec{Name: "top.txt", ProviderID: dp, OwnerID: user, Content: []byte("top\n")})
				srv.AddFile(cbraintest.FileSpec{Name: "scan.nii", ProviderID: dp, OwnerID: user, Content: []byte("deep\n"), BrowsePath: "sub-01/anat"})
				srv.AddFile(cbraintest.FileSpec{Name: "README.txt", ProviderID: dp, OwnerID: user, Content: []byte("docs\n"), BrowsePath: "docs"})
			}})
			multi := filepath.Join(env.mnt, "cbrain", "Multi")
			deep := filepath.Join(multi, "sub-01", "anat", "scan.nii")
			want := "docs\nsub-01\ntop.txt\n"
			if release == cbraintest.Release700 {
				deep = filepath.Join(multi, "scan.nii")
				want = "README.txt\nscan.nii\ntop.txt\n"
			}
			if got := run(t, "ls", multi); got != want {
				t.Fatalf("ls Multi:\n%s\nwant:\n%s", got, want)
			}
			if got := run(t, "cat", deep); got != "deep\n" {
				t.Errorf("cat %s: %q", deep, got)
			}

			src := filepath.Join(t.TempDir(), "new.txt")
			os.WriteFile(src, []byte("copied in\n"), 0o644)
			run(t, "cp", src, multi)
			if got := refreshed(t, filepath.Join(multi, "new.txt")); string(got) != "copied in\n" {
				t.Errorf("new.txt holds %q", got)
			}
			run(t, "mv", filepath.Join(multi, "new.txt"), filepath.Join(multi, "renamed.txt"))
			if got := refreshed(t, filepath.Join(multi, "renamed.txt")); string(got) != "copied in\n" {
				t.Errorf("renamed.txt holds %q", got)
			}

			// MainStore/README.txt moves to Multi, where the owner has a
			// README.txt in a subdirectory: the portal refuses the name
			// for the move itself, so it crosses under another one.
			run(t, "mv", filepath.Join(env.mnt, "cbrain", "MainStore", "README.txt"), filepath.Join(multi, "welcome.txt"))
			if got := refreshed(t, filepath.Join(multi, "welcome.txt")); !strings.HasPrefix(string(got), "Welcome to the filesmount CBRAIN demo.") {
				t.Errorf("welcome.txt holds %q", got)
			}
			if out := run(t, "ls", multi); strings.Contains(out, "filesmount-") {
				t.Errorf("a temporary name is left:\n%s", out)
			}
		})
	}
}
