package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/filesmount/filesmount/remote"
)

// writeHandle is a descriptor on a file with local content. Reads and
// writes go to the staged copy; Flush and Fsync upload it.
type writeHandle struct {
	node *fileNode
	st   *staged
	// appends: opened O_APPEND|O_WRONLY (a shell's >>). Each write goes
	// at the end of the staged copy, whatever offset the kernel sends:
	// the kernel computes it from the size it holds, which may be an
	// older one of this file's (the content a failed close let go of,
	// until its invalidation arrives). Such a handle has direct I/O, so
	// no page of the kernel's cache depends on that offset.
	appends bool
}

func newWriteHandle(n *fileNode, st *staged, flags uint32) *writeHandle {
	return &writeHandle{node: n, st: st,
		appends: flags&syscall.O_APPEND != 0 && writeOpenFlags(flags)&fuse.FOPEN_DIRECT_IO != 0}
}

var (
	_ fusefs.FileReader   = (*writeHandle)(nil)
	_ fusefs.FileWriter   = (*writeHandle)(nil)
	_ fusefs.FileFlusher  = (*writeHandle)(nil)
	_ fusefs.FileFsyncer  = (*writeHandle)(nil)
	_ fusefs.FileReleaser = (*writeHandle)(nil)
)

// openForWrite gives a handle on the file's staged copy, creating it from
// the remote content unless the open truncates. Memory use does not grow
// with the file: the copy goes to disk block by block.
func (n *fileNode) openForWrite(ctx context.Context, flags uint32) (fusefs.FileHandle, uint32, syscall.Errno) {
	if _, ok := n.fsys.writer(n.backend); !ok {
		return nil, 0, n.refuse("open for writing", n.path(), "this mount is read-only", syscall.EROFS)
	}
	n.mu.Lock()
	e, st, parent, name := n.entry, n.st, n.parent, n.name
	n.mu.Unlock()
	if st == nil && e.ReadOnly {
		return nil, 0, n.refuse("open for writing", n.path(), "the remote does not allow changing this file", syscall.EACCES)
	}
	if st == nil {
		var err error
		if st, err = n.stage(ctx, e, flags&syscall.O_TRUNC != 0); err != nil {
			return nil, 0, toErrno(n.fsys.opts.Logger, "open for writing", n.path(), err)
		}
		n.mu.Lock()
		if n.st != nil { // another open staged it meanwhile
			n.mu.Unlock()
			n.fsys.discardStaged(st)
			return n.openForWrite(ctx, flags)
		}
		n.st = st
		n.mu.Unlock()
		// A copy identical to the remote object is not listed as local:
		// the node may have been looked up under an alias (latest<ext>)
		// that follows newer versions, and listing it under that name
		// would bring back the old version (touch of an old version).
		// The first write or truncation lists it (showPending).
		if st.isDirty() {
			parent.addPending(name, n)
		}
	}
	if err := st.open(); errors.Is(err, errStagedGone) {
		return n.openForWrite(ctx, flags) // settled meanwhile: stage afresh
	} else if err != nil {
		return nil, 0, toErrno(n.fsys.opts.Logger, "open for writing", n.path(), err)
	}
	if flags&syscall.O_TRUNC != 0 && st.size() > 0 {
		n.showPending()
		if err := st.truncate(0); err != nil {
			st.release()
			return nil, 0, toErrno(n.fsys.opts.Logger, "truncate", n.path(), err)
		}
	}
	return newWriteHandle(n, st, flags), writeOpenFlags(flags), 0
}

// stage creates the staged copy of remote content e (empty if truncate).
func (n *fileNode) stage(ctx context.Context, e remote.Entry, truncate bool) (*staged, error) {
	st, err := n.fsys.dirs.newStaged()
	if err != nil {
		return nil, err
	}
	if !truncate && e.Size > 0 {
		st.forgetSequence()
		if err := n.copyRemote(ctx, e, st); err != nil {
			n.fsys.discardStaged(st)
			return nil, err
		}
		st.mu.Lock()
		st.dirty = false // identical to the remote until written
		st.mu.Unlock()
	}
	st.base = e.ID
	n.mu.Lock()
	parent, name := n.parent, n.name
	n.mu.Unlock()
	old := e
	rec := journalRecord{ID: st.id, Data: st.path, Store: n.backend.Store.Name(), Dir: parent.currentEntry(),
		Path: parent.childPath(name), Name: name, Old: &old, State: stateWriting}
	if err := n.fsys.dirs.putRecord(st, rec); err != nil {
		n.fsys.discardStaged(st)
		return nil, err
	}
	// newStaged left the file open for the copy; handles reopen it.
	st.file.Close()
	st.file = nil
	return st, nil
}

func (n *fileNode) copyRemote(ctx context.Context, e remote.Entry, st *staged) error {
	buf := make([]byte, 1<<20)
	for off := int64(0); off < e.Size; {
		k, err := n.backend.Reader.ReadAt(ctx, e, buf[:min(int64(len(buf)), e.Size-off)], off)
		if k > 0 {
			if _, werr := st.file.WriteAt(buf[:k], off); werr != nil {
				return werr
			}
			off += int64(k)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if k == 0 {
			return fmt.Errorf("copying %s for writing: short content: %w", e.Name, remote.ErrCorrupt)
		}
	}
	return nil
}

func (h *writeHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	k, err := h.st.readAt(dest, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, toErrno(h.node.fsys.opts.Logger, "read", h.node.path(), err)
	}
	return fuse.ReadResultData(dest[:k]), 0
}

func (h *writeHandle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	h.node.showPending()
	var k int
	var err error
	if h.appends {
		k, err = h.st.appendData(data)
	} else {
		k, err = h.st.writeAt(data, off)
	}
	if err != nil {
		return uint32(k), toErrno(h.node.fsys.opts.Logger, "write", h.node.path(), err)
	}
	return uint32(k), 0
}

// Flush runs at every close of every descriptor (dup'd ones too), so it
// uploads only what changed since the last upload: a second Flush with
// nothing new uploads nothing. A new file that is still empty is left
// for Release: a shell's `>` redirection closes its first descriptor
// (dup2) before writing anything, and `vim` creates and removes a test
// file "4913"; uploading at that close would cost a whole upload (and,
// on CBRAIN, an overwrite later) for nothing.
func (h *writeHandle) Flush(ctx context.Context) syscall.Errno {
	if h.node.newAndEmpty() {
		return 0
	}
	return h.node.syncCopy(ctx, h.st, "upload")
}

func (h *writeHandle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	return h.node.syncCopy(ctx, h.st, "upload")
}

// Release uploads a new empty file once its last descriptor is gone (see
// Flush); `touch` thus creates an empty file on the remote, one close
// later. It runs after close has returned, so a failure is only logged:
// there is no data to lose.
func (h *writeHandle) Release(ctx context.Context) syscall.Errno {
	h.st.release()
	if h.st.idle() && h.node.newAndEmpty() {
		h.node.sync(context.Background())
	}
	h.node.dropDetached(h.st)
	h.node.settle()
	return 0
}

// dropDetached deletes a staged copy that the node no longer holds (see
// keepsOld in syncLocked) once no descriptor uses it.
func (n *fileNode) dropDetached(st *staged) {
	n.mu.Lock()
	held := n.st == st
	n.mu.Unlock()
	if held || !st.claimIdle(false) {
		return
	}
	n.fsys.discardStaged(st)
}

// newAndEmpty reports a file created through the mount that has neither
// content nor a remote object yet.
func (n *fileNode) newAndEmpty() bool {
	n.mu.Lock()
	st, e, unlinked := n.st, n.entry, n.unlinked
	n.mu.Unlock()
	return st != nil && !unlinked && e.ID == "" && st.isDirty() && st.size() == 0
}

// sync uploads the staged content if it changed. A file whose name the
// remote refuses but that looks like a program's temporary file stays
// local until it is renamed (see tempnames.go).
func (n *fileNode) sync(ctx context.Context) syscall.Errno {
	return n.syncCopy(ctx, nil, "upload")
}

// syncCopy is sync of one staged copy: a descriptor's, which the node may
// no longer hold (see keepsOld below); nil means the node's own.
// op names the operation in the log line of a failure. A failure whose
// data was handed back lets go of the copy (closeFailed).
func (n *fileNode) syncCopy(ctx context.Context, st *staged, op string) syscall.Errno {
	n.syncMu.Lock()
	defer n.syncMu.Unlock()
	errno, failed := n.uploadLocked(ctx, st, op)
	if failed != nil {
		n.closeFailed(failed)
	}
	return errno
}

// syncLocked is syncCopy for a caller that holds syncMu (rename), and
// decides itself what a failed upload leaves: the copy stays, clean, its
// data in the recovery folder.
func (n *fileNode) syncLocked(ctx context.Context, st *staged, op string) syscall.Errno {
	errno, _ := n.uploadLocked(ctx, st, op)
	return errno
}

// uploadLocked uploads st (nil: the node's own copy) if it changed. When
// the upload fails and its data was handed back, it returns that copy as
// failed. The caller holds syncMu.
func (n *fileNode) uploadLocked(ctx context.Context, st *staged, op string) (errno syscall.Errno, failed *staged) {
	n.mu.Lock()
	own, parent, name, e, unlinked, failedBefore := n.st, n.parent, n.name, n.entry, n.unlinked, n.handedBack
	n.mu.Unlock()
	if st == nil {
		st = own
	}
	if st == nil || !st.isDirty() {
		return 0, nil
	}
	if unlinked {
		if failedBefore {
			return n.handBackAgain(st, parent.childPath(name), op), nil
		}
		return 0, nil // unlinked: never uploaded (see orphan)
	}
	w, ok := n.fsys.writer(n.backend)
	if !ok {
		return syscall.EROFS, nil
	}
	dir := parent.currentEntry()
	path := parent.childPath(name)
	if staysLocal(name) {
		return 0, nil // uploaded when renamed to its final name
	}
	if st.size() == 0 && n.backend.Store.Caps().NoEmptyFiles {
		// touch alone uploads nothing: the file stays local (listed,
		// empty) until content is written and it is closed again. Its
		// name is checked then too: a File's extension may have been
		// decided since (nothing is lost by waiting).
		n.fsys.opts.Logger.Printf("upload %s: not uploaded while empty: %s keeps no empty files (it stays local until content is written)", path, n.backend.Store.Name())
		n.showPending()
		return 0, nil
	}
	if err := w.CheckName(dir, name); err != nil {
		if isTempName(name) {
			return 0, nil // uploaded when renamed to its final name
		}
		kept, herr := n.fsys.keepInRecovery(st, path)
		if herr != nil {
			n.fsys.opts.Logger.Printf("upload %s: %v; the data could not be copied to the recovery folder (%v) and stays in %s (EINVAL)", path, err, herr, st.path)
			return syscall.EINVAL, nil
		}
		n.fsys.opts.Logger.Printf("upload %s: %v; your data is kept in %s (EINVAL)", path, err, kept)
		return syscall.EINVAL, st
	}
	var old *remote.Entry
	if e.ID != "" {
		old = &e
	} else if prev, ok := parent.listed(ctx, name); ok {
		old = &prev
	}
	ne, handedBack, err := n.fsys.upload(ctx, n.backend, dir, path, name, st, old)
	if err != nil {
		errno := toErrno(n.fsys.opts.Logger, op, path, err)
		if handedBack {
			return errno, st
		}
		return errno, nil
	}
	renamedByRemote := ne.Name != "" && escapeName(ne.Name) != name
	// Written over an object that the remote keeps beside the new one (a
	// VRChat version is immutable: writing onto 3.png or latest.png adds
	// version 4): this node goes on standing for the old object, and
	// lets go of the staged copy, which now is the new object's content.
	// Descriptors still open keep it; what they write next is uploaded
	// the same way at their next close, and the copy goes at the last
	// release (dropDetached). A new open reads or stages the old object.
	keepsOld := renamedByRemote && st.base != ""
	n.mu.Lock()
	switch {
	case keepsOld:
		if n.st == st {
			n.st = nil
		}
		n.kernelVersion = "" // the kernel's pages hold what was written
		// Drop those pages and the size with them (from a goroutine:
		// never inline from an operation).
		go n.NotifyContent(0, 0)
	case renamedByRemote && n.name == name:
		// The remote chose the name (a new VRChat File's version): the
		// written name is gone, and later operations on this node act
		// on the object under its own name.
		n.entry = ne
		n.name = escapeName(ne.Name)
		n.retired = true
	default:
		n.entry = ne
	}
	n.mu.Unlock()
	n.uploadLanded(ne) // the times of the local copy now belong to ne (times.go)
	// The remote lists it now (VRChat under its version's name): stop
	// showing the local copy at once, not at the release that follows
	// close asynchronously. A later write shows it again. The listing is
	// invalidated first, so no lookup in between sees neither.
	parent.uploadedInto()
	if renamedByRemote || !st.isDirty() {
		parent.removePending(name, n)
	}
	if st.isDirty() {
		n.showPending() // written during the upload
	}
	return 0, nil
}

// orphan marks the file unlinked (its name removed, or replaced by a
// rename): open descriptors keep working on its content, which is never
// uploaded, and the staged copy goes at the last release. Its journal
// record goes at once: nothing of it is to be recovered after a crash.
func (n *fileNode) orphan() {
	n.mu.Lock()
	n.unlinked = true
	st, parent, name := n.st, n.parent, n.name
	n.mu.Unlock()
	parent.removePending(name, n)
	if st != nil {
		n.fsys.dirs.dropRecord(st)
	}
	n.settle()
}

// showPending lists the file with its local size again when it is written
// after an upload.
func (n *fileNode) showPending() {
	n.mu.Lock()
	parent, name, local := n.parent, n.name, n.st != nil && !n.unlinked
	n.mu.Unlock()
	if !local {
		return
	}
	if f, _ := parent.local(name); f != n {
		parent.addPending(name, n)
	}
}

// settle drops the staged copy once no descriptor uses it and the remote
// has the content (or the data was handed back), and lets the listing
// show the remote object again. Content not uploaded yet stays (a
// temporary file waiting for its rename, an empty file a remote does not
// take), unless the file was unlinked.
func (n *fileNode) settle() {
	n.mu.Lock()
	st, parent, name := n.st, n.parent, n.name
	if st == nil || !st.claimIdle(!n.unlinked) {
		n.mu.Unlock()
		return // still open, or local content waiting for its upload
	}
	n.st = nil
	n.mu.Unlock()
	n.fsys.discardStaged(st)
	parent.removePending(name, n)
	parent.invalidate()
}

func (n *fileNode) refuse(op, path, why string, errno syscall.Errno) syscall.Errno {
	n.fsys.opts.Logger.Printf("%s %s: refused: %s (%s)", op, path, why, errnoName(errno))
	return errno
}

// Setattr: a size change truncates the staged copy (staging and uploading
// it if no descriptor is open); times are kept (times.go); mode and owner
// are accepted and not stored, because the remotes keep no such metadata
// and refusing would break cp -p, rsync -a and touch.
func (n *fileNode) Setattr(ctx context.Context, fh fusefs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if n.nameGone() && fh == nil {
		return staleName
	}
	if size, ok := in.GetSize(); ok {
		if h, isWrite := fh.(*writeHandle); isWrite {
			n.showPending()
			if err := h.st.truncate(int64(size)); err != nil {
				return toErrno(n.fsys.opts.Logger, "truncate", n.path(), err)
			}
		} else {
			wfh, _, errno := n.openForWrite(ctx, syscall.O_WRONLY)
			if errno != 0 {
				return errno
			}
			h := wfh.(*writeHandle)
			n.showPending()
			err := h.st.truncate(int64(size))
			if err == nil {
				// The kernel truncates this way before an open with
				// O_TRUNC too (FUSE without atomic_o_trunc): a failure
				// is the truncation's, before anything was written.
				errno = n.syncCopy(ctx, nil, "truncate")
			} else {
				errno = toErrno(n.fsys.opts.Logger, "truncate", n.path(), err)
			}
			h.Release(ctx)
			if errno != 0 {
				return errno
			}
		}
	}
	if errno := n.setTimes(in); errno != 0 {
		return errno
	}
	n.attrOut(ctx, fh, out)
	return 0
}

// writeOpenFlags chooses how the kernel passes a write handle's data.
// A write-only open (cp, rsync, shell redirections) gets direct I/O: each
// write(2) reaches the daemon straight from the writer's buffer, without
// first being copied into the kernel's page cache, a copy that cost as
// much as the rest of the write path. It cannot break mmap, which needs
// a readable descriptor. Other opens keep the page cache (mmap works),
// and do not keep pages of the remote version, since a fresh open has no
// KEEP_CACHE.
func writeOpenFlags(flags uint32) uint32 {
	if flags&syscall.O_ACCMODE == syscall.O_WRONLY {
		return fuse.FOPEN_DIRECT_IO
	}
	return 0
}
