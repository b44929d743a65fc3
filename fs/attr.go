package fs

import (
	"hash/fnv"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/filesmount/filesmount/remote"
)

const (
	dirMode  = syscall.S_IFDIR | 0o555
	fileMode = syscall.S_IFREG | 0o444
	// blockSize is what st_blksize advertises: large, so that cp and
	// friends read in big chunks.
	blockSize = 1 << 20
)

// inodeNumber derives a stable inode number from the store and the
// remote ID, so `ls -i` and `find -inum` agree across listings and mounts.
// 0 and 1 are reserved (1 is the root).
func inodeNumber(store, id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(store))
	h.Write([]byte{0})
	h.Write([]byte(id))
	ino := h.Sum64()
	if ino <= 1 {
		ino += 2
	}
	return ino
}

// entryAttr sets out for entry e of backend b as stat shows it: from e,
// with write permission where changes are allowed (setMode) and the
// times saved for e's content (times.go).
func (f *filesys) entryAttr(b Backend, e remote.Entry, ino uint64, out *fuse.Attr) {
	f.fillAttr(e, ino, out)
	f.setMode(out, b, e)
	f.savedTimes(b.Store.Name(), e, out)
}

// fillAttr sets out from e alone: mode without write permission, the
// remote's ModTime as all three times. An unknown size is shown as 0.
func (f *filesys) fillAttr(e remote.Entry, ino uint64, out *fuse.Attr) {
	out.Ino = ino
	if e.IsDir {
		out.Mode = dirMode
		out.Nlink = 2
	} else {
		out.Mode = fileMode
		out.Nlink = 1
		if e.Size > 0 {
			out.Size = uint64(e.Size)
			out.Blocks = (out.Size + 511) / 512
		}
	}
	t := e.ModTime
	if t.IsZero() {
		t = f.started // directories the remote has no time for
	}
	out.SetTimes(&t, &t, &t)
	out.Blksize = blockSize
	out.Owner = fuse.Owner{Uid: f.opts.UID, Gid: f.opts.GID}
}

// writer returns b's Writer if changes are allowed on this mount.
func (f *filesys) writer(b Backend) (remote.Writer, bool) {
	if f.opts.ReadOnly || b.Writer == nil {
		return nil, false
	}
	return b.Writer, true
}

// setMode gives writable entries write permission, so that tools do not
// refuse before even trying.
func (f *filesys) setMode(a *fuse.Attr, b Backend, e remote.Entry) {
	if _, ok := f.writer(b); !ok || e.ReadOnly {
		return
	}
	a.Mode |= 0o200
}
