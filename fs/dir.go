package fs

import (
	"context"
	"path"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sync/singleflight"

	"github.com/filesmount/filesmount/remote"
)

// dirNode is a remote directory: a CBRAIN data provider or collection, a
// VRChat File, ...
type dirNode struct {
	fusefs.Inode
	fsys    *filesys
	backend Backend

	refresh singleflight.Group // one listing request at a time

	mu    sync.Mutex   // protects the fields below
	path  string       // in the mount, for log lines and the journal: "cbrain/MainStore" (changes on rename)
	entry remote.Entry // this directory as last listed by its parent
	snap  *listing     // nil until first listed, or after a change
	gen   uint64       // bumped by invalidate: a fetch started before is not stored
	// pending are files written here that the remote does not list yet
	// (being written, uploading, or waiting for a rename): they are shown
	// over the listing, with their local size.
	pending map[string]*fileNode
	// newDirs are directories created here that exist only locally until
	// something is uploaded into them (a VRChat File is created with its
	// first version).
	newDirs map[string]*dirNode
	// localOnly marks a directory from newDirs: it has no remote listing.
	localOnly bool
	// aliases are the names of the latest listing that stand for an
	// object listed under other names too (see aliases.go).
	aliases []string
	// gone are names whose object was deleted through the mount, and
	// when. A remote may list one object under two names (VRChat's
	// latest<ext> and <n><ext>): once one is removed, removing the other
	// succeeds instead of failing the rest of an `rm -r`.
	gone map[string]time.Time
}

var (
	_ fusefs.NodeLookuper  = (*dirNode)(nil)
	_ fusefs.NodeReaddirer = (*dirNode)(nil)
	_ fusefs.NodeGetattrer = (*dirNode)(nil)
	_ fusefs.NodeSetattrer = (*dirNode)(nil)
	_ fusefs.NodeStatfser  = (*dirNode)(nil)
)

func newDirNode(f *filesys, b Backend, e remote.Entry, p string) *dirNode {
	return &dirNode{fsys: f, backend: b, entry: e, path: p}
}

func (d *dirNode) setEntry(e remote.Entry) {
	d.mu.Lock()
	d.entry = e
	d.mu.Unlock()
}

func (d *dirNode) currentEntry() remote.Entry {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.entry
}

// invalidate makes the next lookup or readdir list the remote again,
// after a change made through the mount.
func (d *dirNode) invalidate() {
	d.mu.Lock()
	d.snap = nil
	d.gen++
	d.mu.Unlock()
}

// listing returns a fresh snapshot, fetching one if the cached one is older
// than the TTL. Concurrent callers share one fetch, which runs detached
// from any single FUSE request.
func (d *dirNode) listing(ctx context.Context) (*listing, error) {
	now := time.Now()
	d.mu.Lock()
	snap, entry, local, gen := d.snap, d.entry, d.localOnly, d.gen
	d.mu.Unlock()
	if local {
		return newListing(nil, now), nil
	}
	if snap.fresh(now, d.fsys.opts.MetadataTTL) {
		return snap, nil
	}
	// Keyed by generation: after a change through the mount, callers
	// start a new fetch instead of joining one that began before it.
	ch := d.refresh.DoChan(strconv.FormatUint(gen, 10), func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.fsys.opts.ListTimeout)
		defer cancel()
		entries, err := d.backend.Store.List(fctx, entry)
		if err != nil {
			return nil, err
		}
		l := newListing(entries, time.Now())
		aliases := aliasNames(l)
		d.mu.Lock()
		if d.gen == gen {
			d.snap = l
		}
		if len(aliases) > 0 || d.gen == gen {
			d.aliases = aliases
		}
		d.mu.Unlock()
		d.updateChildren(l)
		return l, nil
	})
	// The wait ignores the request's interrupt: Go programs get one at
	// almost every slow syscall (SIGURG preemption) and most do not retry
	// an unlink or a rename that fails with EINTR. The refresh is
	// bounded by ListTimeout, and a fatal signal (Ctrl-C) still ends the
	// caller: the kernel stops waiting for the answer itself.
	res := <-ch
	if res.Err != nil {
		return nil, res.Err
	}
	return res.Val.(*listing), nil
}

// updateChildren gives inodes the kernel already knows their new metadata,
// so Getattr and Open see sizes and versions from the latest listing.
func (d *dirNode) updateChildren(l *listing) {
	for name, ch := range d.Children() {
		e, ok := l.byName[name]
		if !ok {
			continue
		}
		switch n := ch.Operations().(type) {
		case *fileNode:
			n.updateFromListing(e, l.nlink(e.ID))
		case *dirNode:
			if n.currentEntry().ID == e.ID {
				n.setEntry(e)
			}
		}
	}
}

func (d *dirNode) childPath(name string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return path.Join(d.path, name)
}

// local returns what this directory holds locally under name, if anything.
func (d *dirNode) local(name string) (*fileNode, *dirNode) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.pending[name], d.newDirs[name]
}

// RefreshName is a name that does not exist in any directory: looking it
// up (e.g. `stat DIR/.filesmount-refresh`) makes the directory list the
// remote again at its next use, so changes made outside the mount show
// at once instead of after --metadata-ttl.
const RefreshName = ".filesmount-refresh"

func (d *dirNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	if name == RefreshName {
		d.invalidate()
		return nil, syscall.ENOENT
	}
	if f, nd := d.local(name); f != nil {
		// Listed here under name: the name leads to it, whatever an
		// alias notification still on its way suspects (aliases.go).
		// Left suspect, the kernel's retry after ESTALE would get
		// ESTALE again, and the caller with it (model soak, seed
		// 281636159: truncate of latest.png).
		f.setSuspect(false)
		f.fillAttr(&out.Attr)
		out.SetEntryTimeout(uncachedEntry)
		out.SetAttrTimeout(uncachedEntry)
		return f.EmbeddedInode(), 0
	} else if nd != nil {
		d.fsys.entryAttr(d.backend, nd.currentEntry(), nd.StableAttr().Ino, &out.Attr)
		return nd.EmbeddedInode(), 0
	}
	l, err := d.listing(ctx)
	if err != nil {
		return nil, toErrno(d.fsys.opts.Logger, "lookup", d.childPath(name), err)
	}
	e, ok := l.byName[name]
	if !ok {
		return nil, syscall.ENOENT
	}
	if l.nlink(e.ID) > 1 {
		out.SetEntryTimeout(uncachedEntry)
	}
	return d.childInode(ctx, name, e, &out.Attr), 0
}

// uncachedEntry is the entry timeout of names whose object may change
// under them at any moment through the mount itself: a file being
// written, which the remote may list under another name once uploaded
// (a VRChat version), and an alias such as latest<ext>, which follows
// each new version; and the attribute timeout of files with local
// content, whose size the remote's object replaces once uploaded. The
// kernel then asks again at each use (after one jiffy: go-fuse reads 0
// as "the default"), and the answer costs no request to the remote.
// Other names and attributes keep the mount's timeouts.
const uncachedEntry = time.Nanosecond

// childInode returns the inode for child e, reusing the existing one (and
// refreshing its metadata) when the same remote object is already known.
func (d *dirNode) childInode(ctx context.Context, name string, e remote.Entry, attr *fuse.Attr) *fusefs.Inode {
	store := d.backend.Store.Name()
	ino := inodeNumber(store, e.ID)
	d.fsys.entryAttr(d.backend, e, ino, attr)
	links := uint32(1)
	if !e.IsDir {
		d.mu.Lock()
		links = d.snap.nlink(e.ID)
		d.mu.Unlock()
		attr.Nlink = links
	}
	if e.Dynamic {
		setAttrSize(attr, d.fsys.reportSize(ctx, d.backend, e))
	}
	if ch := d.GetChild(name); ch != nil {
		switch n := ch.Operations().(type) {
		case *fileNode:
			// A file written through the mount keeps its node when the
			// remote lists it, although its inode number came from its
			// staged copy (or from the object it replaced): descriptors
			// open on that node must keep acting on this object.
			if n.updateFromListing(e, links) {
				n.setSuspect(false) // looked up again: the name leads here
				attr.Ino = ch.StableAttr().Ino
				return ch
			}
		case *dirNode:
			// A directory made through the mount (a VRChat File) keeps
			// its node, and the files it holds locally, once the remote
			// lists it, although its inode number was a local one.
			if ch.StableAttr().Ino == ino || n.currentEntry().ID == e.ID {
				n.setEntry(e)
				attr.Ino = ch.StableAttr().Ino
				return ch
			}
		}
	}
	if e.IsDir {
		return d.NewInode(ctx, newDirNode(d.fsys, d.backend, e, d.childPath(name)),
			fusefs.StableAttr{Mode: syscall.S_IFDIR, Ino: ino})
	}
	// If the object is already known under another name (latest<ext>
	// and its version are one inode), go-fuse keeps that node; it got
	// the same count from the same listing.
	n := newFileNode(d.fsys, d.backend, e, d, name)
	n.links = links
	ch := d.NewInode(ctx, n, fusefs.StableAttr{Mode: syscall.S_IFREG, Ino: ino})
	if known, ok := ch.Operations().(*fileNode); ok && known != n && !known.revive(d, name, e, links) {
		// An unlinked file still open with content of its own holds
		// the number (VRChat gave a deleted version's number to a new
		// one): the new object gets a number of its own.
		ino = inodeNumber(store, e.ID+"\x00"+e.Version)
		attr.Ino = ino
		ch = d.NewInode(ctx, n, fusefs.StableAttr{Mode: syscall.S_IFREG, Ino: ino})
	}
	return ch
}

func (d *dirNode) Readdir(ctx context.Context) (fusefs.DirStream, syscall.Errno) {
	l, err := d.listing(ctx)
	if err != nil {
		return nil, toErrno(d.fsys.opts.Logger, "readdir", d.childPath(""), err)
	}
	store := d.backend.Store.Name()
	d.mu.Lock()
	list := make([]fuse.DirEntry, 0, len(l.entries)+len(d.pending)+len(d.newDirs))
	seen := make(map[string]bool, len(d.pending)+len(d.newDirs))
	for name, f := range d.pending {
		list = append(list, fuse.DirEntry{Name: name, Mode: syscall.S_IFREG, Ino: f.StableAttr().Ino})
		seen[name] = true
	}
	for name, nd := range d.newDirs {
		if !seen[name] {
			list = append(list, fuse.DirEntry{Name: name, Mode: syscall.S_IFDIR, Ino: nd.StableAttr().Ino})
			seen[name] = true
		}
	}
	// Map order is random; concurrent readers need one order.
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	d.mu.Unlock()
	for _, n := range l.entries {
		if seen[n.name] {
			continue
		}
		mode := uint32(syscall.S_IFREG)
		if n.entry.IsDir {
			mode = syscall.S_IFDIR
		}
		list = append(list, fuse.DirEntry{Name: n.name, Mode: mode, Ino: inodeNumber(store, n.entry.ID)})
	}
	return fusefs.NewListDirStream(list), 0
}

func (d *dirNode) Getattr(ctx context.Context, fh fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	d.fsys.entryAttr(d.backend, d.currentEntry(), d.StableAttr().Ino, &out.Attr)
	return 0
}

// Setattr on a directory: times (touch, rsync -a) are kept (times.go);
// mode and owner are accepted and not stored, because the remotes keep
// no such metadata and refusing would break cp -a and rsync -a.
func (d *dirNode) Setattr(ctx context.Context, fh fusefs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if errno := d.setTimes(in); errno != 0 {
		return errno
	}
	return d.Getattr(ctx, fh, out)
}

func (d *dirNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	return statfs(out)
}
