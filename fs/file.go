package fs

import (
	"context"
	"sync"
	"sync/atomic"
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/filesmount/filesmount/remote"
)

// fileNode is a file: a CBRAIN userfile or collection member, a VRChat
// version, or a file being written through the mount.
type fileNode struct {
	fusefs.Inode
	fsys    *filesys
	backend Backend
	id      uint64 // orders the locking of two nodes' syncMu (lockUploads)

	// syncMu serialises uploads of this file (Flush from several
	// descriptors, fsync); it is held across the upload, never together
	// with mu.
	syncMu sync.Mutex

	mu     sync.Mutex   // protects the fields below
	entry  remote.Entry // latest metadata from the remote (zero ID for a new local file)
	parent *dirNode     // the directory it is written into (changes on rename)
	name   string
	// st is the local content while the file is written or waits for
	// its upload; nil for a plain remote file.
	st *staged
	// unlinked: the name was removed (unlink, or replaced by a rename)
	// while descriptors may still be open. As in POSIX, they keep reading
	// and writing the file's own content, which never reaches the remote
	// and is dropped at the last release.
	unlinked bool
	// handedBack: the file was never uploaded, and its upload at a close
	// failed and was handed back to the recovery folder; the node is then
	// unlinked (closeFailed). What descriptors still open write after that
	// is handed back too, at their next close (handBackAgain).
	handedBack bool
	// retired: the remote stored what was written under a name of its
	// own (a new VRChat version): the name the kernel knows this node by
	// is gone, though descriptors still open keep writing, and uploading
	// what they write.
	retired bool
	// suspect: an alias (latest<ext>) that led here now leads elsewhere,
	// and the kernel may not know yet (see forgetAliases).
	suspect bool
	// kernelVersion is the version whose pages the kernel may hold from an
	// earlier open; "" if none. Opens of that same version keep the cache.
	kernelVersion string
	// times are the times set while the file had local content st, until
	// its upload lands (see times.go).
	times localTimes
	// links is how many names the object has in its directory's listing
	// (2 for VRChat's latest<ext> and its version); 0 counts as 1.
	links uint32
}

var (
	_ fusefs.NodeGetattrer = (*fileNode)(nil)
	_ fusefs.NodeOpener    = (*fileNode)(nil)
	_ fusefs.NodeSetattrer = (*fileNode)(nil)
	_ fusefs.NodeStatfser  = (*fileNode)(nil)
)

func newFileNode(f *filesys, b Backend, e remote.Entry, parent *dirNode, name string) *fileNode {
	return &fileNode{fsys: f, backend: b, entry: e, parent: parent, name: name, id: nodeIDs.Add(1)}
}

// nodeIDs numbers file nodes.
var nodeIDs atomic.Uint64

// updateFromListing takes new metadata for the same remote object, and
// reports whether e is that object; links is the number of names the
// listing gives it.
func (n *fileNode) updateFromListing(e remote.Entry, links uint32) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.entry.ID != e.ID || n.unlinked || n.retired {
		// A retired node's name is gone (the remote stored what was
		// written under a name of its own): returned by a lookup, it
		// would get ESTALE at every use, until the kernel forgot it.
		// The object gets a node of its own; descriptors still open
		// keep this one.
		return false
	}
	n.entry = e
	n.links = links
	return true
}

// standsFor reports whether the node is e's, the remote object.
func (n *fileNode) standsFor(e remote.Entry) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return e.ID != "" && n.entry.ID == e.ID
}

// nameGone reports a node that no name leads to any more (unlinked or
// retired).
func (n *fileNode) nameGone() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.unlinked || n.retired || n.suspect
}

// staleName: a path reached a file whose name was removed through the
// mount (unlink, a rename over it, an upload the remote named itself), because the kernel still trusted
// the name for the last jiffy of its entry timeout, or before the
// invalidation of an alias (latest<ext>) reached it. ESTALE makes the
// kernel look the path up again and retry the call (open, truncate), so
// it reaches the object the name stands for now; stat does the same.
const staleName = syscall.ESTALE

// revive lets a node that the kernel still holds stand for e, listed as
// name in d, and reports whether it can. It can if it already stands for
// e (under another name: an alias), or if it was unlinked and holds no
// content of its own: the remote then reused the object's id (VRChat
// numbers a new version like the deleted newest one), and its old entry
// would read the new content with the old size.
func (n *fileNode) revive(d *dirNode, name string, e remote.Entry, links uint32) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case n.entry.ID == e.ID && !n.unlinked && !n.retired:
		n.entry, n.links = e, links
		n.suspect = false // looked up again: the name leads here
		return true
	case n.unlinked && n.st == nil:
		n.unlinked, n.suspect = false, false
		n.entry, n.links, n.parent, n.name = e, links, d, name
		n.kernelVersion = ""
		return true
	}
	return false
}

func (n *fileNode) path() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.parent.childPath(n.name)
}

// distrustKernelCache makes the next open drop the kernel's pages of this
// file: after a checksum mismatch they may hold bytes that were wrong.
func (n *fileNode) distrustKernelCache() {
	n.mu.Lock()
	n.kernelVersion = ""
	n.mu.Unlock()
}

// fillAttr reports the local size and times while the file has local
// content.
func (n *fileNode) fillAttr(out *fuse.Attr) (local bool) {
	n.mu.Lock()
	e, st, lt := n.entry, n.st, n.times
	n.mu.Unlock()
	if st != nil {
		e.Size = st.size()
		e.ReadOnly = false
		if e.ModTime.IsZero() {
			e.ModTime = n.fsys.started
		}
	}
	n.entryAttr(e, out)
	if st != nil {
		localAttrTimes(st, lt, out)
	}
	return st != nil
}

// entryAttr sets out for e, one of this file's remote versions.
func (n *fileNode) entryAttr(e remote.Entry, out *fuse.Attr) {
	n.fsys.entryAttr(n.backend, e, n.StableAttr().Ino, out)
	n.mu.Lock()
	out.Nlink = max(n.links, 1)
	n.mu.Unlock()
}

func (n *fileNode) Getattr(ctx context.Context, fh fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	if n.nameGone() && fh == nil {
		// A stat by a name that is gone. (An fstat comes with a handle:
		// go-fuse passes one of the node's open files.)
		return staleName
	}
	n.attrOut(ctx, fh, out)
	return 0
}

// attrOut fills out for a Getattr, or for a Setattr that has done its work:
// that one must answer with the attributes even if its change made the
// name stale (writing onto latest<ext> makes a new version, and suspects
// the node the alias led to). An ESTALE there would make the kernel look
// the name up again and apply the change a second time, to the new
// version (the VRChat model: truncate of latest.dat made two versions).
func (n *fileNode) attrOut(ctx context.Context, fh fusefs.FileHandle, out *fuse.AttrOut) {
	switch h := fh.(type) {
	case *readHandle:
		// An open handle reads a pinned version: report its size.
		n.entryAttr(h.entry, &out.Attr)
		return
	case *dynamicHandle:
		e := h.entry
		e.Size = int64(len(h.data))
		n.entryAttr(e, &out.Attr)
		return
	}
	if n.fillAttr(&out.Attr) {
		// Local content: the next stat asks again, so that the size is
		// right at once when the remote's object takes its place.
		out.SetTimeout(uncachedEntry)
	}
	n.reportAttr(ctx, &out.Attr)
}

func (n *fileNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	return statfs(out)
}

// Open pins the current version for the handle's lifetime. It returns
// FOPEN_KEEP_CACHE when the kernel's cached pages are of this same
// version, so re-reads of an unchanged file never reach the daemon. A
// file with local content, or an open for writing, gets a write handle on
// the staged copy.
func (n *fileNode) Open(ctx context.Context, flags uint32) (fusefs.FileHandle, uint32, syscall.Errno) {
	n.mu.Lock()
	local, gone := n.st != nil, n.unlinked || n.retired || n.suspect
	n.mu.Unlock()
	if gone {
		return nil, 0, staleName
	}
	if local || flags&(syscall.O_WRONLY|syscall.O_RDWR|syscall.O_TRUNC|syscall.O_APPEND) != 0 {
		return n.openForWrite(ctx, flags)
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
		n.fsys.opts.Logger.Printf("open %s: its size is not known yet (the remote is still processing an upload); try again later (EAGAIN)", n.path())
		return nil, 0, syscall.EAGAIN
	}
	var fl uint32
	if keep {
		fl |= fuse.FOPEN_KEEP_CACHE
	}
	return &readHandle{node: n, entry: e}, fl, 0
}
