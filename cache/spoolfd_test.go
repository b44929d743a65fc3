package cache

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/filesmount/filesmount/remote"
)

// spoolFDs counts this process's open descriptors of files under dir.
func spoolFDs(t *testing.T, dir string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	n := 0
	for _, ent := range ents {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", ent.Name()))
		if err == nil && strings.Contains(target, dir+string(filepath.Separator)) {
			n++
		}
	}
	return n
}

// registeredSpools returns how many spools the registry holds, whether
// all their streams have ended, and whether spoolBytes and spoolCount
// are the sums over the accounted ones.
func (c *Cache) registeredSpools() (n int, settled, budgetRight bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	settled = true
	var bytes int64
	var count int
	for _, sp := range c.spools {
		sp.mu.Lock()
		if !sp.done && sp.err == nil {
			settled = false
		}
		sp.mu.Unlock()
		if sp.accounted {
			bytes += sp.size
			count++
		}
	}
	return len(c.spools), settled, bytes == c.spoolBytes && count == c.spoolCount
}

// TestSpoolDescriptorsDoNotLeak is the soak test in miniature: random
// concurrent reads of a few-MiB objects from remotes that ignore Range
// (one says so, one promises ranges, so that every read adopts a whole
// body), with streams failing midway or ending short, reads interrupted,
// Forget during streams and MD5 objects, some of them corrupt. Once it is
// quiet, every open spool file must belong to a registered spool, and
// none may be left after Close.
func TestSpoolDescriptorsDoNotLeak(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("needs /proc/self/fd")
	}
	// An *os.File that becomes unreachable is closed by the collector,
	// which would hide a leaked spool. Without GC the test allocates
	// about 300 MiB.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	dir := t.TempDir()
	c, err := New(context.Background(), Options{BlockSize: 256 * KiB, MaxBytes: 4 * MiB, Dir: dir, MaxSpoolBytes: 5 * MiB})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	type object struct {
		s *Store
		e remote.Entry
	}
	var fakes []*fakeStore
	var objs, small []object
	for _, name := range []string{"cbrain", "liar"} {
		fake := newFakeStore(name, false)
		fake.caps.RangeReads = name == "liar"
		fakes = append(fakes, fake)
		s := c.Wrap(fake)
		for i := range 8 {
			id := fmt.Sprintf("obj%d", i)
			size := 3*MiB + rand.Int64N(3*MiB/2)
			switch i % 4 {
			case 0, 1:
				objs = append(objs, object{s, fake.add(id, size)})
			case 2:
				objs = append(objs, object{s, fake.addMD5(id, size, true)})
			case 3:
				objs = append(objs, object{s, fake.addMD5(id, size, false)})
			}
		}
		for i := range 4 { // like the soak's uploads, read back at the end
			small = append(small, object{s, fake.addMD5(fmt.Sprintf("small%d", i), 1+rand.Int64N(MiB), true)})
		}
	}
	objs = append(objs, small...)
	setFaults := func(fn func(f *fakeStore)) {
		for _, f := range fakes {
			f.set(fn)
		}
	}

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { // faults, for the bodies opened meanwhile
		for ctx.Err() == nil {
			switch rand.IntN(5) {
			case 0:
				setFaults(func(f *fakeStore) { f.failAt = 200*KiB + rand.Int64N(3*MiB) })
			case 1:
				setFaults(func(f *fakeStore) { f.shortBy = 1 + rand.Int64N(4*KiB) })
			case 2:
				setFaults(func(f *fakeStore) { f.latency = time.Duration(rand.IntN(5)) * time.Millisecond })
			default:
				setFaults(func(f *fakeStore) { f.failAt, f.shortBy, f.latency = 0, 0, 0 })
			}
			time.Sleep(time.Duration(rand.IntN(5000)) * time.Microsecond)
		}
	})
	wg.Go(func() { // uploads replacing objects
		for ctx.Err() == nil {
			o := objs[rand.IntN(len(objs))]
			o.s.Forget(o.e.ID)
			time.Sleep(time.Duration(rand.IntN(20000)) * time.Microsecond)
		}
	})
	for range 8 {
		wg.Go(func() {
			p := make([]byte, 128*KiB)
			for ctx.Err() == nil {
				o := objs[rand.IntN(len(objs))]
				e := o.e
				off := rand.Int64N(e.Size)
				rctx, cancel := context.WithCancel(context.Background())
				if rand.IntN(6) == 0 { // a FUSE interrupt
					rctx, cancel = context.WithTimeout(rctx, time.Duration(rand.IntN(3000))*time.Microsecond)
				}
				n, _ := o.s.ReadAt(rctx, e, p, off)
				cancel()
				if !bytes.Equal(p[:n], content(e, off, n)) {
					t.Errorf("read of %s at %d: wrong bytes", e.ID, off)
				}
			}
		})
	}
	time.Sleep(700 * time.Millisecond)
	stop()
	wg.Wait()

	// A healthy remote again; the small objects read whole fill the
	// budget with several spools.
	setFaults(func(f *fakeStore) { f.failAt, f.shortBy, f.latency = 0, 0, 0 })
	for _, o := range small {
		if _, wrong, err := readSeq(o.s, o.e, 0, 128*KiB); err != nil || wrong {
			t.Fatalf("read of %s %s = %v (wrong bytes %v)", o.s.name, o.e.ID, err, wrong)
		}
	}

	deadline := time.Now().Add(10 * time.Second)
	for {
		n, settled, budgetRight := c.registeredSpools()
		fds := spoolFDs(t, dir)
		if !budgetRight {
			t.Fatalf("spoolBytes or spoolCount is not the sum over the accounted spools; %+v", c.Stats())
		}
		if settled && fds == n {
			t.Logf("%d spools registered and open; %+v", n, c.Stats())
			if n == 0 {
				t.Error("no spool left registered: the end of the test checked nothing")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d spool files open, %d spools registered (streams settled: %v); %+v", fds, n, settled, c.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.Close()
	if fds := spoolFDs(t, dir); fds != 0 {
		t.Errorf("%d spool files still open after Close", fds)
	}
}
