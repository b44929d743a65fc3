package fs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/filesmount/filesmount/remote"
)

// uploadTimeout bounds one upload, including the remote's processing.
const uploadTimeout = 6 * time.Hour

// uploads tracks uploads in progress, so that unmounting can wait for
// them and name them.
type uploads struct {
	mu     sync.Mutex        // protects active
	active map[string]string // staged id -> mount path
	wg     sync.WaitGroup
}

func (u *uploads) start(id, path string) {
	u.mu.Lock()
	if u.active == nil {
		u.active = map[string]string{}
	}
	u.active[id] = path
	u.mu.Unlock()
	u.wg.Add(1)
}

func (u *uploads) done(id string) {
	u.mu.Lock()
	delete(u.active, id)
	u.mu.Unlock()
	u.wg.Done()
}

// Pending returns the mount paths of uploads in progress.
func (u *uploads) pending() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []string
	for _, p := range u.active {
		out = append(out, p)
	}
	return out
}

// upload sends the staged content of path (name in dir) to the remote and
// returns the remote's new object. The journal says "uploading" while it
// runs, so a crash resumes it. On failure the data is handed back in the
// recovery folder, the error says where, and handedBack is true; if it
// could not be handed back, the copy stays dirty (its release must not
// drop the only data) and its journal record stays. The upload runs
// detached from the FUSE request: an interrupted close must not abandon
// half an upload.
func (f *filesys) upload(ctx context.Context, b Backend, dir remote.Entry, path, name string, st *staged, old *remote.Entry) (e remote.Entry, handedBack bool, err error) {
	w, ok := f.writer(b)
	if !ok {
		return remote.Entry{}, false, fmt.Errorf("%s does not accept writes: %w", b.Store.Name(), remote.ErrReadOnly)
	}
	data, size, digest, err := st.snapshot()
	if err != nil {
		st.markDirty()
		return remote.Entry{}, false, fmt.Errorf("reading staged data of %s: %w", path, err)
	}
	defer data.Close()
	rec := journalRecord{ID: st.id, Data: st.path, Store: b.Store.Name(), Dir: dir, Path: path, Name: name, Old: old, State: stateUploading}
	if err := f.dirs.putRecord(st, rec); err != nil {
		st.markDirty()
		return remote.Entry{}, false, err
	}
	f.uploads.start(st.id, path)
	defer f.uploads.done(st.id)
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), uploadTimeout)
	defer cancel()
	e, err = w.Upload(uctx, dir, name, remote.Source{ReaderAt: data, Size: size, MD5: digest}, old)
	if err != nil {
		kept, herr := f.handBackStaged(st, path)
		if herr != nil {
			// Keep the journal record: the next start tries again.
			st.markDirty()
			return remote.Entry{}, false, fmt.Errorf("%w; the data could not be copied to the recovery folder (%v) and stays in %s", err, herr, st.path)
		}
		f.dirs.dropRecord(st)
		return remote.Entry{}, true, fmt.Errorf("%w; your data is kept in %s", err, kept)
	}
	st.mu.Lock()
	stillOpen := st.opens > 0
	st.mu.Unlock()
	if stillOpen {
		// Later writes through open descriptors must survive a crash too.
		rec.State = stateWriting
		rec.Old = &e
		if err := f.dirs.putRecord(st, rec); err != nil {
			f.opts.Logger.Printf("journal: %s: %v", path, err)
		}
	} else {
		f.dirs.dropRecord(st)
	}
	return e, false, nil
}

// handBackStaged is handBack of a staged copy that descriptors may still
// write to: a hard link would let those writes change the recovery copy
// after the log named it, so an open copy is copied instead.
func (f *filesys) handBackStaged(st *staged, path string) (string, error) {
	st.mu.Lock()
	open := st.opens > 0
	st.mu.Unlock()
	return f.handBack(st.path, path, !open)
}

// handBack puts staged data into the recovery folder under the file's
// mount path (never overwriting an earlier copy) and returns where: by a
// hard link if link is true and the file system allows it, else by a copy.
func (f *filesys) handBack(data, path string, link bool) (string, error) {
	dst := recoveryPath(f.dirs.recovery, path)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return "", err
	}
	candidate := dst
	for i := 1; ; i++ {
		if _, err := os.Lstat(candidate); errors.Is(err, os.ErrNotExist) {
			break
		}
		candidate = dst + "." + strconv.Itoa(i)
	}
	if link && os.Link(data, candidate) == nil {
		return candidate, nil
	}
	return candidate, copyFile(data, candidate)
}

// recoveryPath is where handBack keeps the data of the file at mount path
// path: always strictly inside the recovery folder, whatever path holds
// (it may come from a journal record on disk). Mount paths are made of
// valid names and are kept as they are; empty and "." components are
// dropped, and any other invalid one ("..", NUL, too long) is escaped as
// remote names are.
func recoveryPath(recovery, path string) string {
	parts := []string{recovery}
	for _, c := range strings.Split(filepath.ToSlash(path), "/") {
		if c == "" || c == "." {
			continue
		}
		parts = append(parts, escapeName(c))
	}
	if len(parts) == 1 {
		parts = append(parts, "unnamed")
	}
	return filepath.Join(parts...)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := out.ReadFrom(in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// discardStaged deletes a staged file that is no longer needed (uploaded,
// handed back, or unlinked before upload), with its journal record.
func (f *filesys) discardStaged(st *staged) {
	st.mu.Lock()
	st.removed = true
	st.mu.Unlock()
	st.seq.close()
	os.Remove(st.path)
	f.dirs.dropRecord(st)
}
