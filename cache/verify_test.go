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

// readSeq reads e from off to the end in chunks, as a program reading a
// file does, and stops at the first error. It returns where it stopped,
// whether any byte returned was wrong, and the error (nil at the end).
func readSeq(s *Store, e remote.Entry, off int64, chunk int) (int64, bool, error) {
	wrong := false
	p := make([]byte, chunk)
	for off < e.Size {
		n, err := s.ReadAt(context.Background(), e, p, off)
		if !bytes.Equal(p[:n], content(e, off, n)) {
			wrong = true
		}
		off += int64(n)
		if err == io.EOF && off == e.Size {
			break
		}
		if err != nil {
			return off, wrong, err
		}
	}
	return off, wrong, nil
}

// mustNotBeSilent fails unless a read of bytes went wrong loudly: any wrong
// byte must be followed by an error wrapping remote.ErrCorrupt.
func mustNotBeSilent(t *testing.T, wrong bool, err error) {
	t.Helper()
	if wrong && err == nil {
		t.Fatal("wrong bytes returned and the read ended without error")
	}
}

func TestMD5SequentialRead(t *testing.T) {
	const bs = 64 * KiB
	for _, tc := range []struct {
		name      string
		readAhead int
	}{{"read-ahead", 8}, {"no read-ahead", 1}} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCache(t, Options{BlockSize: bs, MaxBytes: 64 * bs, MaxReadAhead: tc.readAhead})
			fake := newFakeStore("vrchat", true)
			s := c.Wrap(fake)

			good := fake.addMD5("good", 20*bs+123, true)
			if _, wrong, err := readSeq(s, good, 0, 16*KiB); err != nil || wrong {
				t.Fatalf("right MD5: read = %v (wrong bytes %v)", err, wrong)
			}
			if st := c.Stats(); st.MD5Verified != 1 || st.MD5Mismatches != 0 {
				t.Fatalf("right MD5: verified %d, mismatches %d; want 1, 0", st.MD5Verified, st.MD5Mismatches)
			}
			// A verified version is remembered, not hashed again.
			if _, _, err := readSeq(s, good, 0, 100*KiB); err != nil {
				t.Fatal(err)
			}
			if st := c.Stats(); st.MD5Verified != 1 {
				t.Errorf("re-read verified again: %d", st.MD5Verified)
			}

			bad := fake.addMD5("bad", 20*bs+123, false)
			stop, _, err := readSeq(s, bad, 0, 16*KiB)
			if !errors.Is(err, remote.ErrCorrupt) {
				t.Fatalf("wrong MD5: read stopped at %d with %v, want ErrCorrupt", stop, err)
			}
			if tc.readAhead == 1 && stop+16*KiB < bad.Size {
				// Without read-ahead, the read of the last block is the
				// one that completes the object.
				t.Errorf("wrong MD5: read at %d failed, want the read reaching the end (%d)", stop, bad.Size)
			}
			if st := c.Stats(); st.MD5Mismatches != 1 {
				t.Errorf("mismatches %d, want 1", st.MD5Mismatches)
			}
			// The version's blocks are dropped (read-ahead in flight
			// then no longer fills the cache) and later reads fail
			// without asking the remote.
			waitFor(t, "blocks dropped", func() bool { return c.Stats().CachedBytes == good.Size })
			before := fake.requests.Load()
			if _, err := s.ReadAt(context.Background(), bad, make([]byte, 10), 5*bs); !errors.Is(err, remote.ErrCorrupt) {
				t.Errorf("later read = %v, want ErrCorrupt", err)
			}
			if fake.requests.Load() != before {
				t.Error("later read of a corrupt version asked the remote")
			}
			// A re-read from the start fetches again and fails again.
			if _, _, err := readSeq(s, bad, 0, 16*KiB); !errors.Is(err, remote.ErrCorrupt) {
				t.Errorf("re-read = %v, want ErrCorrupt again", err)
			}
			if fake.requests.Load() == before {
				t.Error("re-read did not fetch again")
			}
			if st := c.Stats(); st.MD5Mismatches != 2 || st.MD5Verified != 1 {
				t.Errorf("verified %d, mismatches %d; want 1, 2", st.MD5Verified, st.MD5Mismatches)
			}
			// The good object is still served from the cache.
			before = fake.requests.Load()
			checkRead(t, s, good, 0, int(good.Size))
			if fake.requests.Load() != before {
				t.Error("mismatch of one object dropped another's blocks")
			}
		})
	}
}

// A byte corrupted in transit is caught, and a re-read heals.
func TestMD5CorruptBytesAreCaughtAndHeal(t *testing.T) {
	const bs = 64 * KiB
	for _, rangeOK := range []bool{true, false} {
		c := newTestCache(t, Options{BlockSize: bs, MaxBytes: 64 * bs})
		fake := newFakeStore("vrchat", rangeOK)
		s := c.Wrap(fake)
		e := fake.addMD5("obj", 20*bs+123, true)
		fake.set(func(f *fakeStore) { f.flipAt, f.flips = 7*bs+5, 1 })

		_, wrong, err := readSeq(s, e, 0, 16*KiB)
		mustNotBeSilent(t, wrong, err)
		if !errors.Is(err, remote.ErrCorrupt) {
			t.Fatalf("rangeOK=%v: corrupt transfer read = %v, want ErrCorrupt", rangeOK, err)
		}
		if _, wrong, err := readSeq(s, e, 0, 16*KiB); err != nil || wrong {
			t.Fatalf("rangeOK=%v: re-read = %v (wrong bytes %v), want healed", rangeOK, err, wrong)
		}
		if st := c.Stats(); st.MD5Verified != 1 || st.MD5Mismatches != 1 {
			t.Errorf("rangeOK=%v: verified %d, mismatches %d; want 1, 1", rangeOK, st.MD5Verified, st.MD5Mismatches)
		}
	}
}

func TestMD5RandomOrder(t *testing.T) {
	const bs = 64 * KiB
	const blocks = 24
	for _, right := range []bool{true, false} {
		c := newTestCache(t, Options{BlockSize: bs, MaxBytes: 64 * bs})
		fake := newFakeStore("vrchat", true)
		s := c.Wrap(fake)
		e := fake.addMD5("obj", blocks*bs-100, right)
		order := rand.New(rand.NewPCG(3, 4)).Perm(blocks)
		for i, b := range order {
			off := int64(b)*bs + 1 // never at 0: that would restart a corrupt object
			n := int(min(bs-2, e.Size-off))
			p := make([]byte, n)
			got, err := s.ReadAt(context.Background(), e, p, off)
			last := i == blocks-1
			switch {
			case right || !last:
				if err != nil || !bytes.Equal(p[:got], content(e, off, n)) {
					t.Fatalf("right=%v: read %d (block %d) = %d, %v", right, i, b, got, err)
				}
			case !errors.Is(err, remote.ErrCorrupt):
				t.Fatalf("read completing a corrupt object = %d, %v; want ErrCorrupt", got, err)
			}
		}
		st := c.Stats()
		if right && (st.MD5Verified != 1 || st.MD5Mismatches != 0) || !right && (st.MD5Verified != 0 || st.MD5Mismatches != 1) {
			t.Errorf("right=%v: verified %d, mismatches %d", right, st.MD5Verified, st.MD5Mismatches)
		}
	}
}

func TestMD5ParallelRandomReads(t *testing.T) {
	const bs = 64 * KiB
	const blocks = 64
	c := newTestCache(t, Options{BlockSize: bs, MaxBytes: 2 * blocks * bs})
	fake := newFakeStore("vrchat", true)
	s := c.Wrap(fake)
	e := fake.addMD5("obj", blocks*bs-1, true)
	var wg sync.WaitGroup
	for _, b := range rand.New(rand.NewPCG(5, 6)).Perm(blocks) {
		wg.Go(func() { checkRead(t, s, e, int64(b)*bs, bs-1) })
	}
	wg.Wait()
	if st := c.Stats(); st.MD5Verified != 1 || st.MD5Mismatches != 0 {
		t.Errorf("verified %d, mismatches %d; want 1, 0", st.MD5Verified, st.MD5Mismatches)
	}
}

// Blocks evicted before they are hashed leave the object unverified,
// never falsely corrupt; fetching them again resumes the check.
func TestMD5EvictedBlocksMeanNoVerdict(t *testing.T) {
	const bs = 64 * KiB
	const blocks = 16
	for _, right := range []bool{true, false} {
		c := newTestCache(t, Options{BlockSize: bs, MaxBytes: 4 * bs})
		fake := newFakeStore("vrchat", true)
		s := c.Wrap(fake)
		e := fake.addMD5("obj", blocks*bs, right)
		for b := blocks - 1; b >= 0; b-- { // backwards: nothing is hashable until block 0
			checkRead(t, s, e, int64(b)*bs+1, 10)
		}
		if st := c.Stats(); st.MD5Verified+st.MD5Mismatches != 0 {
			t.Fatalf("right=%v: verdict without the whole object: %+v", right, st)
		}
		_, _, err := readSeq(s, e, 1, 16*KiB)
		if right != (err == nil) || !right && !errors.Is(err, remote.ErrCorrupt) {
			t.Errorf("right=%v: sequential re-read = %v", right, err)
		}
		if st := c.Stats(); st.MD5Verified+st.MD5Mismatches != 1 {
			t.Errorf("right=%v: no verdict after fetching the rest: %+v", right, st)
		}
	}
}

func TestMD5Spool(t *testing.T) {
	c := newTestCache(t, Options{BlockSize: 64 * KiB})
	fake := newFakeStore("cbrain", false)
	s := c.Wrap(fake)

	good := fake.addMD5("good", 3*MiB+5, true)
	checkRead(t, s, good, good.Size-100, 100)
	checkRead(t, s, good, 0, 100)
	if st := c.Stats(); st.MD5Verified != 1 || st.MD5Mismatches != 0 {
		t.Errorf("right MD5: verified %d, mismatches %d; want 1, 0", st.MD5Verified, st.MD5Mismatches)
	}

	bad := fake.addMD5("bad", 3*MiB+5, false)
	if _, err := s.ReadAt(context.Background(), bad, make([]byte, 100), bad.Size-100); !errors.Is(err, remote.ErrCorrupt) {
		t.Fatalf("read of the end = %v, want ErrCorrupt", err)
	}
	before, spools := fake.requests.Load(), c.Stats().SpoolsStarted
	if _, err := s.ReadAt(context.Background(), bad, make([]byte, 100), MiB); !errors.Is(err, remote.ErrCorrupt) {
		t.Errorf("later read = %v, want ErrCorrupt", err)
	}
	if fake.requests.Load() != before {
		t.Error("later read of a corrupt version asked the remote")
	}
	_, _, err := readSeq(s, bad, 0, 128*KiB)
	if !errors.Is(err, remote.ErrCorrupt) {
		t.Errorf("re-read = %v, want ErrCorrupt again", err)
	}
	if fake.requests.Load() == before || c.Stats().SpoolsStarted == spools {
		t.Error("re-read did not stream again")
	}
	if st := c.Stats(); st.MD5Verified != 1 || st.MD5Mismatches != 2 {
		t.Errorf("verified %d, mismatches %d; want 1, 2", st.MD5Verified, st.MD5Mismatches)
	}
}

func TestNoMD5IsNotChecked(t *testing.T) {
	for _, rangeOK := range []bool{true, false} {
		c := newTestCache(t, Options{BlockSize: 64 * KiB})
		fake := newFakeStore("fake", rangeOK)
		s := c.Wrap(fake)
		e := fake.add("obj", MiB+3)
		fake.set(func(f *fakeStore) { f.flipAt, f.flips = 5, -1 })
		if _, wrong, err := readSeq(s, e, 0, 16*KiB); err != nil || !wrong {
			t.Errorf("rangeOK=%v: read = %v, wrong bytes %v; want no check, so the flipped byte passes", rangeOK, err, wrong)
		}
		if st := c.Stats(); st.MD5Verified+st.MD5Mismatches != 0 {
			t.Errorf("rangeOK=%v: checked an object without MD5: %+v", rangeOK, st)
		}
		c.mu.Lock()
		checks := c.checks.Len()
		c.mu.Unlock()
		if checks != 0 {
			t.Errorf("rangeOK=%v: %d checks kept", rangeOK, checks)
		}
	}
}

// Many readers of one object at once: with the right MD5 all succeed and
// it is verified once; with a wrong one every reader fails.
func TestMD5ManyReaders(t *testing.T) {
	const bs = 64 * KiB
	const readers = 16
	for _, rangeOK := range []bool{true, false} {
		for _, right := range []bool{true, false} {
			c := newTestCache(t, Options{BlockSize: bs, MaxBytes: 64 * bs})
			fake := newFakeStore("vrchat", rangeOK)
			tr := newTrickle()
			fake.trickle = tr
			s := c.Wrap(fake)
			e := fake.addMD5("obj", 30*bs+7, right)

			// Every reader starts (at 0) before the object can be
			// complete: a later read at 0 would restart a corrupt one.
			tr.allow(e.Size - 1)
			const chunk = 16 * KiB
			var started, done sync.WaitGroup
			errs := make([]error, readers)
			for i := range readers {
				started.Add(1)
				done.Go(func() {
					p := make([]byte, chunk)
					n, err := s.ReadAt(context.Background(), e, p, 0)
					started.Done()
					if err != nil || !bytes.Equal(p[:n], content(e, 0, chunk)) {
						errs[i] = err
						return
					}
					_, wrong, err := readSeq(s, e, chunk, chunk)
					mustNotBeSilent(t, wrong, err)
					errs[i] = err
				})
			}
			started.Wait()
			tr.allow(e.Size)
			done.Wait()
			for i, err := range errs {
				if right && err != nil || !right && !errors.Is(err, remote.ErrCorrupt) {
					t.Errorf("rangeOK=%v right=%v: reader %d: %v", rangeOK, right, i, err)
				}
			}
			st := c.Stats()
			if right && (st.MD5Verified != 1 || st.MD5Mismatches != 0) || !right && (st.MD5Verified != 0 || st.MD5Mismatches != 1) {
				t.Errorf("rangeOK=%v right=%v: verified %d, mismatches %d", rangeOK, right, st.MD5Verified, st.MD5Mismatches)
			}
		}
	}
}

// A sequential read of an object many times the cache's size is verified
// even when the hasher is slower than the fetches: fetches far ahead of
// it wait, rather than let the blocks it still needs be evicted (which
// would silently leave the object unchecked).
func TestMD5KeepsUpOnObjectsLargerThanTheCache(t *testing.T) {
	const bs = 64 * KiB
	c := newTestCache(t, Options{BlockSize: bs, MaxBytes: 16 * bs, MaxReadAhead: 4})
	c.hashDelay = 2 * time.Millisecond // per block: the hasher is the slowest part
	fake := newFakeStore("vrchat", true)
	s := c.Wrap(fake)
	e := fake.addMD5("big", 256*bs, true)
	if _, wrong, err := readSeq(s, e, 0, 128*KiB); err != nil || wrong {
		t.Fatalf("read = %v (wrong bytes %v)", err, wrong)
	}
	if st := c.Stats(); st.MD5Verified != 1 {
		t.Fatalf("an object 16 times the cache, read in order, was not verified: %+v", st)
	}
}
