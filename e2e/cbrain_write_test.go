//go:build linux

package e2e

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func randomBytes(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

// refreshed reads path after asking its directory to list the remote
// again, so the content comes from the portal, not from what the mount
// remembers of the upload.
func refreshed(t *testing.T, path string) []byte {
	t.Helper()
	os.Stat(filepath.Join(filepath.Dir(path), ".filesmount-refresh"))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read back %s: %v", path, err)
	}
	return b
}

func TestCBRAINCopyInOverwriteAndTools(t *testing.T) {
	env := mountCBRAIN(t, envOptions{})
	dp := filepath.Join(env.mnt, "cbrain", "MainStore")
	src := t.TempDir()
	small, big := randomBytes(100_000, 1), randomBytes(24<<20+99, 2)
	os.WriteFile(filepath.Join(src, "small.dat"), small, 0o644)
	os.WriteFile(filepath.Join(src, "big.dat"), big, 0o644)

	run(t, "cp", filepath.Join(src, "small.dat"), filepath.Join(src, "big.dat"), dp)
	run(t, "cmp", filepath.Join(src, "big.dat"), filepath.Join(dp, "big.dat"))
	if got := refreshed(t, filepath.Join(dp, "small.dat")); !bytes.Equal(got, small) {
		t.Error("small.dat on the portal differs")
	}
	if n := env.srv.Stats().ByRoute["POST /userfiles"]; n != 2 {
		t.Errorf("%d uploads for 2 files", n)
	}

	// cp onto an existing userfile: replaced safely, same name.
	small2 := randomBytes(50_000, 3)
	os.WriteFile(filepath.Join(src, "small.dat"), small2, 0o644)
	run(t, "cp", filepath.Join(src, "small.dat"), dp)
	if got := refreshed(t, filepath.Join(dp, "small.dat")); !bytes.Equal(got, small2) {
		t.Error("overwrite: portal content differs")
	}
	if out := run(t, "ls", dp); strings.Contains(out, "filesmount-new") || strings.Contains(out, "filesmount-old") {
		t.Errorf("temporary userfiles left behind:\n%s", out)
	}

	// Random writes and truncate on an existing userfile.
	patch := filepath.Join(src, "patch")
	os.WriteFile(patch, []byte("PATCH"), 0o644)
	run(t, "dd", "if="+patch, "of="+filepath.Join(dp, "big.dat"), "bs=1", "seek=1000000", "conv=notrunc", "status=none")
	copy(big[1000000:], "PATCH")
	if got := refreshed(t, filepath.Join(dp, "big.dat")); !bytes.Equal(got, big) {
		t.Error("dd conv=notrunc: portal content differs")
	}
	run(t, "truncate", "-s", "777", filepath.Join(dp, "small.dat"))
	if got := refreshed(t, filepath.Join(dp, "small.dat")); !bytes.Equal(got, small2[:777]) {
		t.Errorf("truncate: %d bytes", len(got))
	}

	// rsync, default (temporary .name.XXXXXX then rename) and --inplace.
	tree := t.TempDir()
	os.WriteFile(filepath.Join(tree, "a.txt"), []byte("alpha\n"), 0o644)
	os.WriteFile(filepath.Join(tree, "b.json"), []byte(`{"b":1}`), 0o644)
	run(t, "rsync", "-a", tree+"/", dp+"/")
	os.WriteFile(filepath.Join(tree, "a.txt"), []byte("alpha, second\n"), 0o644)
	run(t, "rsync", "-a", "--inplace", tree+"/", dp+"/")
	if got := refreshed(t, filepath.Join(dp, "a.txt")); string(got) != "alpha, second\n" {
		t.Errorf("rsync --inplace: %q", got)
	}
	if got := refreshed(t, filepath.Join(dp, "b.json")); string(got) != `{"b":1}` {
		t.Errorf("rsync: %q", got)
	}

	// An editor's save: write a temporary file, rename it over the original.
	os.WriteFile(filepath.Join(dp, "a.txt.new1234"), []byte("saved by editor\n"), 0o644)
	run(t, "mv", filepath.Join(dp, "a.txt.new1234"), filepath.Join(dp, "a.txt"))
	if got := refreshed(t, filepath.Join(dp, "a.txt")); string(got) != "saved by editor\n" {
		t.Errorf("editor save: %q", got)
	}

	// Concurrent writers of different files.
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if err := os.WriteFile(filepath.Join(dp, fmt.Sprintf("par%d.bin", i)), randomBytes(300_000, int64(10+i)), 0o644); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	for i := 0; i < 4; i++ {
		if got := refreshed(t, filepath.Join(dp, fmt.Sprintf("par%d.bin", i))); !bytes.Equal(got, randomBytes(300_000, int64(10+i))) {
			t.Errorf("par%d.bin differs", i)
		}
	}
}

func TestCBRAINRenameMoveRemoveAndRefusals(t *testing.T) {
	env := mountCBRAIN(t, envOptions{})
	main := filepath.Join(env.mnt, "cbrain", "MainStore")
	arch := filepath.Join(env.mnt, "cbrain", "ArchiveSSH")

	run(t, "mv", filepath.Join(main, "metadata.json"), filepath.Join(main, "meta-renamed.json"))
	if got := refreshed(t, filepath.Join(main, "meta-renamed.json")); !strings.Contains(string(got), "sub-01") {
		t.Errorf("renamed file: %q", got)
	}
	if _, err := os.Stat(filepath.Join(main, "metadata.json")); !os.IsNotExist(err) {
		t.Errorf("old name still there: %v", err)
	}
	run(t, "mv", filepath.Join(main, "README.txt"), filepath.Join(arch, "README.txt"))
	if got := refreshed(t, filepath.Join(arch, "README.txt")); !strings.Contains(string(got), "Welcome") {
		t.Errorf("moved file: %q", got)
	}
	run(t, "rm", filepath.Join(arch, "README.txt"))
	if _, err := os.Stat(filepath.Join(arch, "README.txt")); !os.IsNotExist(err) {
		t.Errorf("removed file still there: %v", err)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"mkdir", filepath.Join(main, "newdir")}, "Operation not supported"},
		{[]string{"touch", filepath.Join(main, "bad name.txt")}, "Invalid argument"},
		{[]string{"touch", filepath.Join(env.mnt, "cbrain", "NewProvider")}, "Read-only file system"},
		{[]string{"cp", "/etc/hostname", filepath.Join(main, "sub-01_anat", "x.txt")}, "Read-only file system"},
	} {
		out, err := command(tc.args[0], tc.args[1:]...)
		if err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("%v: %v %q, want %q", tc.args, err, out, tc.want)
		}
	}
	logs := env.logs.String()
	for _, want := range []string{"newdir", "bad name.txt"} {
		if !strings.Contains(logs, want) {
			t.Errorf("no log line explains the refusal of %s:\n%s", want, logs)
		}
	}
}

func TestCBRAINRejectedUploadKeepsData(t *testing.T) {
	env := mountCBRAIN(t, envOptions{})
	env.srv.SetQuotaExceeded(env.user, true)
	src := filepath.Join(t.TempDir(), "results.csv")
	data := []byte("a,b\n1,2\n")
	os.WriteFile(src, data, 0o644)
	out, err := command("cp", src, filepath.Join(env.mnt, "cbrain", "MainStore"))
	if err == nil || !strings.Contains(out, "Disk quota exceeded") {
		t.Fatalf("cp over quota: %v %q, want EDQUOT at close", err, out)
	}
	kept := filepath.Join(env.m.cacheDir, "recovery", "cbrain", "MainStore", "results.csv")
	if got, err := os.ReadFile(kept); err != nil || !bytes.Equal(got, data) {
		t.Errorf("recovery copy: %v %q", err, got)
	}
	if !strings.Contains(env.logs.String(), kept) {
		t.Errorf("no log line names where the data is:\n%s", env.logs.String())
	}

	// An upload the portal never finishes is a reported timeout, not a hang.
	env.srv.SetQuotaExceeded(env.user, false)
	env.srv.SetUploadNeverCompletes(true)
	out, err = command("cp", src, filepath.Join(env.mnt, "cbrain", "MainStore", "stuck.csv"))
	if err == nil || !strings.Contains(out, "timed out") {
		t.Errorf("never-completing upload: %v %q, want ETIMEDOUT", err, out)
	}
}
