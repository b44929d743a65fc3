package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/filesmount/filesmount/remote/cbrain/cbraintest"
)

// TestUnusableMountpointRefusedBeforeAnyRequest: a MOUNTPOINT that is
// not empty, not a directory or missing stops the start with one line and
// exit status 2, before the portal is asked anything.
func TestUnusableMountpointRefusedBeforeAnyRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	srv, requests := countingRemote(t)
	env := []string{"CBRAIN_API_TOKEN=0123456789abcdef0123456789abcdef"}
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "notes.txt"), []byte("mine"), 0o644)
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	for _, c := range []struct{ dir, want string }{
		{full, "directory is not empty"},
		{file, "not a directory"},
		{filepath.Join(t.TempDir(), "missing"), "no such file"},
	} {
		out, code := runCLI(t, bin, env, "", "--cbrain-url", srv.URL, "--cache-dir", t.TempDir(), c.dir)
		checkRefusal(t, c.dir, out, code, c.want)
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests reached the portal before the mountpoint was refused", n)
	}
	if got, _ := os.ReadFile(filepath.Join(full, "notes.txt")); string(got) != "mine" {
		t.Errorf("the non-empty mountpoint's file now holds %q", got)
	}
}

// TestAllowNonEmptyMountsOverFilesAndMounts: --allow-non-empty (or
// -o nonempty, here with --attr-timeout 0 and --spool-size 0) mounts over a non-empty directory and over another file
// system, hiding them until the unmount; a directory where a filesmount is
// mounted is refused even with it; the demo runs twice in a row in one
// directory (what `make demo` does).
func TestAllowNonEmptyMountsOverFilesAndMounts(t *testing.T) {
	requireRootFUSE(t)
	bin := buildBinary(t)
	srv, err := cbraintest.New(cbraintest.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	_, token, err := cbraintest.SeedDemo(srv)
	if err != nil {
		t.Fatal(err)
	}
	mount := func(dir string, flags ...string) []string {
		return append(append([]string{"--cbrain-url", srv.URL(), "--cache-dir", t.TempDir()}, flags...), dir)
	}
	readme := func(dir string) string { return filepath.Join(dir, "cbrain", "MainStore", "README.txt") }

	// Over a directory with a file.
	mnt := filepath.Join(t.TempDir(), "mnt")
	os.Mkdir(mnt, 0o755)
	hidden := filepath.Join(mnt, "hidden.txt")
	os.WriteFile(hidden, []byte("under the mount"), 0o644)
	t.Cleanup(func() {
		if isMounted(mnt) {
			detachMount(mnt)
		}
	})
	out, code := runCLI(t, bin, []string{"CBRAIN_API_TOKEN=" + token}, "", mount(mnt)...)
	checkRefusal(t, "non-empty without the flag", out, code, "directory is not empty")
	daemon, _ := startDaemonArgs(t, bin, token, mount(mnt, "--allow-non-empty")...)
	if _, err := os.Stat(readme(mnt)); err != nil {
		t.Errorf("mounted over a non-empty directory: %v", err)
	}
	if _, err := os.Stat(hidden); err == nil {
		t.Error("the directory's own file shows through the mount")
	}

	// A second filesmount on the same directory is refused, even with the
	// flag, and asks nothing of the portal.
	before := srv.Stats().Requests
	for _, flags := range [][]string{nil, {"--allow-non-empty"}} {
		out, code := runCLI(t, bin, []string{"CBRAIN_API_TOKEN=" + token}, "", mount(mnt, flags...)...)
		checkRefusal(t, "over a filesmount "+strings.Join(flags, " "), out, code, "filesmount is already mounted there")
	}
	if n := srv.Stats().Requests - before; n != 0 {
		t.Errorf("the refused second daemon made %d requests", n)
	}
	stopDaemon(t, daemon)
	if got, err := os.ReadFile(hidden); err != nil || string(got) != "under the mount" {
		t.Errorf("after the unmount the hidden file reads %q, %v", got, err)
	}

	// Over another file system, spelled the FUSE 2 way.
	other := filepath.Join(t.TempDir(), "other")
	os.Mkdir(other, 0o755)
	if want, ok := mountOtherFS(t, other); ok {
		out, code = runCLI(t, bin, []string{"CBRAIN_API_TOKEN=" + token}, "", mount(other)...)
		checkRefusal(t, "over another file system", out, code, want)
		// With the zeros that mean "none" (they must not fall back to the
		// defaults, nor be refused): reads still work.
		daemon, _ = startDaemonArgs(t, bin, token, mount(other, "-o", "nonempty", "--attr-timeout", "0", "--spool-size", "0")...)
		if got, err := os.ReadFile(readme(other)); err != nil || len(got) == 0 {
			t.Errorf("mounted over another file system: %d bytes, %v", len(got), err)
		}
		stopDaemon(t, daemon)
	}

	// The demo twice in a row, as `make demo` twice.
	demo := filepath.Join(t.TempDir(), "demo")
	t.Cleanup(func() {
		if isMounted(demo) {
			detachMount(demo)
		}
	})
	for i := 0; i < 2; i++ {
		daemon, out := startDemo(t, bin, demo)
		if _, err := os.Stat(readme(demo)); err != nil {
			t.Errorf("demo run %d: %v\n%s", i+1, err, out.String())
		}
		stopDaemon(t, daemon)
	}
}
