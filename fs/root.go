package fs

import (
	"context"
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/filesmount/filesmount/remote"
)

// filesys holds what every node shares. It is read-only after NewRoot.
type filesys struct {
	opts    Options
	started time.Time // shown as the time of entries the remote gives none
}

// rootNode is MOUNT/: one directory per backend, fixed at mount time.
type rootNode struct {
	fusefs.Inode
	fsys     *filesys
	backends []Backend
}

var (
	_ fusefs.NodeOnAdder   = (*rootNode)(nil)
	_ fusefs.NodeGetattrer = (*rootNode)(nil)
	_ fusefs.NodeStatfser  = (*rootNode)(nil)
)

// NewRoot returns the root node of a tree with one directory per backend.
func NewRoot(backends []Backend, opts Options) fusefs.InodeEmbedder {
	return &rootNode{fsys: &filesys{opts: opts.withDefaults(), started: time.Now()}, backends: backends}
}

func (r *rootNode) OnAdd(ctx context.Context) {
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

func (r *rootNode) Getattr(ctx context.Context, fh fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	r.fsys.fillAttr(remote.Entry{IsDir: true}, 1, &out.Attr)
	out.Nlink = uint32(2 + len(r.backends))
	return 0
}

// Statfs reports a large, mostly free filesystem: the remotes have no
// meaningful totals, and zeros make some tools refuse to copy.
func (r *rootNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	return statfs(out)
}

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
