//go:build linux

package e2e

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/filesmount/filesmount/remote/cbrain/cbraintest"
)

// testFiles is content added to a provider "TestDP" for the read tests.
type testFiles struct {
	small      []byte
	bigSize    int64
	bigSeed    int64
	collection map[string][]byte
}

func newTestFiles() *testFiles {
	small := make([]byte, 300_000)
	rand.New(rand.NewSource(1)).Read(small)
	return &testFiles{
		small:   small,
		bigSize: 48<<20 + 12345, // not a multiple of the block size
		bigSeed: 7,
		collection: map[string][]byte{
			"info.txt":           []byte("collection top\n"),
			"anat/T1w.json":      []byte(`{"EchoTime": 0.003}`),
			"anat/deep/note.txt": bytes.Repeat([]byte("deep "), 1000),
		},
	}
}

func (f *testFiles) seed(t *testing.T, srv *cbraintest.Server, user int) {
	dp := srv.AddProvider("TestDP", user, cbraintest.ProviderOptions{})
	srv.AddFile(cbraintest.FileSpec{Name: "small.bin", ProviderID: dp, OwnerID: user, Content: f.small})
	srv.AddFile(cbraintest.FileSpec{Name: "big.bin", ProviderID: dp, OwnerID: user,
		Source: cbraintest.DeterministicContent(f.bigSeed, f.bigSize), Size: f.bigSize})
	srv.AddFile(cbraintest.FileSpec{Name: "Study1", ProviderID: dp, OwnerID: user, Type: "FileCollection", Members: f.collection})
	srv.AddFile(cbraintest.FileSpec{Name: "processing.txt", ProviderID: dp, OwnerID: user, Content: []byte("x"), SizeNull: true})
	remoteDP := srv.AddProvider("RemoteDP", user, cbraintest.ProviderOptions{Remote: true, Type: "SshDataProvider"})
	srv.AddFile(cbraintest.FileSpec{Name: "far.txt", ProviderID: remoteDP, OwnerID: user, Content: []byte("synced on demand\n")})
}

func (f *testFiles) big() []byte {
	b := make([]byte, f.bigSize)
	if _, err := cbraintest.DeterministicContent(f.bigSeed, f.bigSize).ReadAt(b, 0); err != nil && err != io.EOF {
		panic(err)
	}
	return b
}

func sha(b []byte) string { return fmt.Sprintf("%x", sha256.Sum256(b)) }

func TestListStatFind(t *testing.T) {
	files := newTestFiles()
	env := mountCBRAIN(t, envOptions{seed: files.seed})
	dp := filepath.Join(env.mnt, "cbrain", "TestDP")

	out := run(t, "ls", "-l", dp)
	for _, want := range []string{"small.bin", "big.bin", "Study1", "processing.txt"} {
		if !strings.Contains(out, want) {
			t.Errorf("ls -l %s lacks %s:\n%s", dp, want, out)
		}
	}
	if !strings.HasPrefix(strings.Fields(lineWith(out, "Study1"))[0], "d") {
		t.Errorf("the collection is not a directory: %s", lineWith(out, "Study1"))
	}
	if got := strings.TrimSpace(run(t, "stat", "-c", "%s %F", filepath.Join(dp, "big.bin"))); got != strconv.FormatInt(files.bigSize, 10)+" regular file" {
		t.Errorf("stat big.bin = %q", got)
	}
	// A null size (upload still processing) is shown as 0, not hidden.
	if got := strings.TrimSpace(run(t, "stat", "-c", "%s", filepath.Join(dp, "processing.txt"))); got != "0" {
		t.Errorf("stat processing.txt size = %q, want 0", got)
	}
	found := run(t, "find", filepath.Join(dp, "Study1"), "-type", "f")
	for member := range files.collection {
		if !strings.Contains(found, filepath.Join(dp, "Study1", member)) {
			t.Errorf("find lacks %s:\n%s", member, found)
		}
	}
	// Stable mtimes: CBRAIN has none, the documented stand-in is used.
	if got := strings.TrimSpace(run(t, "stat", "-c", "%Y", filepath.Join(dp, "small.bin"))); got != "946684800" {
		t.Errorf("mtime = %s, want 946684800 (2000-01-01)", got)
	}
}

func lineWith(out, word string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, word) {
			return l
		}
	}
	return ""
}

func TestCopyCompare(t *testing.T) {
	files := newTestFiles()
	env := mountCBRAIN(t, envOptions{seed: files.seed})
	dp := filepath.Join(env.mnt, "cbrain", "TestDP")
	dst := t.TempDir()

	run(t, "cp", filepath.Join(dp, "small.bin"), filepath.Join(dp, "big.bin"), dst)
	for name, want := range map[string][]byte{"small.bin": files.small, "big.bin": files.big()} {
		got, err := os.ReadFile(filepath.Join(dst, name))
		if err != nil {
			t.Fatal(err)
		}
		if sha(got) != sha(want) {
			t.Errorf("cp %s: sha256 %s, want %s (len %d vs %d)", name, sha(got), sha(want), len(got), len(want))
		}
	}
	if err := os.WriteFile(filepath.Join(dst, "small.ref"), files.small, 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "cmp", filepath.Join(dp, "small.bin"), filepath.Join(dst, "small.ref"))

	// Members of a collection, through content_loader=collection_file.
	for member, want := range files.collection {
		got, err := os.ReadFile(filepath.Join(dp, "Study1", member))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("read Study1/%s: %q, %v", member, got, err)
		}
	}
	// rsync of the whole collection.
	run(t, "rsync", "-a", filepath.Join(dp, "Study1")+"/", filepath.Join(dst, "Study1"))
	for member, want := range files.collection {
		got, err := os.ReadFile(filepath.Join(dst, "Study1", member))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("rsync Study1/%s: %q, %v", member, got, err)
		}
	}
}

func TestSequentialReadFetchesOnceAndRereadFetchesNothing(t *testing.T) {
	files := newTestFiles()
	env := mountCBRAIN(t, envOptions{seed: files.seed})
	path := filepath.Join(env.mnt, "cbrain", "TestDP", "big.bin")
	ref := filepath.Join(t.TempDir(), "big.ref")
	if err := os.WriteFile(ref, files.big(), 0o644); err != nil {
		t.Fatal(err)
	}
	env.srv.ResetStats()
	run(t, "cmp", path, ref)
	fetched := env.srv.Stats().ContentBytes
	if max := files.bigSize * 105 / 100; fetched > max || fetched < files.bigSize {
		t.Errorf("sequential read of %d bytes fetched %d from the server (want %d..%d)", files.bigSize, fetched, files.bigSize, max)
	}
	t.Logf("sequential read: %d bytes read, %d fetched (%.3f)", files.bigSize, fetched, float64(fetched)/float64(files.bigSize))

	env.srv.ResetStats()
	run(t, "cmp", path, ref)
	if st := env.srv.Stats(); st.ContentBytes != 0 {
		t.Errorf("re-read of an unchanged file fetched %d bytes (%v)", st.ContentBytes, st.ByRoute)
	}
}

func TestRandomAndConcurrentReads(t *testing.T) {
	files := newTestFiles()
	env := mountCBRAIN(t, envOptions{seed: files.seed})
	path := filepath.Join(env.mnt, "cbrain", "TestDP", "big.bin")
	want := files.big()

	// Eight processes read the same file at once; all must see the same bytes.
	ref := filepath.Join(t.TempDir(), "big.ref")
	if err := os.WriteFile(ref, want, 0o644); err != nil {
		t.Fatal(err)
	}
	env.srv.ResetStats()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out, err := command("cmp", path, ref); err != nil {
				errs <- fmt.Errorf("cmp: %v: %s", err, out)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := env.srv.Stats().ByRoute["GET /userfiles/:id/content"]; n != 1 {
		t.Errorf("8 concurrent readers made %d content requests, want 1 shared stream", n)
	}

	// Random reads at arbitrary offsets, compared byte for byte.
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rng := rand.New(rand.NewSource(3))
	for i := 0; i < 300; i++ {
		off := rng.Int63n(files.bigSize)
		n := 1 + rng.Intn(200_000)
		buf := make([]byte, n)
		got, err := f.ReadAt(buf, off)
		if err != nil && err != io.EOF {
			t.Fatalf("ReadAt(%d, %d): %v", off, n, err)
		}
		end := min(off+int64(n), files.bigSize)
		if int64(got) != end-off || !bytes.Equal(buf[:got], want[off:end]) {
			t.Fatalf("ReadAt(%d, %d): %d bytes, mismatch", off, n, got)
		}
	}
}

func TestSyncOnDemandAndProcessingFiles(t *testing.T) {
	files := newTestFiles()
	env := mountCBRAIN(t, envOptions{seed: files.seed})
	// On a remote provider the portal answers 404 until a sync; the
	// mount syncs and retries transparently.
	got := run(t, "cat", filepath.Join(env.mnt, "cbrain", "RemoteDP", "far.txt"))
	if got != "synced on demand\n" {
		t.Errorf("far.txt = %q", got)
	}
	if env.srv.Stats().ByRoute["POST /userfiles/sync_multiple"] < 1 {
		t.Errorf("no sync was requested: %v", env.srv.Stats().ByRoute)
	}
	// A file whose upload is still processing cannot be opened yet.
	out, err := command("cat", filepath.Join(env.mnt, "cbrain", "TestDP", "processing.txt"))
	if err == nil || !strings.Contains(out, "Resource temporarily unavailable") {
		t.Errorf("cat of a processing file: %v %q, want EAGAIN", err, out)
	}
	if !strings.Contains(env.logs.String(), "processing.txt") {
		t.Errorf("no log line names the processing file:\n%s", env.logs.String())
	}
}

func TestReadOnlyMountRefusesWrites(t *testing.T) {
	env := mountCBRAIN(t, envOptions{readOnly: true})
	for _, args := range [][]string{
		{"touch", filepath.Join(env.mnt, "cbrain", "MainStore", "new.txt")},
		{"mkdir", filepath.Join(env.mnt, "cbrain", "MainStore", "newdir")},
	} {
		out, err := command(args[0], args[1:]...)
		if err == nil || !strings.Contains(out, "Read-only file system") {
			t.Errorf("%v: %v %q, want EROFS", args, err, out)
		}
	}
}

// TestKernelReadAheadRaised checks that the mount asks the kernel for
// 1 MiB read-ahead: the kernel offers FUSE 128 KiB at INIT, which made
// every sequential read a round trip per 128 KiB (a third of the
// throughput from the daemon's cache, see bench row 3).
func TestKernelReadAheadRaised(t *testing.T) {
	_, m, _ := mountMem(t)
	if os.Geteuid() != 0 {
		// Only root may write sysfs: the mount says why it could not.
		if logs := m.logs.String(); !strings.Contains(logs, "could not raise the kernel's read-ahead") {
			t.Errorf("mounted without root and without a log line about read-ahead:\n%s", logs)
		}
		return
	}
	var st syscall.Stat_t
	if err := syscall.Stat(m.mnt, &st); err != nil {
		t.Fatal(err)
	}
	bdi := fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", unix.Major(st.Dev), unix.Minor(st.Dev))
	raw, err := os.ReadFile(bdi)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(raw)); got != "1024" {
		t.Errorf("%s = %s KiB, want 1024", bdi, got)
	}
}
