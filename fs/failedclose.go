package fs

import (
	"syscall"
)

// closeFailed lets go of staged copy st after a close (or fsync) whose
// upload failed and whose data was handed back to the recovery folder, as
// a successful upload lets go of it: the node no longer holds it, and the
// next open starts from what the remote has.
//
// Keeping the copy instead is what corrupted data (found by the model
// soak, seed 590334609): `echo a >> f` fails, then `echo edd >> f` opens f
// before the kernel's asynchronous release of the first descriptor. The
// release dropped the clean copy under the second open, which staged an
// empty one, while the kernel still held the size 2 of the first; the
// O_APPEND write landed at offset 2: "\0\0edd\n".
//
//   - A file the remote never had is gone: its name leaves the listing, a
//     path that still reaches the node gets ESTALE (so the kernel looks it
//     up again and finds no such file), and what descriptors still open
//     write is handed back again at their next close (handBackAgain).
//   - A file the remote has stands for the remote object again (a path
//     reaching it gets ESTALE until the kernel has let go of the size it
//     held); what descriptors still open write is uploaded at their next
//     close, as after any other close.
//
// The kernel's entry and pages are invalidated from a goroutine: never
// inline from an operation.
func (n *fileNode) closeFailed(st *staged) {
	n.mu.Lock()
	if n.st != st || n.unlinked {
		n.mu.Unlock()
		return // a descriptor's detached copy, or already gone
	}
	n.st = nil
	neverUploaded := n.entry.ID == ""
	if neverUploaded {
		n.unlinked = true
		n.handedBack = true
	} else {
		// The kernel may still hold the size of what was written
		// until the invalidation below reaches it; an O_APPEND write
		// would land past the remote content. A path reaching the
		// node gets ESTALE until a lookup gives the kernel the remote
		// size (and clears this; see forgetAliases for why only a
		// lookup does).
		n.suspect = true
	}
	n.kernelVersion = ""
	parent, name := n.parent, n.name
	n.mu.Unlock()
	n.fsys.dirs.dropRecord(st)
	parent.removePending(name, n)
	parent.invalidate()
	if st.claimIdle(false) {
		n.fsys.discardStaged(st) // no descriptor left (fsync of a closed copy)
	}
	go func() {
		// Dropping the entry makes the kernel look the name up again,
		// and that lookup's attributes replace the size it held (an
		// attribute invalidation alone does not: an O_APPEND write
		// takes the size the kernel has).
		parent.NotifyEntry(name) // an error means the kernel holds no such entry
		n.NotifyContent(0, 0)
	}()
}

// handBackAgain keeps what a descriptor wrote after its file's failed
// close let go of it (closeFailed): the file no longer exists, so the data
// goes to the recovery folder, and the close reports EIO.
func (n *fileNode) handBackAgain(st *staged, path, op string) syscall.Errno {
	kept, err := n.fsys.keepInRecovery(st, path)
	if err != nil {
		n.fsys.opts.Logger.Printf("%s %s: not uploaded: an earlier close of this file failed, and what was written since through a descriptor still open could not be copied to the recovery folder (%v); it stays in %s until that descriptor closes (EIO)", op, path, err, st.path)
		return syscall.EIO
	}
	n.fsys.opts.Logger.Printf("%s %s: not uploaded: an earlier close of this file failed and let go of it; what was written since through a descriptor still open is kept in %s (EIO)", op, path, kept)
	return syscall.EIO
}

// keepInRecovery hands staged copy st back to the recovery folder and
// marks it clean, so that its release may drop it; a write during the copy
// marks it dirty again. If the copy fails, st stays dirty: it holds the
// only data.
func (f *filesys) keepInRecovery(st *staged, path string) (string, error) {
	st.markClean()
	kept, err := f.handBackStaged(st, path)
	if err != nil {
		st.markDirty()
	}
	return kept, err
}
