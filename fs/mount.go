package fs

import (
	"fmt"
	"log"
	"os"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// MountConfig holds the kernel-facing options of a mount.
type MountConfig struct {
	// AttrTimeout and EntryTimeout are how long the kernel trusts
	// attributes and names before asking again (answered from the
	// daemon's listing cache, so they cost no request). Zero means 1 s.
	AttrTimeout, EntryTimeout time.Duration
	// NegativeTimeout is how long the kernel remembers a missing name.
	NegativeTimeout time.Duration
	AllowOther      bool
	Debug           bool
	// Options are extra -o options passed to the kernel (e.g. "ro").
	Options []string
	// FsName shows as the source in /proc/mounts and df.
	FsName string
	Logger *log.Logger
}

// maxReadAhead is the largest read request the kernel sends (its
// max_pages follows MaxWrite) and the read-ahead asked of it.
const maxReadAhead = 1 << 20

// Mount mounts root at dir and returns once the kernel has accepted it.
// As root it calls mount(2) directly; otherwise it falls back to the
// fusermount3 helper.
func Mount(dir string, root fusefs.InodeEmbedder, cfg MountConfig) (*fuse.Server, error) {
	if err := CheckMountpoint(dir); err != nil {
		return nil, err
	}
	sec := func(d time.Duration) *time.Duration {
		if d == 0 {
			d = time.Second
		}
		return &d
	}
	neg := cfg.NegativeTimeout
	opts := &fusefs.Options{
		EntryTimeout:    sec(cfg.EntryTimeout),
		AttrTimeout:     sec(cfg.AttrTimeout),
		NegativeTimeout: &neg,
		Logger:          cfg.Logger,
		UID:             uint32(os.Getuid()),
		GID:             uint32(os.Getgid()),
		MountOptions: fuse.MountOptions{
			FsName:        cfg.FsName,
			Name:          "filesmount",
			AllowOther:    cfg.AllowOther,
			Debug:         cfg.Debug,
			Options:       cfg.Options,
			MaxWrite:      1 << 20,
			MaxReadAhead:  maxReadAhead,
			MaxBackground: 64,
			// ls -l asks for xattrs of every entry and the kernel does
			// not cache "none": a round trip each. We have none to offer.
			DisableXAttrs: true,
			// Every read answers from memory (ReadResultVector or
			// ReadResultData), never from a file descriptor, so splicing
			// can only cost: go-fuse would
			// still stage each reply's header in a pipe, and replies of
			// 1 MiB do not fit the default pipe-max-size, which it logs.
			DisableSplice: true,
			DirectMount:   os.Geteuid() == 0,
		},
	}
	if cfg.AllowOther {
		// Other users go through the kernel's permission checks.
		opts.MountOptions.Options = append(opts.MountOptions.Options, "default_permissions")
	}
	server, err := fusefs.Mount(dir, root, opts)
	if err != nil {
		return nil, fmt.Errorf("mount %s: %w", dir, err)
	}
	// Only root may write sysfs; anyone else gets the log line.
	if err := raiseReadAhead(dir, maxReadAhead>>10); err != nil && cfg.Logger != nil {
		cfg.Logger.Printf("mount %s: could not raise the kernel's read-ahead to %d KiB (sequential reads stay 128 KiB requests): %v", dir, maxReadAhead>>10, err)
	}
	return server, nil
}
