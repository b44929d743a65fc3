package remote

import (
	"context"
	"io"
	"time"
)

// SizeUnknown is Entry.Size when the remote has not determined the size yet
// (for example a CBRAIN upload that is still being processed).
const SizeUnknown int64 = -1

// Entry is one remote object as the backend sees it.
type Entry struct {
	// ID identifies the object within its Store, stably across listings
	// and restarts. It is opaque to callers.
	ID string
	// Name is the remote's name for the object, untrusted (see package doc).
	Name string
	// IsDir marks objects that are listed with List rather than read.
	IsDir bool
	// Size in bytes, or SizeUnknown.
	Size int64
	// ModTime is the remote's modification time, or the backend's
	// documented stand-in when the remote has none.
	ModTime time.Time
	// Version changes whenever the content may have changed. Cached
	// blocks are keyed by (ID, Version), so a new Version never returns
	// stale bytes.
	Version string
	// Immutable marks content that never changes for this (ID, Version);
	// readers may keep it cached forever.
	Immutable bool
	// ReadOnly marks objects the user may not modify.
	ReadOnly bool
	// MD5 is the remote's digest of the whole content, if it gives one.
	// Readers check it once the object has been read completely.
	MD5 []byte
	// Dynamic marks content the remote generates per request (reports,
	// analyses): its size is unknown until read and it is not block
	// cached. The filesystem fetches it whole with Open when it is looked
	// up, to show its size, and keeps it for the metadata TTL.
	Dynamic bool
}

// Body is an open stream of an object's content.
type Body struct {
	io.ReadCloser
	// Offset is where the stream starts in the object.
	Offset int64
	// Ranged reports whether the remote honoured the requested range. When
	// false the stream is the whole object from offset 0, whatever was
	// asked for.
	Ranged bool
	// Size is the whole object's size if the remote said, else SizeUnknown.
	Size int64
}

// Caps says what a Store can do, so callers refuse what it cannot.
type Caps struct {
	// RangeReads is true when Open is known to honour ranges. When false,
	// callers should expect whole-object bodies and spool them.
	RangeReads bool
	// NoEmptyFiles is true when an empty file is not worth storing: a
	// VRChat version is a File's content, and an empty one would become
	// latest<ext> and hide the real content. An empty file written
	// through the mount then stays local until content is written.
	NoEmptyFiles bool
}

// Store is one remote. Every method may be called concurrently.
type Store interface {
	// Name is the directory name the store is mounted under ("cbrain").
	Name() string

	// Caps reports the store's capabilities.
	Caps() Caps

	// Root returns the top directory of the store.
	Root(ctx context.Context) (Entry, error)

	// List returns the children of dir, in a deterministic order. The
	// backend does all paging. It returns an error wrapping ErrNotFound if
	// dir no longer exists.
	List(ctx context.Context, dir Entry) ([]Entry, error)

	// Stat returns fresh metadata for e. It returns an error wrapping
	// ErrNotFound if e no longer exists.
	Stat(ctx context.Context, e Entry) (Entry, error)

	// Open streams e's content from off. length is a hint of how many
	// bytes the caller wants (-1: to the end); the body may be longer.
	// Body.Ranged tells whether the remote honoured off. Errors wrap
	// ErrNotFound, ErrUnavailable (content not ready), ErrAuth, ...
	Open(ctx context.Context, e Entry, off, length int64) (*Body, error)
}

// ContentReader reads object content through a cache. It is what the
// filesystem layer calls; package cache implements it over a Store.
type ContentReader interface {
	// ReadAt reads len(p) bytes of e at off, like io.ReaderAt: it returns
	// n < len(p) only at the end of the object or with an error. ctx only
	// bounds the caller's wait: fetches that other readers share keep
	// running when ctx is cancelled.
	ReadAt(ctx context.Context, e Entry, p []byte, off int64) (int, error)

	// Forget drops cached content of every version of the object id.
	Forget(id string)
}

// VectorReader is a ContentReader that can answer a read with the bytes it
// holds instead of copying them: ReadVector returns like ReadAt, but the
// n bytes are in the returned slices (which the caller must not modify,
// and may keep until it has passed them on), and p is only scratch space
// the reader may use. The filesystem hands such slices to the kernel in
// one writev, saving a copy of every byte read.
type VectorReader interface {
	ReadVector(ctx context.Context, e Entry, p []byte, off int64) ([][]byte, int, error)
}
