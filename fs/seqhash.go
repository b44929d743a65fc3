package fs

import (
	"crypto/md5"
	"hash"
	"os"
	"sync"
)

// seqHashChunk is how much of the staged file the hasher reads at a time.
const seqHashChunk = 256 << 10

// seqHash computes the MD5 of a staged file while it is written strictly
// in order (cp, rsync, most programs), so that the upload needs no second
// pass over the file. It hashes in the background, reading back what was
// written (from the page cache), so that MD5 (about 1.5 ms per MiB) is
// not on the path of each write: a writer waits for every write(2) it
// makes. Any write out of order, or a truncation other than to zero,
// turns it off; the upload then hashes the whole file. A nil *seqHash
// (a staged file resumed from the journal) hashes nothing.
type seqHash struct {
	path string // the staged file, read by the hasher through its own descriptor

	mu      sync.Mutex    // protects the fields below
	h       hash.Hash     // nil when the content was not written in order
	written int64         // bytes written in order so far
	hashed  int64         // bytes of those fed to h
	busy    bool          // a hasher goroutine runs
	idle    chan struct{} // closed when that goroutine stops
	// f is the hasher's descriptor, opened at its first run and kept
	// across runs (a run starts at every write the hasher has caught up
	// with); only the running hasher reads through it. close releases it.
	f      *os.File
	closed bool
}

func newSeqHash(path string) *seqHash { return &seqHash{path: path, h: md5.New()} }

// wrote records a write of n bytes at off and wakes the hasher.
func (q *seqHash) wrote(off, n int64) {
	if q == nil {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.h == nil {
		return
	}
	if off != q.written {
		q.h = nil
		return
	}
	q.written += n
	if !q.busy {
		q.busy, q.idle = true, make(chan struct{})
		go q.run()
	}
}

// truncated records a truncation to size: to zero starts over, anything
// else but the current length turns hashing off.
func (q *seqHash) truncated(size int64) {
	if q == nil {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.closed:
	case size == 0:
		q.h, q.written, q.hashed = md5.New(), 0, 0
	case q.h != nil && size != q.written:
		q.h = nil
	}
}

// close turns hashing off for good and releases the descriptor, now or
// when the running hasher stops. The staged file is being dropped.
func (q *seqHash) close() {
	if q == nil {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.h, q.closed = nil, true
	if !q.busy && q.f != nil {
		q.f.Close()
		q.f = nil
	}
}

// stop turns hashing off: the content was written some other way.
func (q *seqHash) stop() {
	if q == nil {
		return
	}
	q.mu.Lock()
	q.h = nil
	q.mu.Unlock()
}

// sum waits for the hasher and returns the MD5 of the first n bytes, with
// ok false if the content was not written in order.
func (q *seqHash) sum() (sum []byte, n int64, ok bool) {
	if q == nil {
		return nil, 0, false
	}
	q.mu.Lock()
	for q.busy {
		idle := q.idle
		q.mu.Unlock()
		<-idle
		q.mu.Lock()
	}
	defer q.mu.Unlock()
	if q.h == nil || q.hashed != q.written {
		return nil, 0, false
	}
	return q.h.Sum(nil), q.written, true
}

// run feeds h what has been written and not yet hashed, until it has
// caught up. A read that fails (the file was dropped) turns hashing off.
func (q *seqHash) run() {
	var buf []byte
	for {
		q.mu.Lock()
		h, from, to := q.h, q.hashed, q.written
		if h == nil || from >= to {
			q.busy = false
			close(q.idle)
			if q.closed && q.f != nil {
				q.f.Close()
				q.f = nil
			}
			q.mu.Unlock()
			return
		}
		var err error
		if q.f == nil {
			q.f, err = os.Open(q.path)
		}
		f := q.f
		q.mu.Unlock()
		n := min(seqHashChunk, to-from)
		if err == nil {
			if int64(cap(buf)) < n {
				buf = make([]byte, n) // small writes, small buffers
			}
			var m int
			if m, err = f.ReadAt(buf[:n], from); m == int(n) {
				err = nil
			}
		}
		// h is only ever used by this goroutine (and by sum once it has
		// stopped); a reset meanwhile replaced it, so the bytes are fed
		// to a hash that is then dropped.
		if err == nil {
			h.Write(buf[:n])
		}
		q.mu.Lock()
		switch {
		case q.h != h: // reset or turned off meanwhile
		case err != nil:
			q.h = nil
		default:
			q.hashed = from + n
		}
		q.mu.Unlock()
	}
}
