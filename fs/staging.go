package fs

import (
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// A staged file is the local copy of a file being written: every write,
// truncate and read-back of an open-for-write file works on it, so memory
// does not grow with file size. It is deleted only after the remote has
// confirmed the upload (or moved to the recovery folder on failure).
type staged struct {
	path string // <cache-dir>/staging/<id>.data
	id   string // also names the journal record

	mu      sync.Mutex // protects the fields below
	file    *os.File   // open read-write while any handle uses it
	opens   int        // handles using file
	dirty   bool       // changed since the last successful upload (or never uploaded)
	removed bool       // uploaded or handed back: no further writes
	seq     *seqHash   // the MD5 of content written in order
	// base is the remote object the copy was staged from ("" for a new
	// file). Read-only after staging.
	base string
	// record is the journal record on disk for this copy, nil when there
	// is none (its upload landed and no descriptor writes to it any
	// more). A rename rewrites it, so that a crash recovers the data
	// under the name it has now, never under an old one.
	record *journalRecord
}

// stagingDirs are the daemon's private folders under --cache-dir.
type stagingDirs struct {
	staging  string // staged data files
	journal  string // one record per pending upload
	recovery string // data of failed uploads, handed back to the user
}

func newStagingDirs(cacheDir string) (stagingDirs, error) {
	d := stagingDirs{
		staging:  filepath.Join(cacheDir, "staging"),
		journal:  filepath.Join(cacheDir, "journal"),
		recovery: filepath.Join(cacheDir, "recovery"),
	}
	for _, p := range []string{d.staging, d.journal, d.recovery} {
		if err := os.MkdirAll(p, 0o700); err != nil {
			return d, fmt.Errorf("staging: %w", err)
		}
		if err := os.Chmod(p, 0o700); err != nil {
			return d, fmt.Errorf("staging: %w", err)
		}
	}
	return d, nil
}

// newStaged creates an empty staged file.
func (d stagingDirs) newStaged() (*staged, error) {
	f, err := os.CreateTemp(d.staging, "*.data")
	if err != nil {
		return nil, fmt.Errorf("staging: %w", err)
	}
	base := filepath.Base(f.Name())
	return &staged{path: f.Name(), id: base[:len(base)-len(".data")], file: f, dirty: true, seq: newSeqHash(f.Name())}, nil
}

// errStagedGone: the staged copy was settled (uploaded and dropped)
// between a lookup of it and an open; the caller starts a new one.
var errStagedGone = errors.New("staged copy already dropped")

// open registers a handle; release unregisters it and closes the file
// when the last handle is gone.
func (s *staged) open() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.removed {
		return errStagedGone
	}
	if s.file == nil {
		f, err := os.OpenFile(s.path, os.O_RDWR, 0o600)
		if err != nil {
			return err
		}
		s.file = f
	}
	s.opens++
	return nil
}

func (s *staged) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opens--
	if s.opens <= 0 && s.file != nil {
		s.file.Close()
		s.file = nil
	}
}

func (s *staged) writeAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.file == nil || s.removed {
		return 0, os.ErrClosed
	}
	return s.writeLocked(p, off)
}

// writeLocked writes p at off; the caller holds mu and checked the file.
func (s *staged) writeLocked(p []byte, off int64) (int, error) {
	s.dirty = true
	n, err := s.file.WriteAt(p, off)
	if err != nil {
		s.seq.stop()
	} else {
		s.seq.wrote(off, int64(n))
	}
	return n, err
}

// appendData writes p at the end of the copy, in one step with respect
// to other writes (two descriptors appending never overwrite each other).
func (s *staged) appendData(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.file == nil || s.removed {
		return 0, os.ErrClosed
	}
	fi, err := s.file.Stat()
	if err != nil {
		return 0, err
	}
	return s.writeLocked(p, fi.Size())
}

func (s *staged) readAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	f := s.file
	s.mu.Unlock()
	if f == nil {
		return 0, os.ErrClosed
	}
	return f.ReadAt(p, off)
}

func (s *staged) truncate(size int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.removed {
		return os.ErrClosed
	}
	s.dirty = true
	s.seq.truncated(size)
	return os.Truncate(s.path, size)
}

// forgetSequence turns off the running hash: the content was written
// some other way (copied from the remote).
func (s *staged) forgetSequence() {
	s.seq.stop()
}

func (s *staged) size() int64 {
	fi, err := os.Stat(s.path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// snapshot returns the content to upload with its size and a function
// that returns its MD5, and clears dirty: writes that arrive during the
// upload set it again. The MD5 of content written in order comes from
// the background hasher, which may still be catching up: only a Writer
// that needs the digest waits for it (a new CBRAIN upload does not).
func (s *staged) snapshot() (*os.File, int64, func() ([]byte, error), error) {
	s.mu.Lock()
	s.dirty = false
	s.mu.Unlock()
	f, err := os.Open(s.path)
	if err != nil {
		return nil, 0, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, nil, err
	}
	size := fi.Size()
	digest := sync.OnceValues(func() ([]byte, error) {
		if sum, n, inOrder := s.seq.sum(); inOrder && n == size {
			return sum, nil // hashed while written
		}
		h := md5.New()
		if _, err := io.Copy(h, io.NewSectionReader(f, 0, size)); err != nil {
			return nil, fmt.Errorf("hashing the staged data: %w", err)
		}
		return h.Sum(nil), nil
	})
	return f, size, digest, nil
}

func (s *staged) isDirty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dirty
}

// claimIdle marks the staged copy removed if no handle uses it and it
// need not be kept, in one step with respect to open: a concurrent open
// either registers first (and the copy stays) or sees errStagedGone.
func (s *staged) claimIdle(keepDirty bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opens > 0 || (keepDirty && s.dirty) || s.removed {
		return false
	}
	s.removed = true
	return true
}

// idle reports whether no descriptor (nor a rename's pin) uses the copy.
func (s *staged) idle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opens == 0
}

func (s *staged) markDirty() {
	s.mu.Lock()
	s.dirty = true
	s.mu.Unlock()
}

// markClean: the content is safe elsewhere (handed back); a write after
// this marks it dirty again.
func (s *staged) markClean() {
	s.mu.Lock()
	s.dirty = false
	s.mu.Unlock()
}
