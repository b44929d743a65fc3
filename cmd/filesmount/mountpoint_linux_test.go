package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// mountOtherFS mounts a small tmpfs at dir for the test, and returns what
// filesmount's refusal to mount over it says.
func mountOtherFS(t *testing.T, dir string) (string, bool) {
	t.Helper()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() {
		for isMounted(dir) {
			detachMount(dir)
		}
	})
	return "directory already mounted (tmpfs from tmpfs)", true
}

// TestEmptyBindMountIsRefused: a bind mount has the device of the file
// system it comes from, so comparing st_dev with the parent's would miss
// it; the mount table does not. It is empty here, so only the mount check
// can refuse it.
func TestEmptyBindMountIsRefused(t *testing.T) {
	requireRootFUSE(t)
	bin := buildBinary(t)
	srv, requests := countingRemote(t)
	base := t.TempDir()
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	os.Mkdir(src, 0o755)
	os.Mkdir(dst, 0o755)
	if err := syscall.Mount(src, dst, "", syscall.MS_BIND, ""); err != nil {
		t.Fatalf("bind mount: %v", err)
	}
	t.Cleanup(func() {
		for isMounted(dst) {
			detachMount(dst)
		}
	})
	out, code := runCLI(t, bin, []string{"CBRAIN_API_TOKEN=0123456789abcdef0123456789abcdef"}, "",
		"--cbrain-url", srv.URL, "--cache-dir", t.TempDir(), dst)
	checkRefusal(t, "empty bind mount", out, code, "directory already mounted")
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests reached the portal", n)
	}
}
