package fs

import (
	"context"
	"errors"
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"

	"github.com/filesmount/filesmount/remote"
)

// Rename moves a name, and every later operation follows it: the node
// keeps its identity (the kernel moves the same inode), so it must also
// carry its new parent and name, or a write that follows the rename
// within the kernel's attribute timeout would upload under the old name.
//
// What happens depends on what the source is:
//   - a file that never reached the remote (being written, or a program's
//     temporary file): its name moves locally and its content is uploaded
//     under the new name, replacing what is there;
//   - a remote object (uploaded, perhaps open and being written again):
//     the remote renames or moves it, replacing what is there; content
//     still being written is uploaded over it at its close;
//   - a directory that exists only locally (VRChat's new File): its
//     name moves locally.
//
// Uploads in progress of the source and of the file replaced are waited
// for first (syncMu), so that neither lands after the rename under a name
// it no longer has. A file that the rename replaces becomes unlinked:
// descriptors still open on it keep their content, which never reaches
// the remote (unless the remote keeps it beside the new one: a VRChat
// version). If the upload a rename makes fails, the rename fails as a
// whole and nothing moves.
func (d *dirNode) Rename(ctx context.Context, name string, newParent fusefs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	w, ok := d.fsys.writer(d.backend)
	if !ok {
		return d.refuse("rename", name, "this mount is read-only", syscall.EROFS)
	}
	nd, ok := newParent.(*dirNode)
	if !ok || nd.backend.Store != d.backend.Store {
		return d.refuse("rename", name, "files cannot move between remotes (copy them instead)", syscall.EXDEV)
	}
	if flags&renameExchange != 0 {
		return d.refuse("rename", name, "exchanging two files is not supported by the remotes", syscall.ENOTSUP)
	}
	if nd == d && newName == name {
		return 0
	}
	if _, local := d.local(name); local != nil {
		return d.renameLocalDir(ctx, w, local, name, nd, newName, flags)
	}
	f := d.fileNamed(name)
	target := nd.fileNamed(newName)
	if target == f {
		target = nil
	}
	// Wait out uploads of both: the file replaced may be uploading too
	// (a new empty file is uploaded at its release), and must not land
	// after the rename.
	defer lockUploads(f, target)()
	replaced, exists := nd.listed(ctx, newName)
	if flags&renameNoReplace != 0 && (exists || target != nil) {
		return syscall.EEXIST
	}
	if f != nil {
		f.mu.Lock()
		uploaded, local := f.entry.ID != "", f.st != nil
		f.mu.Unlock()
		if !uploaded && local {
			return d.renameUnuploaded(ctx, f, name, nd, newName, target)
		}
	}
	var e remote.Entry
	if f != nil {
		f.mu.Lock()
		e = f.entry
		f.mu.Unlock()
	}
	if e.ID == "" {
		var found bool
		if e, found = d.listed(ctx, name); !found {
			return syscall.ENOENT
		}
	}
	if err := w.CheckName(nd.currentEntry(), newName); err != nil {
		return toErrno(d.fsys.opts.Logger, "rename", d.childPath(name), err)
	}
	var old *remote.Entry
	if exists && replaced.ID != e.ID {
		old = &replaced
	}
	ne, err := w.Rename(context.WithoutCancel(ctx), d.currentEntry(), e, nd.currentEntry(), newName, old)
	d.invalidate()
	nd.invalidate()
	if err != nil {
		return toErrno(d.fsys.opts.Logger, "rename", d.childPath(name)+" -> "+nd.childPath(newName), err)
	}
	if ne.ID == "" {
		ne = e
	}
	ne.Name = newName
	if target != nil {
		target.orphan()
	}
	if e.IsDir {
		if ch := d.GetChild(name); ch != nil {
			if sub, ok := ch.Operations().(*dirNode); ok {
				sub.moved(ne, nd.childPath(newName))
			}
		}
		return 0
	}
	if f == nil {
		return 0
	}
	f.moved(nd, newName, ne)
	// Content written before the rename and not uploaded yet goes up
	// under the new name now if no descriptor will close it later.
	f.mu.Lock()
	st := f.st
	f.mu.Unlock()
	if st != nil && st.isDirty() && st.idle() {
		return f.syncLocked(ctx, nil, "upload")
	}
	return 0
}

// renameUnuploaded moves a file that has no remote object yet and uploads
// it under its new name, replacing what the remote has there. The caller
// holds f.syncMu.
func (d *dirNode) renameUnuploaded(ctx context.Context, f *fileNode, name string, nd *dirNode, newName string, target *fileNode) syscall.Errno {
	if _, errno := nd.checkName("rename", newName); errno != 0 {
		return errno
	}
	// Hold the staged copy like a descriptor until it is uploaded under
	// the new name. The kernel sends the release of the writer's last
	// descriptor asynchronously: arriving after the rename, its settle
	// must not drop the copy before this upload.
	f.mu.Lock()
	st := f.st
	f.mu.Unlock()
	if st != nil {
		if err := st.open(); errors.Is(err, errStagedGone) {
			st = nil // settled before the rename
		} else if err != nil {
			return toErrno(d.fsys.opts.Logger, "rename", d.childPath(name), err)
		}
	}
	f.moved(nd, newName, remote.Entry{})
	if st == nil {
		if target != nil {
			target.orphan()
		}
		return 0
	}
	st.markDirty()
	if errno := f.syncLocked(ctx, nil, "upload"); errno != 0 {
		// The rename fails as a whole: the file keeps its old name and
		// its content (which the log says is also in the recovery
		// folder), and the file it would have replaced stays.
		f.moved(d, name, remote.Entry{})
		st.markDirty()
		st.release()
		return errno
	}
	// The file replaced is gone, unless the remote stored the upload
	// under a name of its own and kept it (a VRChat version: renaming
	// over latest.png or 3.png makes a new version, 3.png stays).
	if target != nil && !f.nameGone() {
		target.orphan()
	}
	st.release()
	f.settle()
	return 0
}

// moved gives the file its new place after a rename. entry, if it has an
// ID, is the remote object as renamed. The staged copy, if any, moves
// with the file: the pending entry that lists it, and the journal record,
// so that a crash recovers it under the new name.
func (n *fileNode) moved(nd *dirNode, newName string, entry remote.Entry) {
	n.mu.Lock()
	oldParent, oldName := n.parent, n.name
	n.parent, n.name = nd, newName
	if entry.ID != "" {
		n.entry = entry
	} else {
		n.entry.Name = newName
	}
	st, e := n.st, n.entry
	n.mu.Unlock()
	if st == nil {
		return
	}
	oldParent.removePending(oldName, n)
	nd.addPending(newName, n)
	var old *remote.Entry
	if e.ID != "" {
		old = &e
	}
	if err := n.fsys.dirs.renameRecord(st, nd.currentEntry(), nd.childPath(newName), newName, old); err != nil {
		n.fsys.opts.Logger.Printf("rename %s: journal: %v", nd.childPath(newName), err)
	}
}

// moved gives a renamed directory its new remote entry and path.
func (d *dirNode) moved(e remote.Entry, path string) {
	d.mu.Lock()
	d.entry, d.path, d.snap = e, path, nil
	d.gen++
	d.mu.Unlock()
}

// renameLocalDir renames a directory that exists only locally (a VRChat
// File before its first version): the remote gives it its entry for the
// new name, and the files being written in it follow.
func (d *dirNode) renameLocalDir(ctx context.Context, w remote.Writer, sub *dirNode, name string, nd *dirNode, newName string, flags uint32) syscall.Errno {
	if _, taken := nd.listed(ctx, newName); taken || nd.hasLocal(newName) {
		// Replacing a directory would need it empty; no remote here
		// keeps empty directories, so it is only ever a local one.
		if flags&renameNoReplace != 0 {
			return syscall.EEXIST
		}
		return d.refuse("rename", name, "the new name is taken (remove it first)", syscall.EEXIST)
	}
	e, err := w.Mkdir(ctx, nd.currentEntry(), newName)
	if err != nil {
		return toErrno(d.fsys.opts.Logger, "rename", d.childPath(name), err)
	}
	d.mu.Lock()
	if d.newDirs[name] == sub {
		delete(d.newDirs, name)
	}
	d.mu.Unlock()
	nd.mu.Lock()
	if nd.newDirs == nil {
		nd.newDirs = map[string]*dirNode{}
	}
	nd.newDirs[newName] = sub
	nd.mu.Unlock()
	sub.moved(e, nd.childPath(newName))
	sub.mu.Lock()
	sub.localOnly = true
	files := make(map[string]*fileNode, len(sub.pending))
	for n, f := range sub.pending {
		files[n] = f
	}
	sub.mu.Unlock()
	for childName, f := range files {
		f.mu.Lock()
		st := f.st
		f.mu.Unlock()
		if st != nil {
			if err := f.fsys.dirs.renameRecord(st, e, sub.childPath(childName), childName, nil); err != nil {
				d.fsys.opts.Logger.Printf("rename %s: journal: %v", sub.childPath(childName), err)
			}
		}
	}
	return 0
}

// fileNamed returns the node of the file that name refers to now in d: a
// local file, or the kernel's node of a remote one. The kernel may still
// hold a node under a name that is no longer its own (an upload that the
// remote named itself, an unlinked file): such a node is not returned.
func (d *dirNode) fileNamed(name string) *fileNode {
	if f, _ := d.local(name); f != nil {
		return f
	}
	ch := d.GetChild(name)
	if ch == nil {
		return nil
	}
	f, ok := ch.Operations().(*fileNode)
	if !ok {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.unlinked || f.parent != d || f.name != name {
		return nil
	}
	return f
}

func (d *dirNode) hasLocal(name string) bool {
	f, sub := d.local(name)
	return f != nil || sub != nil
}

// lockUploads takes the syncMu of each node given (nil ones skipped) in
// one global order, so that two renames between the same names cannot
// deadlock, and returns the function that releases them.
func lockUploads(a, b *fileNode) (unlock func()) {
	if a == nil || (b != nil && b.id < a.id) {
		a, b = b, a
	}
	for _, n := range []*fileNode{a, b} {
		if n != nil {
			n.syncMu.Lock()
		}
	}
	return func() {
		for _, n := range []*fileNode{a, b} {
			if n != nil {
				n.syncMu.Unlock()
			}
		}
	}
}
