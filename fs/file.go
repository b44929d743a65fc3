package fs

import (
	"context"
	"sync"
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/filesmount/filesmount/remote"
)

// fileNode is a remote file: a CBRAIN userfile or collection member, a
// VRChat version, ...
type fileNode struct {
	fusefs.Inode
	fsys    *filesys
	backend Backend
	id      string // remote ID; fixed for the node's life (it is in its inode number)
	path    string // for log lines

	mu    sync.Mutex   // protects entry and kernelVersion
	entry remote.Entry // latest metadata from the parent's listing
	// kernelVersion is the version whose pages the kernel may hold from an
	// earlier open; "" if none. Opens of that same version keep the cache.
	kernelVersion string
}

var (
	_ fusefs.NodeGetattrer = (*fileNode)(nil)
	_ fusefs.NodeOpener    = (*fileNode)(nil)
	_ fusefs.NodeSetattrer = (*fileNode)(nil)
	_ fusefs.NodeStatfser  = (*fileNode)(nil)
)

func newFileNode(f *filesys, b Backend, e remote.Entry, p string) *fileNode {
	return &fileNode{fsys: f, backend: b, id: e.ID, entry: e, path: p}
}

func (n *fileNode) setEntry(e remote.Entry) {
	n.mu.Lock()
	n.entry = e
	n.mu.Unlock()
}

// distrustKernelCache makes the next open drop the kernel's pages of this
// file: after a checksum mismatch they may hold bytes that were wrong.
func (n *fileNode) distrustKernelCache() {
	n.mu.Lock()
	n.kernelVersion = ""
	n.mu.Unlock()
}

func (n *fileNode) Getattr(ctx context.Context, fh fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	switch h := fh.(type) {
	case *readHandle:
		// An open handle reads a pinned version: report its size.
		n.fsys.fillAttr(h.entry, n.StableAttr().Ino, &out.Attr)
		return 0
	case *dynamicHandle:
		e := h.entry
		e.Size = int64(len(h.data))
		n.fsys.fillAttr(e, n.StableAttr().Ino, &out.Attr)
		return 0
	}
	n.mu.Lock()
	e := n.entry
	n.mu.Unlock()
	n.fsys.fillAttr(e, n.StableAttr().Ino, &out.Attr)
	return 0
}

func (n *fileNode) Setattr(ctx context.Context, fh fusefs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	n.fsys.opts.Logger.Printf("setattr %s: refused: this mount is read-only (EROFS)", n.path)
	return syscall.EROFS
}

func (n *fileNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	return statfs(out)
}

// Open pins the current version for the handle's lifetime. It returns
// FOPEN_KEEP_CACHE when the kernel's cached pages are of this same
// version, so re-reads of an unchanged file never reach the daemon.
func (n *fileNode) Open(ctx context.Context, flags uint32) (fusefs.FileHandle, uint32, syscall.Errno) {
	if flags&(syscall.O_WRONLY|syscall.O_RDWR|syscall.O_TRUNC|syscall.O_APPEND) != 0 {
		n.fsys.opts.Logger.Printf("open %s for writing: refused: this mount is read-only (EROFS)", n.path)
		return nil, 0, syscall.EROFS
	}
	n.mu.Lock()
	e := n.entry
	keep := n.kernelVersion == e.Version && e.Version != ""
	n.kernelVersion = e.Version
	n.mu.Unlock()
	if e.Dynamic {
		return n.openDynamic(ctx, e)
	}
	if e.Size == remote.SizeUnknown {
		n.fsys.opts.Logger.Printf("open %s: its size is not known yet (the remote is still processing an upload); try again later (EAGAIN)", n.path)
		return nil, 0, syscall.EAGAIN
	}
	var fl uint32
	if keep {
		fl |= fuse.FOPEN_KEEP_CACHE
	}
	return &readHandle{node: n, entry: e}, fl, 0
}
