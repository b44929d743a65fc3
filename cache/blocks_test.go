package cache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/filesmount/filesmount/remote"
)

const (
	KiB = 1 << 10
	MiB = 1 << 20
)

func newTestCache(t *testing.T, opts Options) *Cache {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	c, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// checkRead reads n bytes of e at off through s and compares them, and the
// io.ReaderAt error, with the source.
func checkRead(t *testing.T, s *Store, e remote.Entry, off int64, n int) {
	t.Helper()
	p := make([]byte, n)
	got, err := s.ReadAt(context.Background(), e, p, off)
	want := content(e, off, n)
	if got != len(want) {
		t.Fatalf("ReadAt(%d, %d) = %d bytes, %v; want %d bytes", off, n, got, err, len(want))
	}
	switch {
	case len(want) < n && err != io.EOF:
		t.Fatalf("ReadAt(%d, %d) short read error = %v, want io.EOF", off, n, err)
	case len(want) == n && err != nil:
		t.Fatalf("ReadAt(%d, %d) error = %v", off, n, err)
	}
	if !bytes.Equal(p[:got], want) {
		t.Fatalf("ReadAt(%d, %d): wrong bytes", off, n)
	}
}

func TestReadAtMatchesSource(t *testing.T) {
	for _, tc := range []struct {
		name        string
		rangeOK     bool
		sizeUnknown bool
	}{
		{"ranged", true, false},
		{"ranged size unknown", true, true},
		{"not ranged", false, false},
		{"not ranged size unknown", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const bs = 64 * KiB
			c := newTestCache(t, Options{BlockSize: bs, MaxBytes: 8 * bs})
			fake := newFakeStore("fake", tc.rangeOK)
			s := c.Wrap(fake)
			e := fake.add("obj", 20*bs+12345)
			readEntry := e
			if tc.sizeUnknown {
				readEntry.Size = remote.SizeUnknown
			}
			rng := rand.New(rand.NewPCG(1, 2))
			offsets := []int64{0, bs - 1, bs, 3*bs - 7, e.Size - 1, e.Size - 100, e.Size}
			for range 300 {
				offsets = append(offsets, rng.Int64N(e.Size+10))
			}
			for _, off := range offsets {
				n := 1 + rng.IntN(3*bs)
				p := make([]byte, n)
				got, err := s.ReadAt(context.Background(), readEntry, p, off)
				want := content(e, off, n)
				if got != len(want) || !bytes.Equal(p[:got], want) {
					t.Fatalf("ReadAt(off %d, len %d) = %d, %v; want %d matching bytes", off, n, got, err, len(want))
				}
				if (len(want) < n) != (err == io.EOF) || (err != nil && err != io.EOF) {
					t.Fatalf("ReadAt(off %d, len %d) = %d, %v; want io.EOF exactly when short", off, n, got, err)
				}
			}
			if st := c.Stats(); st.BytesRead == 0 || st.Requests == 0 {
				t.Errorf("stats not counting: %+v", st)
			}
		})
	}
}

func TestConcurrentReadersShareOneFetch(t *testing.T) {
	const bs = 256 * KiB
	c := newTestCache(t, Options{BlockSize: bs})
	fake := newFakeStore("fake", true)
	fake.latency = 50 * time.Millisecond
	s := c.Wrap(fake)
	e := fake.add("obj", 32*bs)

	const block = 5
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			checkRead(t, s, e, block*bs+int64(i)*4*KiB, 4*KiB)
		})
	}
	wg.Wait()
	if n := fake.opensCovering(block * bs); n != 1 {
		t.Errorf("%d requests covered block %d, want 1 (calls %+v)", n, block, fake.calls())
	}
	if st := c.Stats(); st.BlockMisses+st.BlockHits != 50 {
		t.Errorf("hits %d + misses %d != 50 reads", st.BlockHits, st.BlockMisses)
	}
}

func TestCancelledWaiterDoesNotAbortSharedFetch(t *testing.T) {
	const bs = 64 * KiB
	c := newTestCache(t, Options{BlockSize: bs})
	fake := newFakeStore("fake", true)
	gate := make(chan struct{})
	fake.openGate = gate
	s := c.Wrap(fake)
	e := fake.add("obj", 16*bs)
	const off = 5*bs + 100

	// A FUSE request whose ctx gets interrupted (SIGURG) starts the fetch.
	ctxA, cancelA := context.WithCancel(context.WithValue(context.Background(), ctxMarker{}, true))
	errA := make(chan error, 1)
	go func() {
		_, err := s.ReadAt(ctxA, e, make([]byte, 4*KiB), off)
		errA <- err
	}()
	waitFor(t, "first fetch", func() bool { return fake.requests.Load() == 1 })

	// A second reader joins the same fetch.
	doneB := make(chan struct{})
	go func() {
		defer close(doneB)
		checkRead(t, s, e, off, 4*KiB)
	}()
	waitFor(t, "second reader", func() bool { return c.Stats().BlockMisses == 2 })

	cancelA()
	select {
	case err := <-errA:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled reader got %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancelled reader still waiting")
	}

	close(gate)
	<-doneB
	if n := fake.opensCovering(off); n != 1 {
		t.Errorf("%d requests covered the block, want 1", n)
	}
	for _, call := range fake.calls() {
		if call.callerCtx {
			t.Errorf("Open(%d, %d) ran on the caller's context, want the daemon's", call.off, call.length)
		}
	}
}

func TestSequentialReadFetchesLittleMoreThanTheObject(t *testing.T) {
	const size = 64 * MiB
	c := newTestCache(t, Options{}) // 1 MiB blocks, 256 MiB, read-ahead 8
	fake := newFakeStore("fake", true)
	s := c.Wrap(fake)
	e := fake.add("big", size)

	const chunk = 128 * KiB
	p := make([]byte, chunk)
	want := make([]byte, chunk)
	windows := map[int]bool{}
	for off := int64(0); off < size; off += chunk {
		n, err := s.ReadAt(context.Background(), e, p, off)
		if n != chunk || err != nil {
			t.Fatalf("ReadAt(%d) = %d, %v", off, n, err)
		}
		fillContent(seedOf(e), off, want)
		if !bytes.Equal(p, want) {
			t.Fatalf("ReadAt(%d): wrong bytes", off)
		}
		s.raMu.Lock()
		st, _ := s.streams.Peek(e.ID)
		windows[st.window] = true
		s.raMu.Unlock()
	}
	if fetched := fake.bytesSent.Load(); float64(fetched) > 1.05*size {
		t.Errorf("fetched %d bytes for a %d-byte object (%.3fx), want <= 1.05x", fetched, size, float64(fetched)/size)
	}
	for _, w := range []int{2, 4, 8} {
		if !windows[w] {
			t.Errorf("read-ahead window never was %d blocks (saw %v)", w, windows)
		}
	}
	st := c.Stats()
	if st.ReadAheadBlocks < 32 {
		t.Errorf("only %d blocks read ahead", st.ReadAheadBlocks)
	}
	if st.Requests >= 64 {
		t.Errorf("%d requests for 64 blocks, want fewer: read-ahead should fetch several blocks per request", st.Requests)
	}
	t.Logf("64 MiB sequential: %d requests, %d bytes fetched, %d blocks read ahead", st.Requests, fake.bytesSent.Load(), st.ReadAheadBlocks)
}

func TestRandomReadsFetchAboutOneBlockEach(t *testing.T) {
	const bs = 256 * KiB
	c := newTestCache(t, Options{BlockSize: bs})
	fake := newFakeStore("fake", true)
	s := c.Wrap(fake)
	e := fake.add("big", 1<<30) // content is generated: costs only what is fetched

	rng := rand.New(rand.NewPCG(3, 4))
	const reads = 200
	for range reads {
		off := 4*KiB + rng.Int64N(e.Size-8*KiB)
		checkRead(t, s, e, off, 4*KiB)
	}
	st := c.Stats()
	perMiss := float64(fake.bytesSent.Load()) / float64(st.BlockMisses)
	perRead := float64(fake.bytesSent.Load()) / reads
	if perMiss > 1.2*bs {
		t.Errorf("fetched %.0f bytes per missed 4 KiB read, want about one %d-byte block", perMiss, bs)
	}
	if perRead > 1.2*bs || perRead < 0.8*bs {
		t.Errorf("fetched %.0f bytes per 4 KiB read, want about one %d-byte block", perRead, bs)
	}
	if st.Requests > st.BlockMisses {
		t.Errorf("%d requests for %d missed blocks", st.Requests, st.BlockMisses)
	}
	t.Logf("random 4 KiB reads: %d misses, %d hits, %.0f bytes fetched per read", st.BlockMisses, st.BlockHits, perRead)
}

func TestBlockCacheStaysWithinMaxBytes(t *testing.T) {
	const bs = 64 * KiB
	const maxBytes = 6 * bs
	c := newTestCache(t, Options{BlockSize: bs, MaxBytes: maxBytes})
	fake := newFakeStore("fake", true)
	s := c.Wrap(fake)
	a, b := fake.add("a", 40*bs), fake.add("b", 40*bs+5)

	check := func() {
		t.Helper()
		st := c.Stats()
		if st.CachedBytes > maxBytes || st.CachedBlocks > maxBytes/bs {
			t.Fatalf("cache holds %d bytes in %d blocks, limit %d", st.CachedBytes, st.CachedBlocks, maxBytes)
		}
	}
	for off := int64(0); off < a.Size; off += 32 * KiB {
		checkRead(t, s, a, off, 32*KiB)
		check()
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 9))
			for range 50 {
				e := a
				if rng.IntN(2) == 0 {
					e = b
				}
				checkRead(t, s, e, rng.Int64N(e.Size), 1+rng.IntN(2*bs))
				check()
			}
		})
	}
	wg.Wait()
	if st := c.Stats(); st.CachedBlocks == 0 || st.CachedBytes > st.CachedBlocks*bs || st.CachedBytes <= (st.CachedBlocks-1)*bs {
		t.Errorf("after reads: %d blocks, %d bytes cached", st.CachedBlocks, st.CachedBytes)
	}
}

func TestShortRangedBodyIsAnError(t *testing.T) {
	const bs = 64 * KiB
	c := newTestCache(t, Options{BlockSize: bs, MaxReadAhead: 1})
	fake := newFakeStore("fake", true)
	fake.shortBy = 100
	s := c.Wrap(fake)
	e := fake.add("obj", 10*bs)

	// The read spans blocks 2 and 3, fetched by one request whose body
	// ends 100 bytes early: block 3 is short although it is not the end.
	// (The read needs the end of block 3: a read of bytes that did arrive
	// may be answered before the body is found short.)
	off := int64(2*bs + bs/2)
	p := make([]byte, bs+bs/2)
	n, err := s.ReadAt(context.Background(), e, p, off)
	if !errors.Is(err, remote.ErrCorrupt) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("ReadAt over a short body = %d, %v; want ErrCorrupt and io.ErrUnexpectedEOF", n, err)
	}
	if n >= len(p) || !bytes.Equal(p[:n], content(e, off, n)) {
		t.Fatalf("ReadAt over a short body returned %d bytes, not all correct", n)
	}

	// Nothing short was cached: a healthy remote now gives the right bytes.
	fake.set(func(f *fakeStore) { f.shortBy = 0 })
	before := fake.requests.Load()
	checkRead(t, s, e, off, bs)
	if fake.requests.Load() == before {
		t.Error("the failed block was served without a new request")
	}
}

func TestBodySizeContradictingEntryIsAnError(t *testing.T) {
	c := newTestCache(t, Options{BlockSize: 64 * KiB})
	fake := newFakeStore("fake", true)
	fake.wrongSize = 3 * MiB
	s := c.Wrap(fake)
	e := fake.add("obj", 1*MiB)
	if _, err := s.ReadAt(context.Background(), e, make([]byte, 10), 0); !errors.Is(err, remote.ErrCorrupt) {
		t.Fatalf("ReadAt = %v, want ErrCorrupt", err)
	}
}

func TestBackendErrorsPassThrough(t *testing.T) {
	for _, rangeOK := range []bool{true, false} {
		c := newTestCache(t, Options{BlockSize: 64 * KiB})
		fake := newFakeStore("fake", rangeOK)
		s := c.Wrap(fake)
		if !rangeOK {
			s.noRange.Store(true) // exercise the spool's own Open
		}
		e := fake.add("obj", 1*MiB)
		fake.openErr = &remote.StatusError{Op: "download", Method: "GET", URL: "/x", Code: 403, Kind: remote.ErrPermission}
		_, err := s.ReadAt(context.Background(), e, make([]byte, 10), 0)
		var se *remote.StatusError
		if !errors.Is(err, remote.ErrPermission) || !errors.As(err, &se) {
			t.Errorf("rangeOK=%v: ReadAt = %v, want the StatusError wrapping ErrPermission", rangeOK, err)
		}
		fake.set(func(f *fakeStore) { f.openErr = nil })
		if _, err := s.ReadAt(context.Background(), remote.Entry{ID: "gone", Size: 5, Version: "v"}, make([]byte, 5), 0); !errors.Is(err, remote.ErrNotFound) {
			t.Errorf("rangeOK=%v: ReadAt of a missing object = %v, want ErrNotFound", rangeOK, err)
		}
	}
}

func TestNewVersionIsNotServedOldBlocks(t *testing.T) {
	c := newTestCache(t, Options{BlockSize: 64 * KiB})
	fake := newFakeStore("fake", true)
	s := c.Wrap(fake)
	v1 := fake.add("obj", 300*KiB)
	checkRead(t, s, v1, 0, 100*KiB)

	v2 := fake.setVersion("obj", "v2")
	before := fake.requests.Load()
	checkRead(t, s, v2, 0, 100*KiB) // checkRead compares with v2's content
	if fake.requests.Load() == before {
		t.Error("new version served without a request")
	}
	if bytes.Equal(content(v1, 0, 100), content(v2, 0, 100)) {
		t.Fatal("test is vacuous: versions have equal content")
	}
}

func TestForgetDropsBlocks(t *testing.T) {
	c := newTestCache(t, Options{BlockSize: 64 * KiB})
	fake := newFakeStore("fake", true)
	s := c.Wrap(fake)
	e := fake.add("obj", 300*KiB)
	other := fake.add("other", 300*KiB)
	checkRead(t, s, e, 0, int(e.Size))
	checkRead(t, s, other, 0, int(other.Size))
	cached := c.Stats().CachedBytes

	s.Forget(e.ID)
	if got := c.Stats().CachedBytes; got != cached-e.Size {
		t.Errorf("after Forget cache holds %d bytes, want %d (only the other object)", got, cached-e.Size)
	}
	before := fake.requests.Load()
	checkRead(t, s, e, 0, 10)
	if fake.requests.Load() == before {
		t.Error("forgotten object served without a request")
	}
	before = fake.requests.Load()
	checkRead(t, s, other, 0, int(other.Size))
	if fake.requests.Load() != before {
		t.Error("Forget dropped another object's blocks")
	}
}

func TestReadAfterCloseFails(t *testing.T) {
	c := newTestCache(t, Options{BlockSize: 64 * KiB})
	fake := newFakeStore("fake", true)
	s := c.Wrap(fake)
	e := fake.add("obj", 300*KiB)
	checkRead(t, s, e, 0, 10)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadAt(context.Background(), e, make([]byte, 10), 100*KiB); !errors.Is(err, ErrClosed) {
		t.Errorf("ReadAt after Close = %v, want ErrClosed", err)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	if _, err := New(context.Background(), Options{BlockSize: MiB, MaxBytes: KiB, Dir: t.TempDir()}); err == nil {
		t.Error("New accepted MaxBytes smaller than one block")
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// The first read of a file asks for a few KiB: it is answered as soon as
// those bytes have arrived, not once the whole block has, and a read
// further into the block waits for its own bytes.
func TestReadServedFromPartOfArrivingBlock(t *testing.T) {
	const bs = 256 * KiB
	c := newTestCache(t, Options{BlockSize: bs})
	fake := newFakeStore("fake", true)
	tr := newTrickle()
	fake.trickle = tr
	s := c.Wrap(fake)
	e := fake.add("obj", 4*bs)
	tr.allow(16 * KiB)

	first := make(chan struct{})
	go func() {
		defer close(first)
		checkRead(t, s, e, 0, 4*KiB)
	}()
	select {
	case <-first:
	case <-time.After(5 * time.Second):
		t.Fatal("a 4 KiB read waited for more than the 16 KiB that had arrived")
	}

	deeper := make(chan struct{})
	go func() {
		defer close(deeper)
		checkRead(t, s, e, 100*KiB, 8*KiB)
	}()
	select {
	case <-deeper:
		t.Fatal("a read of bytes 100-108 KiB returned while only 16 KiB had arrived")
	case <-time.After(100 * time.Millisecond):
	}
	tr.allow(e.Size)
	select {
	case <-deeper:
	case <-time.After(5 * time.Second):
		t.Fatal("the deeper read never returned")
	}
	if n := fake.opensCovering(0); n != 1 {
		t.Errorf("%d requests covered block 0, want 1", n)
	}
}

// ReadVector returns the same bytes as ReadAt, as slices of the cached
// blocks (or of p for a spool), for reads within one block, across
// blocks, at the end and past it, on both kinds of remote.
func TestReadVectorMatchesReadAt(t *testing.T) {
	const bs = 64 * KiB
	for _, rangeOK := range []bool{true, false} {
		c := newTestCache(t, Options{BlockSize: bs})
		fake := newFakeStore("fake", rangeOK)
		s := c.Wrap(fake)
		e := fake.addMD5("obj", 10*bs+123, true)
		for _, r := range []struct {
			off int64
			n   int
		}{{0, 4 * KiB}, {bs - 10, 20}, {3*bs + 7, 3 * bs}, {10*bs - 5, 4 * KiB}, {10*bs + 123, 100}, {0, int(e.Size)}} {
			p := make([]byte, r.n)
			vec, n, err := s.ReadVector(context.Background(), e, p, r.off)
			var got []byte
			for _, v := range vec {
				got = append(got, v...)
			}
			want := content(e, r.off, r.n)
			if n != len(want) || !bytes.Equal(got, want) {
				t.Fatalf("rangeOK=%v: ReadVector(%d, %d) = %d bytes in %d slices (%d joined), %v; want %d", rangeOK, r.off, r.n, n, len(vec), len(got), err, len(want))
			}
			if len(want) < r.n && err != io.EOF || len(want) == r.n && err != nil {
				t.Fatalf("rangeOK=%v: ReadVector(%d, %d) error %v", rangeOK, r.off, r.n, err)
			}
		}
		if st := c.Stats(); st.MD5Verified != 1 {
			t.Errorf("rangeOK=%v: the object read whole through ReadVector was not verified: %+v", rangeOK, st)
		}
	}
}
