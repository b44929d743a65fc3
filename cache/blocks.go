package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/filesmount/filesmount/remote"
)

// errSpooled ends block fetches whose remote sent the whole object
// instead of the range: the object is now read from a spool.
var errSpooled = errors.New("cache: object switched to a spool")

// blockKey names one block. Version is part of it so that a new version
// of an object never hits the old one's blocks.
type blockKey struct {
	store, id, version string
	index              int64
}

func (s *Store) blockKey(e remote.Entry, index int64) blockKey {
	return blockKey{store: s.name, id: e.ID, version: e.Version, index: index}
}

// blockFetch is one block being fetched; every reader of the block waits
// on the same one.
type blockFetch struct {
	key  blockKey
	done chan struct{} // closed once data or err is set
	data []byte
	err  error

	forgotten bool // protected by Cache.mu: Forget ran meanwhile, so don't cache the result

	// A reader that needs only the start of the block (the first read of
	// a file asks for a few KiB) is served as soon as those bytes are in,
	// not when the whole block is.
	mu     sync.Mutex    // protects buf, filled and grew
	buf    []byte        // the block's buffer while it arrives; buf[:filled] never changes again
	filled int           // bytes of buf received
	grew   chan struct{} // closed (and replaced) when filled grows; nil until a reader waits
}

// arrived records that the first n bytes of buf are in and wakes the
// readers waiting for part of the block.
func (f *blockFetch) arrived(buf []byte, n int) {
	f.mu.Lock()
	f.buf, f.filled = buf, n
	if f.grew != nil {
		close(f.grew)
		f.grew = nil
	}
	f.mu.Unlock()
}

// prefix returns the block's first bytes if at least need have arrived,
// or else a channel closed when more arrive.
func (f *blockFetch) prefix(need int) ([]byte, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.filled >= need && f.filled > 0 {
		return f.buf[:f.filled:f.filled], nil
	}
	if f.grew == nil {
		f.grew = make(chan struct{})
	}
	return nil, f.grew
}

// blockWait is one block a read needs: cached data, or a fetch to wait for.
type blockWait struct {
	data []byte
	f    *blockFetch
}

// wholeBlock is blockWait.wait's need for a block whose fetch has
// completed, not merely whose bytes have all arrived.
const wholeBlock = -1

// wait returns the block, or at least its first need bytes while the
// rest is still arriving, or ctx.Err() if the caller gives up first. The
// fetch itself is not affected by ctx.
func (w blockWait) wait(ctx context.Context, need int) ([]byte, error) {
	if w.f == nil {
		return w.data, nil
	}
	for {
		select {
		case <-w.f.done:
			return w.f.data, w.f.err
		default:
		}
		var grew <-chan struct{} // nil for wholeBlock: only done ends the wait
		if need != wholeBlock {
			var data []byte
			if data, grew = w.f.prefix(need); data != nil {
				return data, nil
			}
		}
		select {
		case <-w.f.done:
			return w.f.data, w.f.err
		case <-grew:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// run is contiguous blocks fetched with one ranged Open.
type run struct {
	first   int64
	fetches []*blockFetch
}

func (r *run) end() int64 { return r.first + int64(len(r.fetches)) }

// onEvictBlock keeps cachedBytes right; the LRU calls it under c.mu.
func (c *Cache) onEvictBlock(_ blockKey, data []byte) {
	c.cachedBytes -= int64(len(data))
}

// missingLocked reports whether block k is neither cached nor in flight.
func (c *Cache) missingLocked(k blockKey) bool {
	return c.inflight[k] == nil && !c.blocks.Contains(k)
}

func (c *Cache) newFetchLocked(k blockKey) *blockFetch {
	f := &blockFetch{key: k, done: make(chan struct{})}
	c.inflight[k] = f
	return f
}

// readBlocks reads p at off from blocks; p does not extend beyond e.Size.
// With vec, it appends slices of the blocks to vec instead of copying.
func (s *Store) readBlocks(ctx context.Context, e remote.Entry, p []byte, off int64, vec *[][]byte) (int, error) {
	c := s.c
	bs := c.opts.BlockSize
	end := off + int64(len(p))
	first, last := off/bs, (end-1)/bs
	ahead := s.planReadAhead(e, off, end)

	waits := make([]blockWait, last-first+1)
	var runs []run
	var hits, misses int64
	c.mu.Lock()
	if err := c.errClosedLocked(); err != nil {
		c.mu.Unlock()
		return 0, err
	}
	if err := c.corruptLocked(s.spoolKey(e)); err != nil {
		c.mu.Unlock()
		return 0, err
	}
	for i := first; i <= last; i++ {
		k := s.blockKey(e, i)
		if data, ok := c.blocks.Get(k); ok {
			hits++
			waits[i-first] = blockWait{data: data}
			continue
		}
		misses++
		f := c.inflight[k]
		if f == nil {
			f = c.newFetchLocked(k)
			if n := len(runs); n > 0 && runs[n-1].end() == i {
				runs[n-1].fetches = append(runs[n-1].fetches, f)
			} else {
				runs = append(runs, run{first: i, fetches: []*blockFetch{f}})
			}
		}
		waits[i-first] = blockWait{f: f}
	}
	partialOK := c.partialReadOKLocked(s.spoolKey(e), e, first, last, end)
	// Read-ahead that directly follows a fetch the read starts anyway
	// rides on the same request.
	if n := len(runs); n > 0 && !ahead.empty() && runs[n-1].end() == ahead.first {
		r := &runs[n-1]
		for ; ahead.first <= ahead.last; ahead.first++ {
			k := s.blockKey(e, ahead.first)
			if !c.missingLocked(k) {
				break
			}
			r.fetches = append(r.fetches, c.newFetchLocked(k))
			c.n.readAheadBlocks.Add(1)
		}
	}
	for _, r := range runs {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			s.fetchRun(e, r)
		}()
	}
	if !ahead.empty() {
		c.wg.Add(1)
		go s.readAhead(e, ahead)
	}
	c.mu.Unlock()
	c.n.blockHits.Add(hits)
	c.n.blockMisses.Add(misses)

	n := 0
	for i, w := range waits {
		start := (first + int64(i)) * bs
		// A prefix covering the bytes wanted from this block is enough:
		// it is then no shorter than the read, so not taken for the end.
		need := int(min(end, start+bs) - start)
		if !partialOK {
			need = wholeBlock
		}
		data, err := w.wait(ctx, need)
		if err != nil {
			return n, err
		}
		lo := max(off, start) - start
		if lo >= int64(len(data)) {
			return n, io.EOF // only when the size was unknown
		}
		hi := min(end, start+int64(len(data))) - start
		if vec != nil {
			*vec = append(*vec, data[lo:hi])
			n += int(hi - lo)
		} else {
			n += copy(p[n:], data[lo:hi])
		}
		if int64(len(data)) < bs && start+int64(len(data)) < end {
			return n, io.EOF
		}
	}
	return n, nil
}

// readAhead fetches the blocks of r that are still missing, in the
// background and within the limit of concurrent background fetches.
func (s *Store) readAhead(e remote.Entry, r span) {
	c := s.c
	defer c.wg.Done()
	select {
	case c.bgSlots <- struct{}{}:
	case <-c.ctx.Done():
		return
	}
	defer func() { <-c.bgSlots }()

	for i := r.first; i <= r.last; {
		// Blocks may have been fetched by readers while this job waited
		// for a slot; fetch only contiguous missing ones.
		var next run
		c.mu.Lock()
		if c.errClosedLocked() != nil || c.spools[s.spoolKey(e)] != nil || c.corruptLocked(s.spoolKey(e)) != nil {
			c.mu.Unlock()
			return
		}
		for i <= r.last && !c.missingLocked(s.blockKey(e, i)) {
			i++
		}
		next.first = i
		for i <= r.last && c.missingLocked(s.blockKey(e, i)) {
			next.fetches = append(next.fetches, c.newFetchLocked(s.blockKey(e, i)))
			i++
		}
		c.mu.Unlock()
		if len(next.fetches) == 0 {
			return
		}
		c.n.readAheadBlocks.Add(int64(len(next.fetches)))
		if err := s.fetchRun(e, next); err != nil {
			return
		}
	}
}

// fetchRun fetches r with one ranged Open on the Cache's context and
// completes each block as soon as its bytes are in, so that the first
// block's readers do not wait for the rest.
func (s *Store) fetchRun(e remote.Entry, r run) error {
	c := s.c
	bs := c.opts.BlockSize
	off := r.first * bs
	length := int64(len(r.fetches)) * bs
	if e.Size >= 0 {
		length = min(length, e.Size-off)
	}

	ctx, cancel := context.WithCancel(c.ctx)
	c.n.requests.Add(1)
	body, err := s.inner.Open(ctx, e, off, length)
	if err != nil {
		cancel()
		s.endRangeProbe(nil) // let another read try
		err = fmt.Errorf("cache: open %s %s at %d+%d: %w", s.name, e.ID, off, length, c.fetchErr(err))
		s.failRun(r, 0, err)
		return err
	}
	if !body.Ranged {
		c.adoptSpool(s, e, body, cancel)
		s.noteRangeAnswer(false)
		s.failRun(r, 0, errSpooled)
		return errSpooled
	}
	s.noteRangeAnswer(true)
	defer cancel()
	defer body.Close()
	if done, err := s.readRun(e, r, body, off); err != nil {
		s.failRun(r, done, err)
		return err
	}
	return nil
}

// readRun reads r's blocks from body, which was asked for at off. It
// returns how many blocks it completed and why it stopped early.
func (s *Store) readRun(e remote.Entry, r run, body *remote.Body, off int64) (int, error) {
	c := s.c
	bs := c.opts.BlockSize
	size, err := s.checkSize(e, body.Size)
	if err != nil {
		return 0, err
	}
	switch {
	case body.Offset > off:
		return 0, fmt.Errorf("cache: %s %s: asked for offset %d, remote sent from %d: %w",
			s.name, e.ID, off, body.Offset, remote.ErrCorrupt)
	case body.Offset < off:
		skipped, err := io.CopyN(io.Discard, body, off-body.Offset)
		c.n.bytesFetched.Add(skipped)
		if err != nil {
			return 0, s.bodyErr(e, r.first, skipped, off-body.Offset, err)
		}
	}

	for i, f := range r.fetches {
		index := r.first + int64(i)
		want := bs
		if size >= 0 {
			want = min(bs, size-index*bs)
		}
		if want <= 0 {
			// The body said where the object ends; nothing is there.
			c.completeFetch(f, nil, nil, false)
			continue
		}
		s.awaitHasher(e, index)
		buf := make([]byte, want)
		n, err := readBlock(body, buf, f)
		c.n.bytesFetched.Add(int64(n))
		switch {
		case err == nil:
			s.completeBlock(e, f, buf)
		case size < 0 && (err == io.EOF || err == io.ErrUnexpectedEOF):
			// With no size known, a short body is the only sign of the
			// end. Serve it, but never cache it: it might be truncated.
			c.completeFetch(f, buf[:n], nil, false)
			for _, rest := range r.fetches[i+1:] {
				c.completeFetch(rest, nil, nil, false)
			}
			return len(r.fetches), nil
		default:
			return i, s.bodyErr(e, index, int64(n), want, err)
		}
	}
	return len(r.fetches), nil
}

// readBlock is io.ReadFull of buf from body that publishes each arrival
// to f's partial readers.
func readBlock(body io.Reader, buf []byte, f *blockFetch) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := body.Read(buf[n:])
		if m > 0 {
			n += m
			f.arrived(buf, n)
		}
		switch {
		case err == io.EOF && n > 0 && n < len(buf):
			return n, io.ErrUnexpectedEOF
		case err != nil && n < len(buf):
			return n, err
		}
	}
	return n, nil
}

// checkSize returns the object's size as far as it is known, or an error
// if the remote contradicts the entry (the object changed under us).
func (s *Store) checkSize(e remote.Entry, bodySize int64) (int64, error) {
	switch {
	case e.Size >= 0 && bodySize >= 0 && e.Size != bodySize:
		return 0, fmt.Errorf("cache: %s %s: entry says %d bytes, remote says %d: %w",
			s.name, e.ID, e.Size, bodySize, remote.ErrCorrupt)
	case e.Size >= 0:
		return e.Size, nil
	}
	return bodySize, nil
}

// bodyErr explains why reading block index stopped after got of want bytes.
func (s *Store) bodyErr(e remote.Entry, index, got, want int64, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("cache: %s %s: block %d: body ended after %d of %d bytes: %w: %w",
			s.name, e.ID, index, got, want, remote.ErrCorrupt, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("cache: %s %s: block %d: %w", s.name, e.ID, index, s.c.fetchErr(err))
}

// failRun completes r's blocks from the done-th on with err.
func (s *Store) failRun(r run, done int, err error) {
	for _, f := range r.fetches[done:] {
		s.c.completeFetch(f, nil, err, false)
	}
}

// completeFetch publishes a fetch's result to its waiters and, if the
// block is whole and still wanted, to the LRU.
func (c *Cache) completeFetch(f *blockFetch, data []byte, err error, cacheable bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cacheLocked(f, data, err, cacheable)
	f.data, f.err = data, err
	close(f.done)
}

// cacheLocked ends f's time in flight and caches its block if it is whole
// and still wanted.
func (c *Cache) cacheLocked(f *blockFetch, data []byte, err error, cacheable bool) {
	if c.inflight[f.key] == f {
		delete(c.inflight, f.key)
	}
	if err == nil && cacheable && !f.forgotten && !c.closed && !c.blocks.Contains(f.key) {
		c.blocks.Add(f.key, data)
		c.cachedBytes += int64(len(data))
	}
}

// forget drops every block and spool of id in store. Fetches in flight
// still answer their waiters but no longer fill the cache, and new reads
// start fresh fetches.
func (c *Cache) forget(store, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range c.blocks.Keys() {
		if k.store == store && k.id == id {
			c.blocks.Remove(k)
		}
	}
	for k, f := range c.inflight {
		if k.store == store && k.id == id {
			f.forgotten = true
			delete(c.inflight, k)
		}
	}
	c.forgetSpoolsLocked(store, id)
	c.forgetChecksLocked(store, id)
}
