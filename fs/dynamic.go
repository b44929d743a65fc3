package fs

import (
	"context"
	"fmt"
	"io"
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/filesmount/filesmount/remote"
)

// maxDynamicBytes bounds generated content (analysis reports) held per
// open file; such content is small, and a bound keeps memory predictable.
const maxDynamicBytes = 16 << 20

// dynamicHandle serves content the remote generates per request. The
// whole body is held by the handle: the bytes that stat measured at
// lookup (reportsize.go) if they are still fresh, else fetched at open, so
// a "not ready" answer fails the open with a clear errno instead of
// reading as an empty file. Direct I/O: a later open may get a newer
// report, which the kernel must not mix with pages of this one.
type dynamicHandle struct {
	entry remote.Entry
	data  []byte // immutable after open
}

var _ fusefs.FileReader = (*dynamicHandle)(nil)

func (n *fileNode) openDynamic(ctx context.Context, e remote.Entry) (fusefs.FileHandle, uint32, syscall.Errno) {
	// The fetch is detached from the request (a kernel interrupt must not
	// leave a half-read report behind) and shared with lookups.
	r, err := n.fsys.reports.get(ctx, n.backend.Store, e, n.fsys.opts.MetadataTTL, true)
	if err == nil {
		err = r.err
	}
	if err != nil {
		return nil, 0, toErrno(n.fsys.opts.Logger, "open", n.path(), err)
	}
	return &dynamicHandle{entry: e, data: r.data}, fuse.FOPEN_DIRECT_IO, 0
}

func readAllBounded(ctx context.Context, s remote.Store, e remote.Entry) ([]byte, error) {
	body, err := s.Open(ctx, e, 0, -1)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, maxDynamicBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxDynamicBytes {
		return nil, fmt.Errorf("generated content is larger than %d bytes: %w", maxDynamicBytes, remote.ErrTooLarge)
	}
	return data, nil
}

func (h *dynamicHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if off >= int64(len(h.data)) {
		return fuse.ReadResultData(nil), 0
	}
	end := min(off+int64(len(dest)), int64(len(h.data)))
	return fuse.ReadResultData(h.data[off:end]), 0
}
