package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/filesmount/filesmount/remote"
)

// Store is a remote.Store whose content is read through a Cache. Metadata
// calls and Open go straight to the wrapped store; ReadAt is cached.
type Store struct {
	c     *Cache
	inner remote.Store
	name  string // inner.Name(), read once because it keys the cache

	// noRange is set once the remote answered a ranged Open with the whole
	// object while its Caps do not promise ranges: later reads go straight
	// to a spool instead of wasting a request to learn it again.
	noRange atomic.Bool
	// rangesWork is set once such a remote honoured a Range request.
	rangesWork atomic.Bool

	probeMu sync.Mutex    // protects probe
	probe   chan struct{} // closed when the request probing for Range support answers

	raMu    sync.Mutex // protects streams
	streams *simplelru.LRU[string, *stream]
}

var (
	_ remote.Store         = (*Store)(nil)
	_ remote.ContentReader = (*Store)(nil)
)

// maxStreams bounds the read-ahead state kept per Store; the least
// recently read objects lose theirs (they restart as random readers).
const maxStreams = 1024

func newStore(c *Cache, inner remote.Store) *Store {
	streams, err := simplelru.NewLRU[string, *stream](maxStreams, nil)
	if err != nil {
		panic(err) // only for a non-positive size
	}
	return &Store{c: c, inner: inner, name: inner.Name(), streams: streams}
}

// Unwrap returns the wrapped store.
func (s *Store) Unwrap() remote.Store { return s.inner }

// Name returns the wrapped store's name.
func (s *Store) Name() string { return s.name }

// Caps returns the wrapped store's capabilities.
func (s *Store) Caps() remote.Caps { return s.inner.Caps() }

// Root calls the wrapped store.
func (s *Store) Root(ctx context.Context) (remote.Entry, error) { return s.inner.Root(ctx) }

// List calls the wrapped store.
func (s *Store) List(ctx context.Context, dir remote.Entry) ([]remote.Entry, error) {
	return s.inner.List(ctx, dir)
}

// Stat calls the wrapped store.
func (s *Store) Stat(ctx context.Context, e remote.Entry) (remote.Entry, error) {
	return s.inner.Stat(ctx, e)
}

// Open calls the wrapped store, uncached, on the caller's ctx.
func (s *Store) Open(ctx context.Context, e remote.Entry, off, length int64) (*remote.Body, error) {
	return s.inner.Open(ctx, e, off, length)
}

// ReadAt reads len(p) bytes of e at off through the cache, with
// io.ReaderAt semantics bounded by e.Size when it is known. ctx bounds
// only this caller's wait; fetches run on the Cache's context.
func (s *Store) ReadAt(ctx context.Context, e remote.Entry, p []byte, off int64) (int, error) {
	return s.readAt(ctx, e, p, off, nil)
}

// ReadVector implements remote.VectorReader: it reads like ReadAt but
// returns the cached bytes themselves, slices of blocks that are never
// modified once cached, instead of copying them into p, so that the
// filesystem hands them to the kernel in one writev. Bytes read from a
// spool are read into p.
func (s *Store) ReadVector(ctx context.Context, e remote.Entry, p []byte, off int64) ([][]byte, int, error) {
	var vec [][]byte
	n, err := s.readAt(ctx, e, p, off, &vec)
	return vec, n, err
}

// readAt is ReadAt, or ReadVector when vec is not nil.
func (s *Store) readAt(ctx context.Context, e remote.Entry, p []byte, off int64, vec *[][]byte) (int, error) {
	switch {
	case off < 0:
		return 0, fmt.Errorf("cache: read %s %s at offset %d: %w", s.name, e.ID, off, remote.ErrInvalid)
	case e.IsDir:
		return 0, fmt.Errorf("cache: read %s %s: is a directory: %w", s.name, e.ID, remote.ErrInvalid)
	case len(p) == 0:
		return 0, nil
	}
	want := p
	if e.Size >= 0 {
		if off >= e.Size {
			return 0, io.EOF
		}
		if rest := e.Size - off; int64(len(want)) > rest {
			want = want[:rest]
		}
	}

	n, err := s.readVerified(ctx, e, want, off, vec)
	s.c.n.bytesRead.Add(int64(n))
	if err == nil && n < len(p) {
		err = io.EOF
	}
	return n, err
}

// read reads p at off from blocks or from a spool; p does not extend
// beyond e.Size. With vec, the bytes are appended to it as slices (of
// blocks, or of p for a spool) instead of being copied into p.
func (s *Store) read(ctx context.Context, e remote.Entry, p []byte, off int64, vec *[][]byte) (int, error) {
	if s.noRange.Load() || s.c.hasSpool(s.spoolKey(e)) {
		return s.readSpoolInto(ctx, e, p, off, vec)
	}
	probing, err := s.awaitRangeProbe(ctx)
	if err != nil {
		return 0, err
	}
	if probing != nil {
		defer s.endRangeProbe(probing)
	} else if s.noRange.Load() {
		return s.readSpoolInto(ctx, e, p, off, vec)
	}
	n, err := s.readBlocks(ctx, e, p, off, vec)
	if errors.Is(err, errSpooled) {
		// The remote sent the whole object; a spool now streams it.
		if vec != nil {
			*vec = (*vec)[:0]
		}
		return s.readSpoolInto(ctx, e, p, off, vec)
	}
	return n, err
}

// readSpoolInto is readSpool that also appends what it read to vec.
func (s *Store) readSpoolInto(ctx context.Context, e remote.Entry, p []byte, off int64, vec *[][]byte) (int, error) {
	n, err := s.readSpool(ctx, e, p, off)
	if vec != nil && n > 0 {
		*vec = append(*vec, p[:n])
	}
	return n, err
}

// awaitRangeProbe lets one read at a time find out whether a remote whose
// Caps do not promise ranges honours them, so that concurrent first reads
// of such a remote (CBRAIN) share one whole-object stream instead of each
// downloading the whole object. It returns the probe to end if the caller
// is the one to find out, and nil once the answer is known.
func (s *Store) awaitRangeProbe(ctx context.Context) (chan struct{}, error) {
	for {
		if s.noRange.Load() || s.rangesWork.Load() || s.inner.Caps().RangeReads {
			return nil, nil
		}
		s.probeMu.Lock()
		probe := s.probe
		if probe == nil {
			probe = make(chan struct{})
			s.probe = probe
			s.probeMu.Unlock()
			return probe, nil
		}
		s.probeMu.Unlock()
		select {
		case <-probe:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// endRangeProbe wakes the reads waiting on probe, or on the current probe
// if probe is nil (any answer from the remote tells).
func (s *Store) endRangeProbe(probe chan struct{}) {
	s.probeMu.Lock()
	defer s.probeMu.Unlock()
	if s.probe != nil && (probe == nil || probe == s.probe) {
		close(s.probe)
		s.probe = nil
	}
}

// noteRangeAnswer records what the remote did with a ranged request and
// ends the probe waiting for it.
func (s *Store) noteRangeAnswer(ranged bool) {
	if ranged {
		s.rangesWork.Store(true)
	} else if !s.inner.Caps().RangeReads && !s.noRange.Swap(true) {
		s.c.logf("%s ignores Range: reading whole objects into spool files from now on", s.name)
	}
	s.endRangeProbe(nil)
}

// Forget drops cached blocks and spools of every version of id. Reads
// already waiting still get their bytes, but fetches in flight no longer
// fill the cache, and a spool stream that no read is using stops.
func (s *Store) Forget(id string) {
	s.c.forget(s.name, id)
	s.forgetStream(id)
}
