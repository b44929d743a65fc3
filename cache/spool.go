package cache

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/filesmount/filesmount/remote"
)

// spoolChunk is the copy buffer of one stream: the only memory a spool
// needs, whatever the object's size.
const spoolChunk = 256 << 10

type spoolKey struct{ store, id, version string }

func (s *Store) spoolKey(e remote.Entry) spoolKey {
	return spoolKey{store: s.name, id: e.ID, version: e.Version}
}

// spool is one object being, or having been, streamed into a file by a
// single writer while any number of readers pread what has arrived.
type spool struct {
	key  spoolKey
	file *os.File // unlinked at creation, so nothing outlives the process
	// ctx and cancel bound the stream; cancelling stops it. ctx is nil
	// when the stream adopted a body opened by a block fetch.
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex // protects the following
	written int64      // bytes of the object in file, from offset 0
	done    bool       // written is the whole object
	err     error      // why the stream failed
	changed chan struct{}

	// Protected by Cache.mu:
	readers   int       // ReadAt calls using the spool; it is not deleted while > 0
	lastUse   time.Time // when the last reader left, for LRU eviction
	accounted bool      // complete and counted in Cache.spoolBytes
	size      int64     // bytes counted, when accounted
	dropped   bool      // out of the registry; closed once readers reach 0
	released  bool      // file closed
}

// newSpool creates the spool file for k.
func (c *Cache) newSpool(k spoolKey) (*spool, error) {
	f, err := os.CreateTemp(c.opts.Dir, "spool-*")
	if err != nil {
		return nil, fmt.Errorf("cache: create spool for %s %s: %w", k.store, k.id, err)
	}
	// The open descriptor keeps the data; the name is not needed, and
	// without it a crash leaves no garbage behind.
	if err := os.Remove(f.Name()); err != nil {
		c.logf("unlink spool %s: %v", f.Name(), err)
	}
	return &spool{key: k, file: f, changed: make(chan struct{}), lastUse: time.Now()}, nil
}

// releaseLocked stops the stream and closes the file; c.mu is held and no
// reader uses the spool.
func (sp *spool) releaseLocked() {
	if sp.released {
		return
	}
	sp.released = true
	if sp.cancel != nil {
		sp.cancel()
	}
	sp.file.Close()
}

// progress records the stream's state and wakes every waiting reader.
func (sp *spool) progress(written int64, done bool, err error) {
	sp.mu.Lock()
	sp.written, sp.done, sp.err = written, done, err
	close(sp.changed)
	sp.changed = make(chan struct{})
	sp.mu.Unlock()
}

// waitFor waits until the object's first want bytes are in the file, or
// the whole object if it is shorter, and returns how many bytes are in.
// Bytes already written are served even if the stream failed since.
func (sp *spool) waitFor(ctx context.Context, want int64) (int64, error) {
	for {
		sp.mu.Lock()
		written, done, err, changed := sp.written, sp.done, sp.err, sp.changed
		sp.mu.Unlock()
		switch {
		case written >= want || done:
			return written, nil
		case err != nil:
			return 0, err
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// readSpool reads p at off from e's spool, starting the spool if needed.
// p does not extend beyond e.Size.
func (s *Store) readSpool(ctx context.Context, e remote.Entry, p []byte, off int64) (int, error) {
	sp, err := s.c.acquireSpool(s, e)
	if err != nil {
		return 0, err
	}
	defer s.c.releaseSpool(sp)

	avail, err := sp.waitFor(ctx, off+int64(len(p)))
	if err != nil {
		return 0, err
	}
	if off >= avail {
		return 0, io.EOF
	}
	want := p[:min(int64(len(p)), avail-off)]
	n, err := sp.file.ReadAt(want, off)
	if n < len(want) {
		return n, fmt.Errorf("cache: read spool of %s %s at %d: %w", s.name, e.ID, off, err)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// runSpool streams e into sp, from body if a block fetch already opened
// one, else from a new Open on the spool's context.
func (s *Store) runSpool(sp *spool, e remote.Entry, body *remote.Body) {
	c := s.c
	defer c.wg.Done()
	if body == nil {
		c.n.requests.Add(1)
		var err error
		body, err = s.inner.Open(sp.ctx, e, 0, -1)
		if err != nil {
			err = fmt.Errorf("cache: spool %s %s: open: %w", s.name, e.ID, c.fetchErr(err))
			c.finishSpool(sp, 0, err)
			return
		}
	}
	written, err := s.copyToSpool(sp, e, body)
	body.Close()
	c.finishSpool(sp, written, err)
}

// copyToSpool copies body into sp.file, waking readers after every chunk
// so that the first bytes are served long before the last arrive.
func (s *Store) copyToSpool(sp *spool, e remote.Entry, body *remote.Body) (int64, error) {
	c := s.c
	size, err := s.checkSize(e, body.Size)
	if err != nil {
		return 0, err
	}
	if body.Offset != 0 {
		return 0, fmt.Errorf("cache: spool %s %s: whole-object body starts at %d: %w",
			s.name, e.ID, body.Offset, remote.ErrCorrupt)
	}
	buf := make([]byte, spoolChunk)
	var written int64
	h := c.spoolHash(sp.key, e) // nil: no MD5 to check
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			c.n.bytesFetched.Add(int64(n))
			if size >= 0 && written+int64(n) > size {
				return written, fmt.Errorf("cache: spool %s %s: body longer than %d bytes: %w",
					s.name, e.ID, size, remote.ErrCorrupt)
			}
			if _, err := sp.file.WriteAt(buf[:n], written); err != nil {
				return written, fmt.Errorf("cache: spool %s %s: %w", s.name, e.ID, err)
			}
			if h != nil {
				h.Write(buf[:n])
				// The verdict comes before the last bytes are published,
				// so that the read which needs them sees a mismatch.
				if written+int64(n) == e.Size {
					if err := c.concludeSpool(sp, e, h.Sum(nil)); err != nil {
						return written, err
					}
				}
			}
			written += int64(n)
			sp.progress(written, false, nil)
		}
		switch {
		case rerr == io.EOF:
			if size >= 0 && written != size {
				return written, fmt.Errorf("cache: spool %s %s: body ended after %d of %d bytes: %w: %w",
					s.name, e.ID, written, size, remote.ErrCorrupt, io.ErrUnexpectedEOF)
			}
			return written, nil
		case rerr != nil:
			return written, fmt.Errorf("cache: spool %s %s: after %d bytes: %w",
				s.name, e.ID, written, c.fetchErr(rerr))
		}
	}
}
