package fs

import (
	"context"
	"errors"
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/filesmount/filesmount/remote"
)

var (
	_ fusefs.NodeCreater  = (*dirNode)(nil)
	_ fusefs.NodeMkdirer  = (*dirNode)(nil)
	_ fusefs.NodeUnlinker = (*dirNode)(nil)
	_ fusefs.NodeRmdirer  = (*dirNode)(nil)
	_ fusefs.NodeRenamer  = (*dirNode)(nil)
)

func (d *dirNode) addPending(name string, n *fileNode) {
	d.mu.Lock()
	if d.pending == nil {
		d.pending = map[string]*fileNode{}
	}
	d.pending[name] = n
	d.mu.Unlock()
}

func (d *dirNode) removePending(name string, n *fileNode) {
	d.mu.Lock()
	if d.pending[name] == n {
		delete(d.pending, name)
	}
	d.mu.Unlock()
}

// listed returns the remote object listed under name, if any.
func (d *dirNode) listed(ctx context.Context, name string) (remote.Entry, bool) {
	l, err := d.listing(ctx)
	if err != nil {
		return remote.Entry{}, false
	}
	e, ok := l.byName[name]
	return e, ok
}

// uploadedInto is called after an upload into d succeeded. A directory
// that existed only locally now exists remotely: the parent's listing has
// it, and it takes that identity.
func (d *dirNode) uploadedInto() {
	d.forgetAliases()
	d.invalidate()
	d.mu.Lock()
	local := d.localOnly
	d.mu.Unlock()
	if !local {
		return
	}
	name, parentInode := d.Parent()
	parent, ok := parentInode.Operations().(*dirNode)
	if !ok {
		return
	}
	parent.invalidate()
	e, found := parent.listed(context.Background(), name)
	if !found || !e.IsDir {
		return
	}
	d.mu.Lock()
	d.entry, d.localOnly, d.snap = e, false, nil
	d.mu.Unlock()
	parent.mu.Lock()
	if parent.newDirs[name] == d {
		delete(parent.newDirs, name)
	}
	parent.mu.Unlock()
}

// holdsLocal reports files or directories that exist here only locally.
func (d *dirNode) holdsLocal() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.pending) > 0 || len(d.newDirs) > 0
}

func (d *dirNode) refuse(op, name, why string, errno syscall.Errno) syscall.Errno {
	d.fsys.opts.Logger.Printf("%s %s: refused: %s (%s)", op, d.childPath(name), why, errnoName(errno))
	return errno
}

// checkName asks the remote whether name may be created here.
func (d *dirNode) checkName(op, name string) (remote.Writer, syscall.Errno) {
	w, ok := d.fsys.writer(d.backend)
	if !ok {
		return nil, d.refuse(op, name, "this mount is read-only", syscall.EROFS)
	}
	if err := w.CheckName(d.currentEntry(), name); err != nil && !isTempName(name) {
		return nil, toErrno(d.fsys.opts.Logger, op, d.childPath(name), err)
	}
	return w, 0
}

// Create makes a new local file, staged on disk and uploaded when closed.
func (d *dirNode) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fusefs.Inode, fusefs.FileHandle, uint32, syscall.Errno) {
	if _, errno := d.checkName("create", name); errno != 0 {
		return nil, nil, 0, errno
	}
	st, err := d.fsys.dirs.newStaged()
	if err != nil {
		return nil, nil, 0, toErrno(d.fsys.opts.Logger, "create", d.childPath(name), err)
	}
	rec := journalRecord{ID: st.id, Data: st.path, Store: d.backend.Store.Name(), Dir: d.currentEntry(),
		Path: d.childPath(name), Name: name, State: stateWriting}
	if err := d.fsys.dirs.putRecord(st, rec); err != nil {
		d.fsys.discardStaged(st)
		return nil, nil, 0, toErrno(d.fsys.opts.Logger, "create", d.childPath(name), err)
	}
	st.opens = 1 // the handle below; newStaged left the file open
	n := newFileNode(d.fsys, d.backend, remote.Entry{Name: name, ModTime: d.fsys.started}, d, name)
	n.st = st
	if prev, _ := d.local(name); prev != nil {
		prev.orphan() // replaced by the new file
	}
	d.addPending(name, n)
	ch := d.NewInode(ctx, n, fusefs.StableAttr{Mode: syscall.S_IFREG, Ino: inodeNumber(d.backend.Store.Name(), "local/"+st.id)})
	n.fillAttr(&out.Attr)
	out.SetEntryTimeout(uncachedEntry)
	out.SetAttrTimeout(uncachedEntry)
	return ch, newWriteHandle(n, st, flags), writeOpenFlags(flags), 0
}

// Mkdir creates a directory through the remote; a remote that creates
// directories lazily (VRChat) gets a local one until a file is written in.
func (d *dirNode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	w, errno := d.checkName("mkdir", name)
	if errno != 0 {
		return nil, errno
	}
	e, err := w.Mkdir(ctx, d.currentEntry(), name)
	if err != nil {
		return nil, toErrno(d.fsys.opts.Logger, "mkdir", d.childPath(name), err)
	}
	d.invalidate()
	if listed, ok := d.listed(ctx, name); ok && listed.IsDir {
		// The remote created it at once.
		return d.childInode(ctx, name, listed, &out.Attr), 0
	}
	// The remote creates it lazily: keep it locally until then.
	nd := newDirNode(d.fsys, d.backend, e, d.childPath(name))
	nd.localOnly = true
	d.mu.Lock()
	if d.newDirs == nil {
		d.newDirs = map[string]*dirNode{}
	}
	d.newDirs[name] = nd
	d.mu.Unlock()
	ch := d.NewInode(ctx, nd, fusefs.StableAttr{Mode: syscall.S_IFDIR, Ino: inodeNumber(d.backend.Store.Name(), "localdir/"+d.childPath(name))})
	d.fsys.fillAttr(e, ch.StableAttr().Ino, &out.Attr)
	d.fsys.setMode(&out.Attr, d.backend, e)
	return ch, 0
}

// Unlink deletes a file: locally if it never reached the remote,
// otherwise through the remote (which may refuse, e.g. an old VRChat
// version). An upload of the file in progress is waited for, so that it
// cannot land after the unlink. Descriptors still open keep the content
// (see orphan).
func (d *dirNode) Unlink(ctx context.Context, name string) syscall.Errno {
	w, ok := d.fsys.writer(d.backend)
	if !ok {
		return d.refuse("unlink", name, "this mount is read-only", syscall.EROFS)
	}
	f := d.fileNamed(name)
	if f != nil {
		f.syncMu.Lock()
		defer f.syncMu.Unlock()
		f.mu.Lock()
		uploaded, local := f.entry.ID != "", f.st != nil
		f.mu.Unlock()
		if !uploaded && local {
			f.orphan() // it never reached the remote
			return 0
		}
	}
	e, found := d.listed(ctx, name)
	if !found {
		d.mu.Lock()
		when, wasThere := d.gone[name]
		d.mu.Unlock()
		if wasThere && time.Since(when) < goneMemory {
			return 0
		}
		return syscall.ENOENT
	}
	if errno := d.removeRemote(ctx, w, name, e); errno != 0 {
		return errno
	}
	if f != nil {
		f.orphan()
	}
	if ch := d.GetChild(name); ch != nil {
		// The kernel's node of the object, which it may also know
		// under an alias (latest<ext>) and our node names so.
		if fn, ok := ch.Operations().(*fileNode); ok && fn != f && fn.standsFor(e) {
			fn.orphan()
		}
	}
	return 0
}

// goneMemory is how long a name removed through the mount is remembered.
const goneMemory = 30 * time.Second

func (d *dirNode) removeRemote(ctx context.Context, w remote.Writer, name string, e remote.Entry) syscall.Errno {
	err := w.Remove(context.WithoutCancel(ctx), d.currentEntry(), e)
	if err == nil {
		now := time.Now()
		d.mu.Lock()
		if d.gone == nil {
			d.gone = map[string]time.Time{}
		}
		d.gone[name] = now
		if d.snap != nil {
			for _, n := range d.snap.entries {
				if n.entry.ID == e.ID {
					d.gone[n.name] = now
				}
			}
		}
		for n, t := range d.gone {
			if now.Sub(t) > goneMemory {
				delete(d.gone, n)
			}
		}
		d.mu.Unlock()
		d.forgetAliases()
	}
	d.invalidate()
	if err != nil {
		return toErrno(d.fsys.opts.Logger, "unlink", d.childPath(name), err)
	}
	return 0
}

func (d *dirNode) Rmdir(ctx context.Context, name string) syscall.Errno {
	w, ok := d.fsys.writer(d.backend)
	if !ok {
		return d.refuse("rmdir", name, "this mount is read-only", syscall.EROFS)
	}
	if _, nd := d.local(name); nd != nil {
		if nd.holdsLocal() {
			return syscall.ENOTEMPTY
		}
		d.mu.Lock()
		delete(d.newDirs, name)
		d.mu.Unlock()
		// A first upload that failed halfway may have created it on the
		// remote (VRChat's POST /file landed, its version did not).
		if e, found := d.listed(ctx, name); found && e.IsDir {
			d.fsys.opts.Logger.Printf("rmdir %s: removing it on %s too, where a failed upload created it", d.childPath(name), d.backend.Store.Name())
			return d.rmdirRemote(ctx, w, name, e)
		}
		return 0
	}
	e, found := d.listed(ctx, name)
	if !found {
		return syscall.ENOENT
	}
	if ch := d.GetChild(name); ch != nil {
		// Files written there and not uploaded yet (an empty VRChat
		// file) are entries the remote cannot see.
		if sub, ok := ch.Operations().(*dirNode); ok && sub.holdsLocal() {
			d.fsys.opts.Logger.Printf("rmdir %s: it holds files not uploaded yet (ENOTEMPTY)", d.childPath(name))
			return syscall.ENOTEMPTY
		}
	}
	return d.rmdirRemote(ctx, w, name, e)
}

func (d *dirNode) rmdirRemote(ctx context.Context, w remote.Writer, name string, e remote.Entry) syscall.Errno {
	err := w.Rmdir(context.WithoutCancel(ctx), d.currentEntry(), e)
	d.invalidate()
	if errors.Is(err, remote.ErrConflict) {
		d.fsys.opts.Logger.Printf("rmdir %s: %v (ENOTEMPTY)", d.childPath(name), err)
		return syscall.ENOTEMPTY
	}
	if err != nil {
		return toErrno(d.fsys.opts.Logger, "rmdir", d.childPath(name), err)
	}
	return 0
}
