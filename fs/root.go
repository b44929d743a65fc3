package fs

import (
	"context"
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/filesmount/filesmount/remote"
)

// filesys holds what every node shares.
type filesys struct {
	opts    Options     // read-only after NewRoot
	started time.Time   // shown as the time of entries the remote gives none
	dirs    stagingDirs // read-only after NewRoot
	uploads uploads
	times   *timeStore  // times users set (times.go); read-only pointer after NewRoot
	reports reportCache // generated content measured at lookup (reportsize.go)
}

// Root is the mount's top directory: one directory per backend, fixed at
// mount time.
type Root struct {
	fusefs.Inode
	fsys     *filesys
	backends []Backend
}

var (
	_ fusefs.NodeOnAdder   = (*Root)(nil)
	_ fusefs.NodeGetattrer = (*Root)(nil)
	_ fusefs.NodeStatfser  = (*Root)(nil)
)

// NewRoot returns the root node of a tree with one directory per backend.
// Unless opts.ReadOnly, it prepares the staging folders under
// opts.CacheDir (mode 0700). It loads the times users set from
// opts.CacheDir/times (see times.go).
func NewRoot(backends []Backend, opts Options) (*Root, error) {
	f := &filesys{opts: opts.withDefaults(), started: time.Now()}
	f.times = openTimeStore(opts.CacheDir, f.opts.Logger)
	if !opts.ReadOnly {
		dirs, err := newStagingDirs(opts.CacheDir)
		if err != nil {
			return nil, err
		}
		f.dirs = dirs
	}
	return &Root{fsys: f, backends: backends}, nil
}

func (r *Root) OnAdd(ctx context.Context) {
	for _, b := range r.backends {
		root, err := b.Store.Root(ctx)
		if err != nil {
			r.fsys.opts.Logger.Printf("mount %s: %v", b.Store.Name(), err)
			continue
		}
		d := newDirNode(r.fsys, b, root, b.Store.Name())
		ch := r.NewPersistentInode(ctx, d, fusefs.StableAttr{Mode: syscall.S_IFDIR, Ino: inodeNumber(b.Store.Name(), root.ID)})
		r.AddChild(b.Store.Name(), ch, false)
	}
}

func (r *Root) Getattr(ctx context.Context, fh fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	r.fsys.fillAttr(remote.Entry{IsDir: true}, 1, &out.Attr)
	out.Nlink = uint32(2 + len(r.backends))
	return 0
}

// Statfs reports a large, mostly free filesystem: the remotes have no
// meaningful totals, and zeros make some tools refuse to copy.
func (r *Root) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	return statfs(out)
}

// PendingUploads names the files whose upload is in progress.
func (r *Root) PendingUploads() []string { return r.fsys.uploads.pending() }

// WaitUploads blocks until no upload is in progress.
func (r *Root) WaitUploads() { r.fsys.uploads.wg.Wait() }

func statfs(out *fuse.StatfsOut) syscall.Errno {
	const blocks = 1 << 50 / blockSize // 1 PiB
	out.Bsize = blockSize
	out.Frsize = blockSize
	out.Blocks = blocks
	out.Bfree = blocks
	out.Bavail = blocks
	out.Files = 1 << 30
	out.Ffree = 1 << 30
	out.NameLen = maxNameBytes
	return 0
}
