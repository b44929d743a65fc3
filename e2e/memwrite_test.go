//go:build linux

package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/posixtest"

	"github.com/filesmount/filesmount/remote"
	"github.com/filesmount/filesmount/remote/remotetest"
)

// The write machinery (staging, flush, journal, recovery) is common to
// all remotes; these tests drive it through an in-memory remote that can
// do everything, so failures point at fs rather than at a backend.

func mountMem(t *testing.T) (*remotetest.MemStore, *mounted, string) {
	t.Helper()
	requireFUSE(t)
	mem := remotetest.NewMemStore("mem")
	m := mountStores(t, mountOptions{metadataTTL: time.Minute}, mem)
	return mem, m, filepath.Join(m.mnt, "mem")
}

// TestPosixOnWritableRemote runs go-fuse's POSIX conformance tests that
// match what a writable remote offers: no links, xattrs, locks or
// exchange, and no stored modes (FileBasic checks a created file's mode).
func TestPosixOnWritableRemote(t *testing.T) {
	for _, name := range []string{"TruncateFile", "TruncateNoFile", "AppendWrite", "MkdirRmdir",
		"RenameOverwriteDestNoExist", "RenameOverwriteDestExist", "ReadDirBasic", "ParallelFileOpen", "FdLeak", "DirSeek"} {
		t.Run(name, func(t *testing.T) {
			_, _, dir := mountMem(t)
			posixtest.All[name](t, dir)
		})
	}
}

func TestFlushUploadsOnlyChanges(t *testing.T) {
	mem, _, dir := mountMem(t)
	f, err := os.Create(filepath.Join(dir, "a.txt"))
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("hello")
	dup, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	syscall.Close(dup) // a Flush with content
	if n := mem.Uploads(); n != 1 {
		t.Errorf("after the first close: %d uploads", n)
	}
	dup, _ = syscall.Dup(int(f.Fd()))
	syscall.Close(dup) // a Flush with nothing new
	if n := mem.Uploads(); n != 1 {
		t.Errorf("a Flush with nothing new uploaded: %d uploads", n)
	}
	f.WriteString(" world")
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if n := mem.Uploads(); n != 2 {
		t.Errorf("fsync + close: %d uploads, want 2", n)
	}
	if got, _ := mem.Content("a.txt"); string(got) != "hello world" {
		t.Errorf("remote has %q", got)
	}
}

func TestRandomWritesTruncateAndReadBack(t *testing.T) {
	mem, _, dir := mountMem(t)
	path := filepath.Join(dir, "data.bin")
	want := bytes.Repeat([]byte("0123456789"), 100_000) // 1 MB
	if err := os.WriteFile(path, want, 0o644); err != nil {
		t.Fatal(err)
	}
	// dd conv=notrunc writes into the middle without truncating.
	patch := filepath.Join(t.TempDir(), "patch")
	os.WriteFile(patch, []byte("XXXX"), 0o644)
	run(t, "dd", "if="+patch, "of="+path, "bs=1", "seek=500000", "conv=notrunc", "status=none")
	copy(want[500000:], "XXXX")
	if got, _ := mem.Content("data.bin"); !bytes.Equal(got, want) {
		t.Fatal("remote content after dd conv=notrunc differs")
	}
	run(t, "truncate", "-s", "1234", path)
	if got, _ := mem.Content("data.bin"); !bytes.Equal(got, want[:1234]) {
		t.Fatalf("after truncate: %d bytes", len(got))
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, want[:1234]) {
		t.Fatal("read back after truncate differs")
	}
	// Read-back through the same descriptor while writing.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("abc"), 10)
	buf := make([]byte, 5)
	f.ReadAt(buf, 9)
	f.Close()
	if string(buf) != string(want[9:10])+"abc"+string(want[13:14]) {
		t.Errorf("read-back %q", buf)
	}
}

func TestFailedUploadKeepsDataAndReportsAtClose(t *testing.T) {
	mem, m, dir := mountMem(t)
	mem.FailUploads(fmt.Errorf("memstore: disk quota exceeded for test: %w", remote.ErrQuota))
	src := filepath.Join(t.TempDir(), "src.bin")
	data := bytes.Repeat([]byte("precious "), 10000)
	os.WriteFile(src, data, 0o644)
	out, err := command("cp", src, filepath.Join(dir, "precious.bin"))
	if err == nil || !strings.Contains(out, "quota") {
		t.Fatalf("cp with a failing upload: %v %q, want a quota error at close", err, out)
	}
	kept := filepath.Join(m.cacheDir, "recovery", "mem", "precious.bin")
	if got, err := os.ReadFile(kept); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("recovery copy: %v (%d bytes)", err, len(got))
	}
	if !strings.Contains(m.logs.String(), kept) {
		t.Errorf("no log line names %s:\n%s", kept, m.logs.String())
	}
	if fi, _ := os.Stat(filepath.Join(m.cacheDir, "recovery")); fi.Mode().Perm() != 0o700 {
		t.Errorf("recovery folder mode %o", fi.Mode().Perm())
	}
	mem.FailUploads(nil)
	run(t, "cp", kept, filepath.Join(dir, "precious.bin"))
	if got, _ := mem.Content("precious.bin"); !bytes.Equal(got, data) {
		t.Error("retry from the recovery folder did not land")
	}
}

func TestTemporaryNamesUploadWhenRenamed(t *testing.T) {
	mem, m, dir := mountMem(t)
	mem.SetCheckName(func(name string) error {
		if strings.HasPrefix(name, ".") {
			return fmt.Errorf("names cannot start with a dot: %w", remote.ErrInvalid)
		}
		return nil
	})
	// An illegal name that is not a temporary file's is refused at create.
	if err := os.WriteFile(filepath.Join(dir, ".hidden"), []byte("x"), 0o644); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("create .hidden: %v, want EINVAL", err)
	}
	// rsync's temporary file stays local, then lands under its final name.
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "report.txt"), []byte("final content"), 0o644)
	run(t, "rsync", "-a", src+"/", dir+"/")
	if got, _ := mem.Content("report.txt"); string(got) != "final content" {
		t.Errorf("after rsync: %q", got)
	}
	if n := mem.Uploads(); n != 1 {
		t.Errorf("rsync caused %d uploads, want 1", n)
	}
	nothingStaged(t, m)
	// rsync over an existing file, and --inplace.
	os.WriteFile(filepath.Join(src, "report.txt"), []byte("second version, longer"), 0o644)
	run(t, "rsync", "-a", src+"/", dir+"/")
	if got, _ := mem.Content("report.txt"); string(got) != "second version, longer" {
		t.Errorf("after second rsync: %q", got)
	}
	os.WriteFile(filepath.Join(src, "report.txt"), []byte("third, in place"), 0o644)
	run(t, "rsync", "-a", "--inplace", src+"/", dir+"/")
	if got, _ := mem.Content("report.txt"); string(got) != "third, in place" {
		t.Errorf("after rsync --inplace: %q", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("leftovers in the directory: %v", entries)
	}
	nothingStaged(t, m)
}

// nothingStaged waits until every staged copy has been uploaded and
// dropped, with its journal record (the release that follows each close
// arrives asynchronously).
func nothingStaged(t *testing.T, m *mounted) {
	t.Helper()
	waitFor(t, "empty journal and staging", func() bool {
		j, _ := os.ReadDir(filepath.Join(m.cacheDir, "journal"))
		s, _ := os.ReadDir(filepath.Join(m.cacheDir, "staging"))
		return len(j) == 0 && len(s) == 0
	})
}

func TestEditorSaveAndConcurrentWriters(t *testing.T) {
	mem, _, dir := mountMem(t)
	mem.Put("notes.txt", []byte("old notes"))
	// write-temp-then-rename-over, as editors and many libraries save.
	tmp := filepath.Join(dir, "notes.txt.tmp123")
	os.WriteFile(tmp, []byte("new notes"), 0o644)
	if err := os.Rename(tmp, filepath.Join(dir, "notes.txt")); err != nil {
		t.Fatal(err)
	}
	if got, _ := mem.Content("notes.txt"); string(got) != "new notes" {
		t.Errorf("after save: %q", got)
	}
	if _, ok := mem.Content("notes.txt.tmp123"); ok {
		t.Error("the temporary file is still on the remote")
	}
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		go func(i int) {
			data := bytes.Repeat([]byte{byte('a' + i)}, 200_000+i)
			errs <- os.WriteFile(filepath.Join(dir, fmt.Sprintf("w%d.bin", i)), data, 0o644)
		}(i)
	}
	for i := 0; i < 8; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	for i := 0; i < 8; i++ {
		got, _ := mem.Content(fmt.Sprintf("w%d.bin", i))
		if len(got) != 200_000+i || got[0] != byte('a'+i) {
			t.Errorf("w%d.bin: %d bytes", i, len(got))
		}
	}
	run(t, "rm", filepath.Join(dir, "w0.bin"))
	if _, ok := mem.Content("w0.bin"); ok {
		t.Error("rm did not remove the remote file")
	}
}

// Write-only opens use direct I/O (the kernel hands each write(2) to the
// daemon without first copying it into its page cache). Appends, in-place
// overwrites and a reader that had the old content cached must all still
// see exactly what was written.
func TestWriteOnlyOpensAppendOverwriteAndReadBack(t *testing.T) {
	mem, _, dir := mountMem(t)
	f := filepath.Join(dir, "log.txt")
	run(t, "sh", "-c", fmt.Sprintf("echo one > '%s' && echo two >> '%s' && echo three >> '%s'", f, f, f))
	if got := run(t, "cat", f); got != "one\ntwo\nthree\n" {
		t.Fatalf("after appends: %q", got)
	}
	// The kernel now caches the file's pages; overwrite two bytes in place
	// (O_WRONLY without O_TRUNC) and read again.
	cmd := exec.Command("dd", "of="+f, "bs=1", "seek=1", "conv=notrunc", "status=none")
	cmd.Stdin = strings.NewReader("NE")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dd: %v\n%s", err, out)
	}
	if got := run(t, "cat", f); got != "oNE\ntwo\nthree\n" {
		t.Fatalf("after the in-place overwrite: %q", got)
	}
	if got, ok := mem.Content("log.txt"); !ok || string(got) != "oNE\ntwo\nthree\n" {
		t.Fatalf("remote has %q (found: %v)", got, ok)
	}
}
