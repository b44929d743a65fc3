package fs

import (
	"io"
	"log"
	"time"

	"github.com/filesmount/filesmount/remote"
)

// Backend is one mounted remote: its metadata store, the cached reader
// that serves its content, and the writer that changes it (nil for a
// remote that accepts no changes).
type Backend struct {
	Store  remote.Store
	Reader remote.ContentReader
	Writer remote.Writer
}

// Options configure the filesystem tree.
type Options struct {
	// MetadataTTL is how long a directory listing is reused before the
	// remote is asked again. Zero means 60 s.
	MetadataTTL time.Duration
	// ListTimeout bounds one listing refresh. Zero means 2 minutes.
	ListTimeout time.Duration
	// UID and GID own every node (default: the daemon's).
	UID, GID uint32
	// Logger receives one line per failed operation. Nil discards.
	Logger *log.Logger
	// CacheDir holds staged writes (staging/), the upload journal
	// (journal/), the data of failed uploads (recovery/) and the times
	// users set (times). Required unless ReadOnly.
	CacheDir string
	// ReadOnly refuses every change with EROFS.
	ReadOnly bool
}

func (o *Options) withDefaults() Options {
	c := *o
	if c.MetadataTTL <= 0 {
		c.MetadataTTL = 60 * time.Second
	}
	if c.ListTimeout <= 0 {
		c.ListTimeout = 2 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = log.New(io.Discard, "", 0)
	}
	return c
}
