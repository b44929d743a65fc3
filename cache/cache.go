package cache

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/filesmount/filesmount/remote"
)

// Defaults for zero Options fields.
const (
	DefaultBlockSize     int64 = 1 << 20
	DefaultMaxBytes      int64 = 256 << 20
	DefaultMaxReadAhead        = 8
	DefaultMaxSpoolBytes int64 = 8 << 30
)

// maxBackgroundFetches bounds read-ahead fetches running at once, across
// all stores, so that read-ahead cannot starve foreground reads of
// connections or hold much memory in flight.
const maxBackgroundFetches = 4

// ErrClosed is returned by reads after Close (or after the daemon's
// context ended). It wraps remote.ErrUnavailable.
var ErrClosed = fmt.Errorf("cache closed: %w", remote.ErrUnavailable)

// Options configure a Cache. Zero fields take the defaults above.
type Options struct {
	// BlockSize is the unit of fetching and caching.
	BlockSize int64
	// MaxBytes bounds the bytes held in cached blocks; the LRU holds at
	// most MaxBytes/BlockSize blocks. Buffers of fetches in flight come on
	// top, bounded by the number of concurrent fetches.
	MaxBytes int64
	// MaxReadAhead is the largest read-ahead window, in blocks, of one
	// sequential stream.
	MaxReadAhead int
	// Dir holds spool files; it is created 0700 if missing. Empty means a
	// fresh temporary directory, removed by Close.
	Dir string
	// MaxSpoolBytes bounds the bytes of completed spool files; the least
	// recently used idle ones are deleted beyond it.
	MaxSpoolBytes int64
	// Logger receives rare events (failed streams, evictions); may be nil.
	Logger *log.Logger
}

// Cache holds the blocks and spools of every Store it wraps.
type Cache struct {
	opts    Options // read-only after New
	ctx     context.Context
	cancel  context.CancelFunc
	tempDir bool          // Dir was created by New and is removed by Close
	bgSlots chan struct{} // semaphore of background (read-ahead) fetches
	wg      sync.WaitGroup
	n       counters
	// hashDelay slows the MD5 hasher down by this much per block; tests
	// set it to make the hasher the slowest part.
	hashDelay time.Duration

	mu          sync.Mutex // protects the following
	closed      bool
	blocks      *simplelru.LRU[blockKey, []byte]
	cachedBytes int64 // sum of len over blocks
	inflight    map[blockKey]*blockFetch
	spools      map[spoolKey]*spool
	spoolBytes  int64 // sum of sizes of completed spools in the registry
	spoolCount  int   // completed spools in the registry

	// checks are the MD5 verifications of objects (verify.go); their
	// fields too are protected by mu, except a hashing check's hash.
	checks *simplelru.LRU[spoolKey, *check]
}

// New returns a Cache whose fetches all run on ctx, the daemon's context.
// Cancelling ctx stops them, as does Close.
func New(ctx context.Context, opts Options) (*Cache, error) {
	if opts.BlockSize == 0 {
		opts.BlockSize = DefaultBlockSize
	}
	if opts.MaxBytes == 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.MaxReadAhead == 0 {
		opts.MaxReadAhead = DefaultMaxReadAhead
	}
	if opts.MaxSpoolBytes == 0 {
		opts.MaxSpoolBytes = DefaultMaxSpoolBytes
	}
	switch {
	case opts.BlockSize < 0:
		return nil, fmt.Errorf("cache: BlockSize %d is negative", opts.BlockSize)
	case opts.MaxBytes < opts.BlockSize:
		return nil, fmt.Errorf("cache: MaxBytes %d holds not even one block of %d bytes", opts.MaxBytes, opts.BlockSize)
	case opts.MaxReadAhead < 0:
		return nil, fmt.Errorf("cache: MaxReadAhead %d is negative", opts.MaxReadAhead)
	case opts.MaxSpoolBytes < 0:
		return nil, fmt.Errorf("cache: MaxSpoolBytes %d is negative", opts.MaxSpoolBytes)
	}

	c := &Cache{
		opts:     opts,
		bgSlots:  make(chan struct{}, maxBackgroundFetches),
		inflight: make(map[blockKey]*blockFetch),
		spools:   make(map[spoolKey]*spool),
	}
	if opts.Dir == "" {
		dir, err := os.MkdirTemp("", "filesmount-cache-")
		if err != nil {
			return nil, fmt.Errorf("cache: %w", err)
		}
		c.opts.Dir, c.tempDir = dir, true
	} else if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	blocks, err := simplelru.NewLRU(int(opts.MaxBytes/opts.BlockSize), c.onEvictBlock)
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	c.blocks = blocks
	if c.checks, err = simplelru.NewLRU[spoolKey, *check](maxChecks, nil); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	c.ctx, c.cancel = context.WithCancel(ctx)
	return c, nil
}

// Wrap returns s with cached reads. Stores wrapped by one Cache share its
// memory and disk budgets; their names must differ, since keys use them.
func (c *Cache) Wrap(s remote.Store) *Store {
	return newStore(c, s)
}

// Close stops all fetches, waits for them, drops cached blocks and deletes
// spool files. Reads after Close fail with ErrClosed.
func (c *Cache) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()

	c.cancel()
	c.wg.Wait()

	c.mu.Lock()
	c.blocks.Purge()
	for _, sp := range c.spools {
		c.dropSpoolLocked(sp)
	}
	c.mu.Unlock()

	if c.tempDir {
		// Spool files are unlinked at creation; this only removes the
		// directory itself.
		return os.RemoveAll(c.opts.Dir)
	}
	return nil
}

// errClosedLocked reports whether new work must be refused.
func (c *Cache) errClosedLocked() error {
	if c.closed || c.ctx.Err() != nil {
		return ErrClosed
	}
	return nil
}

// fetchErr explains a failed fetch, preferring ErrClosed when the daemon's
// context is what stopped it.
func (c *Cache) fetchErr(err error) error {
	if c.ctx.Err() != nil && errors.Is(err, context.Canceled) {
		// %v, not %w: after shutdown this is no longer an interrupt.
		return fmt.Errorf("%w (%v)", ErrClosed, err)
	}
	return err
}

func (c *Cache) logf(format string, args ...any) {
	if c.opts.Logger != nil {
		c.opts.Logger.Printf("cache: "+format, args...)
	}
}
