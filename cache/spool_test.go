package cache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/filesmount/filesmount/remote"
)

func TestSpoolAnswersFirstBytesBeforeTheWholeBody(t *testing.T) {
	c := newTestCache(t, Options{BlockSize: 64 * KiB})
	fake := newFakeStore("cbrain", false)
	tr := newTrickle()
	fake.trickle = tr
	s := c.Wrap(fake)
	e := fake.add("obj", 8*MiB)

	read := func(off int64) chan struct{} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			checkRead(t, s, e, off, 4*KiB)
		}()
		return done
	}
	first := read(0)
	select {
	case <-first:
		t.Fatal("read returned before any byte was sent")
	case <-time.After(50 * time.Millisecond):
	}
	tr.allow(64 * KiB)
	select {
	case <-first:
	case <-time.After(5 * time.Second):
		t.Fatal("first 4 KiB not served while the body is still arriving")
	}

	// A read further on waits for its bytes, and only for them.
	mid := read(4 * MiB)
	select {
	case <-mid:
		t.Fatal("read at 4 MiB returned before its bytes were sent")
	case <-time.After(50 * time.Millisecond):
	}
	tr.allow(4*MiB + 8*KiB)
	select {
	case <-mid:
	case <-time.After(5 * time.Second):
		t.Fatal("read at 4 MiB not served once its bytes arrived")
	}
	if sent := fake.bytesSent.Load(); sent >= e.Size {
		t.Fatalf("body fully sent (%d bytes) before the reads returned; test proves nothing", sent)
	}
	tr.allow(e.Size)
	checkRead(t, s, e, e.Size-10, 100)
	if n := fake.requests.Load(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestSpoolIsSharedAndReused(t *testing.T) {
	c := newTestCache(t, Options{BlockSize: 64 * KiB})
	fake := newFakeStore("cbrain", false)
	fake.latency = 20 * time.Millisecond
	s := c.Wrap(fake)
	e := fake.add("obj", 8*MiB+333)

	var wg sync.WaitGroup
	for g := range 20 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for range 10 {
				checkRead(t, s, e, rng.Int64N(e.Size+10), 1+rng.IntN(256*KiB))
			}
		})
	}
	wg.Wait()
	if n := fake.requests.Load(); n != 1 {
		t.Fatalf("%d requests for concurrent readers of one object, want 1 shared stream", n)
	}
	if sent := fake.bytesSent.Load(); sent != e.Size {
		t.Errorf("%d bytes sent, want the object once (%d)", sent, e.Size)
	}

	// Once complete, the spool serves every read without the remote.
	waitFor(t, "spool completion", func() bool { return c.Stats().SpoolsCompleted == 1 })
	for off := int64(0); off < e.Size; off += 1 * MiB {
		checkRead(t, s, e, off, 1*MiB)
	}
	if n := fake.requests.Load(); n != 1 {
		t.Errorf("re-read after completion made %d more requests, want 0", n-1)
	}

	// The store is now known to ignore Range: another object goes straight
	// to one whole-object request.
	e2 := fake.add("obj2", 3*MiB)
	checkRead(t, s, e2, 2*MiB, 10)
	calls := fake.calls()
	if last := calls[len(calls)-1]; len(calls) != 2 || last.off != 0 || last.length != -1 {
		t.Errorf("second object: calls %+v, want exactly one Open(0, -1)", calls)
	}
	if st := c.Stats(); st.SpoolsStarted != 2 {
		t.Errorf("SpoolsStarted = %d, want 2", st.SpoolsStarted)
	}
}

func TestSpoolOfLargeObjectHasBoundedHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 256 MiB")
	}
	c := newTestCache(t, Options{})
	fake := newFakeStore("cbrain", false)
	s := c.Wrap(fake)
	e := fake.add("huge", 256*MiB)

	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak uint64

	p := make([]byte, 1*MiB)
	want := make([]byte, 1*MiB)
	for off := int64(0); off < e.Size; off += int64(len(p)) {
		n, err := s.ReadAt(context.Background(), e, p, off)
		if n != len(p) || err != nil {
			t.Fatalf("ReadAt(%d) = %d, %v", off, n, err)
		}
		if off%(16*MiB) == 0 {
			fillContent(seedOf(e), off, want)
			if !bytes.Equal(p, want) {
				t.Fatalf("ReadAt(%d): wrong bytes", off)
			}
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
	}
	runtime.ReadMemStats(&ms)
	peak = max(peak, ms.HeapInuse)
	growth := int64(peak) - int64(base)
	t.Logf("256 MiB spooled: heap in use grew by %d KiB", growth/KiB)
	if growth > 32*MiB {
		t.Errorf("heap grew by %d MiB while spooling 256 MiB, want well below the object size", growth/MiB)
	}
	if n := fake.requests.Load(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestSpoolFailureMidStream(t *testing.T) {
	c := newTestCache(t, Options{BlockSize: 64 * KiB})
	fake := newFakeStore("cbrain", false)
	fake.failAt = 3 * MiB
	s := c.Wrap(fake)
	e := fake.add("obj", 8*MiB)

	// Reads below the failure point get right bytes; reads beyond it get
	// the remote's error, never bytes.
	p := make([]byte, 64*KiB)
	n, err := s.ReadAt(context.Background(), e, p, 5*MiB)
	if n != 0 || !errors.Is(err, errInjected) || !errors.Is(err, remote.ErrUnavailable) {
		t.Fatalf("read beyond a broken stream = %d, %v; want 0 bytes and the remote's error", n, err)
	}
	t.Logf("error: %v", err)
	// Every stream started has failed and is dropped. (There may be two:
	// the whole-object body of the ranged request is adopted as the
	// spool; if it breaks before the reader pins it, the reader starts
	// another, which breaks at the same point.)
	waitFor(t, "failure recorded", func() bool {
		st := c.Stats()
		return st.SpoolsFailed >= 1 && st.SpoolsFailed == st.SpoolsStarted
	})
	broken := fake.requests.Load()

	// The partial spool is gone; a later read restarts the stream.
	fake.set(func(f *fakeStore) { f.failAt = 0 })
	checkRead(t, s, e, 5*MiB, 64*KiB)
	checkRead(t, s, e, 0, 64*KiB)
	if n := fake.requests.Load() - broken; n != 1 {
		t.Errorf("%d requests after the broken stream, want 1 (its restart)", n)
	}
}

func TestSpoolFailureReachesEveryWaiter(t *testing.T) {
	c := newTestCache(t, Options{BlockSize: 64 * KiB})
	fake := newFakeStore("cbrain", false)
	tr := newTrickle()
	fake.trickle = tr
	fake.failAt = 2 * MiB
	s := c.Wrap(fake)
	s.noRange.Store(true)
	e := fake.add("obj", 8*MiB)

	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			off := 1*MiB + int64(i)*512*KiB // some before the break, most after
			p := make([]byte, 16*KiB)
			n, err := s.ReadAt(context.Background(), e, p, off)
			switch {
			case err == nil:
				if off+int64(n) > 2*MiB || !bytes.Equal(p[:n], content(e, off, n)) {
					t.Errorf("read at %d: %d bytes without error from a stream that broke at 2 MiB", off, n)
				}
			case !errors.Is(err, remote.ErrUnavailable) || n != 0:
				t.Errorf("read at %d = %d, %v; want the remote's error and no bytes", off, n, err)
			}
		})
	}
	time.Sleep(20 * time.Millisecond)
	tr.allow(e.Size)
	wg.Wait()
}

func TestSpoolShortBodyIsAnError(t *testing.T) {
	c := newTestCache(t, Options{BlockSize: 64 * KiB})
	fake := newFakeStore("cbrain", false)
	fake.shortBy = 10
	s := c.Wrap(fake)
	e := fake.add("obj", 1*MiB)
	p := make([]byte, 100)
	n, err := s.ReadAt(context.Background(), e, p, e.Size-100)
	if !errors.Is(err, remote.ErrCorrupt) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("ReadAt at the end of a short body = %d, %v; want ErrCorrupt", n, err)
	}
}

func TestSpoolDiskBudgetEvictsLeastRecentlyUsed(t *testing.T) {
	dir := t.TempDir()
	c := newTestCache(t, Options{BlockSize: 64 * KiB, Dir: dir, MaxSpoolBytes: 3 * MiB})
	fake := newFakeStore("cbrain", false)
	s := c.Wrap(fake)
	var objs []remote.Entry
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		e := fake.add(id, 1*MiB)
		objs = append(objs, e)
		checkRead(t, s, e, 0, int(e.Size))
		waitFor(t, "spool of "+id, func() bool { return c.Stats().SpoolsCompleted == int64(len(objs)) })
		if st := c.Stats(); st.SpoolBytes > 3*MiB {
			t.Fatalf("completed spools hold %d bytes, budget %d", st.SpoolBytes, 3*MiB)
		}
	}
	if st := c.Stats(); st.SpoolsEvicted != 2 {
		t.Errorf("SpoolsEvicted = %d, want 2", st.SpoolsEvicted)
	}
	before := fake.requests.Load()
	checkRead(t, s, objs[4], 0, 10) // recent: still on disk
	if fake.requests.Load() != before {
		t.Error("recent spool was evicted")
	}
	checkRead(t, s, objs[0], 0, 10) // oldest: evicted
	if fake.requests.Load() == before {
		t.Error("oldest spool was not evicted")
	}
	if names, _ := os.ReadDir(dir); len(names) != 0 {
		t.Errorf("spool files left with names in %s: %v", dir, names)
	}
}

func TestSpoolInUseIsNotEvicted(t *testing.T) {
	c := newTestCache(t, Options{BlockSize: 64 * KiB, MaxSpoolBytes: 1 * MiB})
	fake := newFakeStore("cbrain", false)
	s := c.Wrap(fake)
	a := fake.add("a", 1*MiB)
	checkRead(t, s, a, 0, 10)
	waitFor(t, "spool a", func() bool { return c.Stats().SpoolsCompleted == 1 })

	sp, err := c.acquireSpool(s, a) // a reader in the middle of a read
	if err != nil {
		t.Fatal(err)
	}
	b := fake.add("b", 1*MiB)
	checkRead(t, s, b, 0, 10)
	waitFor(t, "spool b", func() bool { return c.Stats().SpoolsCompleted == 2 })
	p := make([]byte, 4*KiB)
	if _, err := sp.file.ReadAt(p, 0); err != nil || !bytes.Equal(p, content(a, 0, len(p))) {
		t.Fatalf("spool in use was closed or overwritten: %v", err)
	}
	c.releaseSpool(sp)
	if st := c.Stats(); st.SpoolBytes > 1*MiB {
		t.Errorf("budget not restored once the reader left: %d bytes", st.SpoolBytes)
	}
}

func TestForgetDropsSpools(t *testing.T) {
	c := newTestCache(t, Options{BlockSize: 64 * KiB})
	fake := newFakeStore("cbrain", false)
	s := c.Wrap(fake)
	e := fake.add("obj", 1*MiB)
	checkRead(t, s, e, 0, 100)
	waitFor(t, "spool", func() bool { return c.Stats().SpoolsCompleted == 1 })

	s.Forget(e.ID)
	if st := c.Stats(); st.SpoolBytes != 0 {
		t.Errorf("after Forget spools hold %d bytes", st.SpoolBytes)
	}
	before := fake.requests.Load()
	checkRead(t, s, e, 0, 100)
	if fake.requests.Load() == before {
		t.Error("forgotten spool served without a request")
	}
}

func TestForgetStopsAnAbandonedStream(t *testing.T) {
	c := newTestCache(t, Options{BlockSize: 64 * KiB})
	fake := newFakeStore("cbrain", false)
	tr := newTrickle()
	fake.trickle = tr
	s := c.Wrap(fake)
	e := fake.add("obj", 4*MiB)
	tr.allow(64 * KiB)
	checkRead(t, s, e, 0, 100)

	// No reader waits any more: Forget stops the download.
	s.Forget(e.ID)
	waitFor(t, "the stream to stop", func() bool { return fake.aborted.Load() == 1 })
	if st := c.Stats(); st.SpoolsFailed != 0 {
		t.Errorf("a stream stopped by Forget counted as failed")
	}
}
