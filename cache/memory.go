package cache

// MemoryLimit is the soft limit a daemon should give the Go runtime
// (debug.SetMemoryLimit) for this cache. Blocks evicted from the LRU are
// garbage until the collector runs, and with the default GOGC the heap
// may grow to twice the live data first; with a limit just above the
// budget the collector runs as needed to keep resident memory near
// MaxBytes plus what is in flight, whatever the size of the files read.
func (o Options) MemoryLimit() int64 {
	max := o.MaxBytes
	if max == 0 {
		max = DefaultMaxBytes
	}
	return max + memoryHeadroom
}

// memoryHeadroom covers blocks in flight, HTTP buffers and the rest of the
// daemon above the block budget.
const memoryHeadroom = 48 << 20
