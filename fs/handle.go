package fs

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/filesmount/filesmount/remote"
)

// readHandle is an open file. It reads the version pinned at open through
// the backend's cached reader.
type readHandle struct {
	node  *fileNode
	entry remote.Entry
	// logged is the last read failure this handle logged (atomic: reads
	// may run concurrently). The kernel tries a failed read again (its
	// readahead, then the read itself), and one failure is one log line.
	logged atomic.Pointer[string]
}

var _ fusefs.FileReader = (*readHandle)(nil)

func (h *readHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if h.entry.Size >= 0 && off >= h.entry.Size {
		return fuse.ReadResultData(nil), 0
	}
	var vec [][]byte
	var n int
	var err error
	if vr, ok := h.node.backend.Reader.(remote.VectorReader); ok {
		// The cached blocks go to the kernel as they are, in one writev.
		vec, n, err = vr.ReadVector(ctx, h.entry, dest, off)
	} else {
		n, err = h.node.backend.Reader.ReadAt(ctx, h.entry, dest, off)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		if errors.Is(err, remote.ErrCorrupt) {
			h.node.distrustKernelCache()
		}
		msg := err.Error()
		if last := h.logged.Swap(&msg); last != nil && *last == msg {
			return nil, errnoFor(err) // said already
		}
		return nil, toErrno(h.node.fsys.opts.Logger, "read", h.node.path(), err)
	}
	if vec != nil {
		return fuse.ReadResultVector(vec), 0
	}
	return fuse.ReadResultData(dest[:n]), 0
}
