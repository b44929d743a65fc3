//go:build linux

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/filesmount/filesmount/internal/faults"
	"github.com/filesmount/filesmount/remote"
	"github.com/filesmount/filesmount/remote/cbrain"
	"github.com/filesmount/filesmount/remote/cbrain/cbraintest"
	"github.com/filesmount/filesmount/remote/vrchat"
	"github.com/filesmount/filesmount/remote/vrchat/vrchattest"
)

// TestSoak runs readers and writers on both remotes through one real mount
// while faults fire at random (5xx and 429 bursts, latency, mid-body
// resets, short bodies, stalls), then checks the invariants: every read
// returned the exact bytes or an error; every write is on its remote byte
// for byte, or close reported it and its data is in the recovery folder;
// no file descriptor or goroutine leak; memory within budget.
//
// FILESMOUNT_SOAK_DURATION (default 6s) and FILESMOUNT_SOAK_SEED replay or
// lengthen it; `make soak` runs it for minutes.
func TestSoak(t *testing.T) {
	requireFUSE(t)
	duration := 6 * time.Second
	if s := os.Getenv("FILESMOUNT_SOAK_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatal(err)
		}
		duration = d
	}
	seed := time.Now().UnixNano()
	if s := os.Getenv("FILESMOUNT_SOAK_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	t.Logf("soak: seed %d, duration %v (replay with FILESMOUNT_SOAK_SEED=%d)", seed, duration, seed)

	inj := faults.New(seed)
	cb, err := cbraintest.New(cbraintest.Options{DataDir: t.TempDir(), UploadDelay: 20 * time.Millisecond,
		BACDelay: 10 * time.Millisecond, Faults: inj})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cb.Close)
	cbUser, token, err := cbraintest.SeedDemo(cb)
	if err != nil {
		t.Fatal(err)
	}
	vr, err := vrchattest.New(vrchattest.Options{DataDir: t.TempDir(), MinPartSize: 1 << 20, Faults: inj})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(vr.Close)
	vrUser := vr.AddUser("creator", "pw")

	// Objects larger than the cache, so reads keep going to the remotes.
	type object struct {
		path string // relative to the mount
		data []byte
	}
	var objects []object
	dp := cb.AddProvider("Soak", cbUser, cbraintest.ProviderOptions{})
	for i := 0; i < 3; i++ {
		size := int64(3<<20 + i*777_777)
		data := make([]byte, size)
		cbraintest.DeterministicContent(int64(100+i), size).ReadAt(data, 0)
		cb.AddFile(cbraintest.FileSpec{Name: fmt.Sprintf("in%d.bin", i), ProviderID: dp, OwnerID: cbUser, Content: data})
		objects = append(objects, object{fmt.Sprintf("cbrain/Soak/in%d.bin", i), data})
	}
	for i := 0; i < 2; i++ {
		size := int64(6<<20 + i*333_333)
		data := make([]byte, size)
		vrchattest.DeterministicContent(int64(200+i), size).ReadAt(data, 0)
		vr.AddFile(vrchattest.FileSpec{OwnerID: vrUser, Name: fmt.Sprintf("Soak %d", i), MimeType: "application/octet-stream",
			Extension: ".bin", Versions: []vrchattest.VersionSpec{{Content: data}}})
		objects = append(objects, object{fmt.Sprintf("vrchat/Soak %d/1.bin", i), data})
	}

	cc, err := cbrain.NewClient(cbrain.Config{URL: cb.URL(), Token: token})
	if err != nil {
		t.Fatal(err)
	}
	cc.PollInterval = 10 * time.Millisecond
	cc.UploadTimeout = 20 * time.Second
	auth, twoFA := vr.NewSession(vrUser)
	vc, err := vrchat.NewClient(vrchat.Config{URL: vr.URL(), UserAgent: "filesmount/soak soak@filesmount.test",
		Cookies:  vrchat.Cookies{Auth: auth, TwoFactorAuth: twoFA},
		Upload:   vrchat.UploadOptions{PartSize: 1 << 20, PollInterval: 10 * time.Millisecond, PollMaxInterval: 50 * time.Millisecond},
		Throttle: testThrottle})
	if err != nil {
		t.Fatal(err)
	}
	// Small caches, so that reads keep reaching the remotes (and their faults).
	const budget = 4 << 20
	m := mountStores(t, mountOptions{cacheSize: budget, spoolSize: 5 << 20, metadataTTL: 2 * time.Second}, cbrain.NewStore(cc), vrchat.NewStore(vc))

	// Warm up the listings before counting descriptors and goroutines.
	for _, o := range objects {
		if _, err := os.Stat(filepath.Join(m.mnt, o.path)); err != nil {
			t.Fatal(err)
		}
	}
	baseFDs, baseGoroutines, baseRSS := openFDs(), runtime.NumGoroutine(), rssBytes(t)
	peakRSS := watchRSS(t)

	inj.Add(
		faults.Rule{Kind: faults.Status, Status: 503, Probability: 0.04},
		faults.Rule{Kind: faults.Status, Status: 429, RetryAfter: "0", Probability: 0.02},
		faults.Rule{Kind: faults.Status, Status: 500, Probability: 0.02},
		faults.Rule{Kind: faults.Latency, Delay: 3 * time.Millisecond, Probability: 0.2},
		faults.Rule{Kind: faults.Reset, Route: "content", After: 200_000, Probability: 0.05},
		faults.Rule{Kind: faults.Reset, Route: "GET s3", After: 100_000, Probability: 0.05},
		faults.Rule{Kind: faults.Short, Route: "GET s3", After: 50_000, Probability: 0.03},
		faults.Rule{Kind: faults.Stall, Route: "GET s3", Delay: 100 * time.Millisecond, After: 10_000, Probability: 0.03},
	)

	var (
		reads, readErrs, writes, writeErrs, bytesVerified atomic.Int64
		mu                                                sync.Mutex // protects written, failedWrites and wrong
		written                                           []soakWrite
		failedWrites                                      []soakWrite
		wrong                                             []string
	)
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ { // readers
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(seed + int64(w)))
			for ctx.Err() == nil {
				o := objects[rng.Intn(len(objects))]
				off := rng.Int63n(int64(len(o.data)))
				buf := make([]byte, 1+rng.Intn(600_000))
				n, err := readAt(filepath.Join(m.mnt, o.path), buf, off)
				reads.Add(1)
				if err != nil && !errors.Is(err, io.EOF) {
					readErrs.Add(1)
					continue
				}
				if !bytes.Equal(buf[:n], o.data[off:off+int64(n)]) || (n < len(buf) && off+int64(n) != int64(len(o.data))) {
					mu.Lock()
					wrong = append(wrong, fmt.Sprintf("%s at %d+%d: wrong bytes", o.path, off, n))
					mu.Unlock()
				}
				bytesVerified.Add(int64(n))
			}
		}(w)
	}
	for w := 0; w < 2; w++ { // writers
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(seed + 100 + int64(w)))
			for i := 0; ctx.Err() == nil; i++ {
				// Remember how to make the content, not the content: a long
				// soak writes gigabytes, which the test must not hold.
				rec := soakWrite{seed: rng.Int63(), size: 1 + rng.Intn(2<<20)}
				data := rec.data()
				var rel string
				if rng.Intn(2) == 0 {
					rel = fmt.Sprintf("cbrain/MainStore/soak-%d-%d.bin", w, i)
				} else {
					dir := fmt.Sprintf("vrchat/Soak writer %d-%d", w, i)
					if err := os.Mkdir(filepath.Join(m.mnt, dir), 0o755); err != nil {
						continue
					}
					rel = dir + "/1.bin"
				}
				err := os.WriteFile(filepath.Join(m.mnt, strings.Replace(rel, "/1.bin", "/data.bin", 1)), data, 0o644)
				writes.Add(1)
				rec.path = rel
				mu.Lock()
				if err != nil {
					writeErrs.Add(1)
					failedWrites = append(failedWrites, rec)
				} else {
					written = append(written, rec)
				}
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	maxRSS := peakRSS() // the verification below reads files into the test's memory
	stats := inj.Stats()
	injected := inj.Total()
	inj.Reset() // verify with a healthy remote

	for _, s := range wrong {
		t.Error(s)
	}
	lost := 0
	for _, w := range written {
		got, want := refreshedRead(filepath.Join(m.mnt, w.path)), w.data()
		if !bytes.Equal(got, want) {
			lost++
			t.Errorf("write %s reported success but the remote has %d bytes (want %d)", w.path, len(got), len(want))
		}
		bytesVerified.Add(int64(len(want)))
	}
	for _, o := range failedWrites {
		if !inRecoveryExact(filepath.Join(m.cacheDir, "recovery"), o.data()) {
			lost++
			t.Errorf("write %s failed at close but its data is not in the recovery folder", o.path)
		}
	}
	time.Sleep(500 * time.Millisecond) // let released handles and idle connections settle
	if fds := openFDs(); fds > baseFDs+2 {
		t.Errorf("file descriptors: %d before, %d after: a leak: %v", baseFDs, fds, fdTargets())
	}
	if st := m.cache.Stats(); spoolFDs() > st.SpoolsCompleted-st.SpoolsEvicted {
		t.Errorf("%d spool files open, but the cache keeps %d spools: a leak (%+v)", spoolFDs(), st.SpoolsCompleted-st.SpoolsEvicted, st)
	}
	if g := runtime.NumGoroutine(); g > baseGoroutines+40 {
		t.Errorf("goroutines: %d before, %d after: a leak", baseGoroutines, g)
	}
	if !raceEnabled && maxRSS-baseRSS > budget+64<<20 {
		t.Errorf("RSS grew by %d MiB; budget %d MiB + 64 MiB", (maxRSS-baseRSS)>>20, budget>>20)
	}
	log.SetFlags(0)
	t.Logf("soak: %d reads (%d errors surfaced), %d writes (%d reported failed, all kept), %d faults injected %v, %d MiB verified, 0 wrong bytes: %v, lost writes: %d, RSS +%d MiB",
		reads.Load(), readErrs.Load(), writes.Load(), writeErrs.Load(), injected, stats, bytesVerified.Load()>>20, len(wrong) == 0, lost, (maxRSS-baseRSS)>>20)
	if writes.Load() == 0 || reads.Load() == 0 || injected == 0 {
		t.Errorf("the soak did not exercise anything: %d reads, %d writes, %d faults", reads.Load(), writes.Load(), injected)
	}
	_ = remote.ErrCorrupt
}

func readAt(path string, buf []byte, off int64) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n, err := f.ReadAt(buf, off)
	// Drop the kernel's pages so later reads reach the daemon again.
	unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	return n, err
}

func refreshedRead(path string) []byte {
	os.Stat(filepath.Join(filepath.Dir(path), ".filesmount-refresh"))
	got, _ := os.ReadFile(path)
	return got
}

func inRecoveryExact(dir string, data []byte) bool {
	found := false
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() && fi.Size() == int64(len(data)) {
			if got, _ := os.ReadFile(p); bytes.Equal(got, data) {
				found = true
			}
		}
		return nil
	})
	return found
}

// openFDs counts this process's open files other than sockets (HTTP
// keep-alive connections, client and emulator side, come and go), pipes
// (go-fuse's reusable splice pipes) and the cache's spool files (which the
// cache keeps open on purpose; they are checked against its own count).
func openFDs() int {
	n := 0
	for _, target := range fdTargets() {
		if !strings.HasPrefix(target, "pipe:") && !strings.Contains(target, "/spool/spool-") {
			n++
		}
	}
	return n
}

func spoolFDs() int64 {
	var n int64
	for _, target := range fdTargets() {
		if strings.Contains(target, "/spool/spool-") {
			n++
		}
	}
	return n
}

func fdTargets() []string {
	entries, _ := os.ReadDir("/proc/self/fd")
	var out []string
	for _, e := range entries {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && !strings.HasPrefix(target, "socket:") {
			out = append(out, target)
		}
	}
	return out
}

// soakWrite is one file written during the soak, by the recipe of its
// content.
type soakWrite struct {
	path string
	seed int64
	size int
}

func (w soakWrite) data() []byte {
	b := make([]byte, w.size)
	rand.New(rand.NewSource(w.seed)).Read(b)
	return b
}
