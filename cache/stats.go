package cache

import "sync/atomic"

// Stats is a snapshot of the cache's counters since New. Counters only
// grow; the fields marked "now" are gauges.
type Stats struct {
	Requests     int64 // Open calls made to the remotes
	BytesFetched int64 // body bytes read from the remotes
	BytesRead    int64 // bytes returned to callers of ReadAt

	BlockHits       int64 // blocks a read found cached
	BlockMisses     int64 // blocks a read had to wait for
	ReadAheadBlocks int64 // blocks requested ahead of the reader
	CachedBlocks    int64 // blocks in the LRU now
	CachedBytes     int64 // bytes in the LRU now; never above Options.MaxBytes

	SpoolsStarted   int64 // objects switched to a streamed spool file
	SpoolsCompleted int64
	SpoolsFailed    int64 // streams that broke midway (their partial file is dropped)
	SpoolsEvicted   int64 // completed spools deleted for MaxSpoolBytes or Forget
	SpoolBytes      int64 // bytes in completed spool files now

	MD5Verified   int64 // object versions read whole whose MD5 matched
	MD5Mismatches int64 // object versions read whole whose MD5 did not (reads fail with remote.ErrCorrupt)
}

// counters are the monotonic parts of Stats, updated without locks.
type counters struct {
	requests        atomic.Int64
	bytesFetched    atomic.Int64
	bytesRead       atomic.Int64
	blockHits       atomic.Int64
	blockMisses     atomic.Int64
	readAheadBlocks atomic.Int64
	spoolsStarted   atomic.Int64
	spoolsCompleted atomic.Int64
	spoolsFailed    atomic.Int64
	spoolsEvicted   atomic.Int64
	md5Verified     atomic.Int64
	md5Mismatches   atomic.Int64
}

// Stats returns the current counters.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	cachedBlocks := int64(c.blocks.Len())
	cachedBytes := c.cachedBytes
	spoolBytes := c.spoolBytes
	c.mu.Unlock()
	n := &c.n
	return Stats{
		Requests:        n.requests.Load(),
		BytesFetched:    n.bytesFetched.Load(),
		BytesRead:       n.bytesRead.Load(),
		BlockHits:       n.blockHits.Load(),
		BlockMisses:     n.blockMisses.Load(),
		ReadAheadBlocks: n.readAheadBlocks.Load(),
		CachedBlocks:    cachedBlocks,
		CachedBytes:     cachedBytes,
		SpoolsStarted:   n.spoolsStarted.Load(),
		SpoolsCompleted: n.spoolsCompleted.Load(),
		SpoolsFailed:    n.spoolsFailed.Load(),
		SpoolsEvicted:   n.spoolsEvicted.Load(),
		SpoolBytes:      spoolBytes,
		MD5Verified:     n.md5Verified.Load(),
		MD5Mismatches:   n.md5Mismatches.Load(),
	}
}
