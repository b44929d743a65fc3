package cache

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"hash"
	"time"

	"github.com/filesmount/filesmount/remote"
)

// maxChecks bounds the MD5 checks remembered per Cache, whatever their
// state (hashing, verified or corrupt). Beyond it the least recently used
// is forgotten: a hashing object is then simply not verified, a verified
// one is hashed again if it is fetched again, and a corrupt one may be
// read again without first being restarted.
const maxChecks = 1024

// check is the MD5 verification of one version of one object, keyed like
// a spool by (store, ID, Version).
//
// In ranged mode blocks arrive in any order. The object is hashed in
// offset order from the block LRU: next is how many bytes h has consumed.
// Whoever caches the block at next while no one is hashing becomes the
// hasher (busy) and goes on through the following cached blocks until one
// is missing; the cacher of that block takes over later. A block evicted
// before it was hashed stalls the check until that block is fetched again
// (perhaps never: then the object is not verified).
//
// Spools hash their stream as they write it and only record the verdict
// here.
//
// Every field is protected by Cache.mu, except h, which only the hasher
// (the goroutine that set busy) touches, without the lock.
type check struct {
	want []byte // the remote's digest
	size int64
	name string // entry name, for the log

	h    hash.Hash     // nil once concluded
	next int64         // bytes hashed so far
	busy bool          // a goroutine is hashing
	idle chan struct{} // closed when that goroutine stops

	// have records which blocks have been fetched at least once: when
	// all have, the object is complete and the reads that follow wait for
	// the verdict instead of the hashing delaying every block's readers.
	have      []bool
	haveCount int

	// advanced is closed (and replaced) whenever next grows or the
	// hasher stops; nil until a fetch waits for it (see awaitHasher).
	advanced chan struct{}

	verified bool
	err      error // the mismatch; reads fail with it until a read at 0
}

// complete reports whether every block of the object has been fetched.
func (ch *check) complete() bool { return len(ch.have) > 0 && ch.haveCount == len(ch.have) }

// wantsCheck reports whether reads of e are verified.
func wantsCheck(e remote.Entry) bool { return len(e.MD5) > 0 && e.Size >= 0 }

// readVerified is read plus e's MD5 verdict. Once e's version was found
// corrupt, every read fails with the mismatch, except a read at offset 0:
// it starts over, fetching and verifying afresh. A read that reaches the
// end of the object, or any read once every block has been fetched,
// waits for the hashing in progress, so that the read which completes a
// corrupt object reports the mismatch.
func (s *Store) readVerified(ctx context.Context, e remote.Entry, p []byte, off int64, vec *[][]byte) (int, error) {
	if !wantsCheck(e) {
		return s.read(ctx, e, p, off, vec)
	}
	k := s.spoolKey(e)
	if err := s.c.corruption(k, off == 0); err != nil {
		return 0, err
	}
	n, err := s.read(ctx, e, p, off, vec)
	if err != nil {
		return n, err
	}
	if err := s.c.verdict(ctx, k, off+int64(n) == e.Size); err != nil {
		return 0, err
	}
	return n, nil
}

// corruption returns the mismatch found on k, or forgets it if restart.
func (c *Cache) corruption(k spoolKey, restart bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch, ok := c.checks.Get(k)
	switch {
	case !ok || ch.err == nil:
		return nil
	case restart:
		// Its blocks and spool were dropped with the mismatch, so this
		// read fetches again and block 0 starts a new check.
		c.checks.Remove(k)
		return nil
	}
	return ch.err
}

// corruptLocked returns the mismatch found on k, if any: no fetch of k
// starts until a read at 0 has forgotten it.
func (c *Cache) corruptLocked(k spoolKey) error {
	if ch, ok := c.checks.Peek(k); ok {
		return ch.err
	}
	return nil
}

// verdict returns the mismatch found on k, if any. With atEnd, it first
// waits for the hasher, which may be working on the bytes just read.
func (c *Cache) verdict(ctx context.Context, k spoolKey, atEnd bool) error {
	for {
		c.mu.Lock()
		ch, ok := c.checks.Peek(k)
		if !ok || ch.err != nil || !(atEnd || ch.complete()) || !ch.busy {
			var err error
			if ok {
				err = ch.err
			}
			c.mu.Unlock()
			return err
		}
		idle := ch.idle
		c.mu.Unlock()
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// completeBlock is completeFetch for a whole block of e: it caches the
// block, wakes the block's waiters, then hashes whatever the block made
// hashable, so that hashing overlaps the readers instead of delaying them
// (MD5 costs about as much CPU as the rest of the read path). The check
// is marked busy before the waiters wake: a read that completes the
// object then waits for the verdict (see verdict).
func (s *Store) completeBlock(e remote.Entry, f *blockFetch, data []byte) {
	c := s.c
	if !wantsCheck(e) {
		c.completeFetch(f, data, nil, true)
		return
	}
	c.mu.Lock()
	c.cacheLocked(f, data, nil, true)
	ch := c.startHashLocked(f.key, e)
	c.mu.Unlock()
	f.data = data
	close(f.done)
	if ch != nil {
		c.hashCached(f.key, ch)
	}
}

// startHashLocked records that block bk of e's version has been fetched
// and returns its check, newly busy, if the caller is to hash: the
// check's next block is cached and no one hashes. Any block starts a
// check; a version already concluded has nothing to do.
func (c *Cache) startHashLocked(bk blockKey, e remote.Entry) *check {
	k := spoolKey{store: bk.store, id: bk.id, version: bk.version}
	ch, ok := c.checks.Get(k)
	if !ok {
		blocks := (e.Size + c.opts.BlockSize - 1) / c.opts.BlockSize
		ch = &check{want: e.MD5, size: e.Size, name: e.Name, h: md5.New(), have: make([]bool, blocks)}
		c.checks.Add(k, ch)
	}
	if i := bk.index; i >= 0 && i < int64(len(ch.have)) && !ch.have[i] {
		ch.have[i] = true
		ch.haveCount++
	}
	bk.index = ch.next / c.opts.BlockSize
	if ch.h == nil || ch.busy || !c.blocks.Contains(bk) {
		return nil
	}
	ch.busy, ch.idle = true, make(chan struct{})
	return ch
}

// hashCached feeds ch the cached blocks from ch.next on, in order, until
// one is missing or the object is complete. The caller made ch busy.
func (c *Cache) hashCached(bk blockKey, ch *check) {
	k := spoolKey{store: bk.store, id: bk.id, version: bk.version}
	bs := c.opts.BlockSize
	c.mu.Lock()
	defer c.mu.Unlock()
	defer func() { ch.busy = false; close(ch.idle); ch.wakeLocked() }()
	for {
		if cur, ok := c.checks.Peek(k); !ok || cur != ch {
			return // evicted or forgotten: no verdict
		}
		bk.index = ch.next / bs
		data, ok := c.blocks.Peek(bk)
		if !ok {
			return // the block's arrival resumes the check
		}
		if int64(len(data)) != min(bs, ch.size-ch.next) {
			// Another entry of this version disagrees about the size:
			// better no verdict than a false one.
			c.checks.Remove(k)
			return
		}
		c.mu.Unlock()
		ch.h.Write(data) // blocks are never modified once cached
		if c.hashDelay > 0 {
			time.Sleep(c.hashDelay)
		}
		c.mu.Lock()
		ch.next += int64(len(data))
		ch.wakeLocked()
		if ch.next == ch.size {
			c.concludeLocked(k, ch, ch.h.Sum(nil))
			return
		}
	}
}

// concludeLocked records the verdict on ch, which has hashed all of k as
// got. A mismatch drops every block and spool of k.
func (c *Cache) concludeLocked(k spoolKey, ch *check, got []byte) {
	ch.h, ch.have = nil, nil
	if bytes.Equal(got, ch.want) {
		ch.verified = true
		c.n.md5Verified.Add(1)
		return
	}
	c.n.md5Mismatches.Add(1)
	b64 := base64.StdEncoding.EncodeToString
	msg := fmt.Sprintf("%s %s (%q): MD5 mismatch: remote says %s, content has %s",
		k.store, k.id, ch.name, b64(ch.want), b64(got))
	ch.err = fmt.Errorf("cache: %s: %w", msg, remote.ErrCorrupt)
	c.logf("%s", msg)
	c.dropVersionLocked(k)
}

// spoolHash returns the hash a spool stream of e feeds, or nil if e is
// not checked or already verified.
func (c *Cache) spoolHash(k spoolKey, e remote.Entry) hash.Hash {
	if !wantsCheck(e) {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch, ok := c.checks.Peek(k); ok && ch.verified {
		return nil
	}
	return md5.New()
}

// concludeSpool records the verdict on sp's whole stream, hashed as got,
// and returns the mismatch, if any. A spool already dropped (Forget) gets
// no verdict.
func (c *Cache) concludeSpool(sp *spool, e remote.Entry, got []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if sp.dropped {
		return nil
	}
	ch := &check{want: e.MD5, size: e.Size, name: e.Name, next: e.Size}
	c.checks.Add(sp.key, ch)
	c.concludeLocked(sp.key, ch, got)
	return ch.err
}

// dropVersionLocked drops the blocks and spool of k. Fetches in flight
// still answer their waiters but no longer fill the cache.
func (c *Cache) dropVersionLocked(k spoolKey) {
	for _, bk := range c.blocks.Keys() {
		if bk.store == k.store && bk.id == k.id && bk.version == k.version {
			c.blocks.Remove(bk)
		}
	}
	for bk, f := range c.inflight {
		if bk.store == k.store && bk.id == k.id && bk.version == k.version {
			f.forgotten = true
			delete(c.inflight, bk)
		}
	}
	if sp := c.spools[k]; sp != nil {
		c.dropSpoolLocked(sp)
	}
}

// forgetChecksLocked forgets the checks of every version of id in store.
func (c *Cache) forgetChecksLocked(store, id string) {
	for _, k := range c.checks.Keys() {
		if k.store == store && k.id == id {
			c.checks.Remove(k)
		}
	}
}

// wakeLocked wakes the fetches waiting in awaitHasher; c.mu is held.
func (ch *check) wakeLocked() {
	if ch.advanced != nil {
		close(ch.advanced)
		ch.advanced = nil
	}
}

// awaitHasher holds back the fetch of block index of e while the MD5
// check of e is being computed more than a quarter of the cache behind
// it. Fetches may run ahead of the hasher (read-ahead runs several at
// once; hashing is one goroutine), and without this the blocks it has
// not hashed yet were evicted before it got to them, which silently left
// objects larger than the cache unchecked. It waits only while the
// hasher can progress (the block it needs next is cached or in flight):
// a check stalled on a block no one fetches must not hold reads up.
func (s *Store) awaitHasher(e remote.Entry, index int64) {
	if !wantsCheck(e) {
		return
	}
	c := s.c
	k := s.spoolKey(e)
	bs := c.opts.BlockSize
	maxLag := max(c.opts.MaxBytes/4, bs)
	for {
		c.mu.Lock()
		ch, ok := c.checks.Peek(k)
		if !ok || ch.h == nil || c.closed || index*bs-ch.next <= maxLag {
			c.mu.Unlock()
			return
		}
		need := s.blockKey(e, ch.next/bs)
		if !ch.busy && c.missingLocked(need) {
			c.mu.Unlock()
			return // stalled: nothing will advance it
		}
		if ch.advanced == nil {
			ch.advanced = make(chan struct{})
		}
		advanced := ch.advanced
		c.mu.Unlock()
		// The timer re-checks in case the awaited block's fetch failed:
		// then nothing hashes and nothing wakes us.
		select {
		case <-advanced:
		case <-time.After(hasherRecheck):
		case <-c.ctx.Done():
			return
		}
	}
}

// hasherRecheck is how often awaitHasher looks again without being woken.
const hasherRecheck = 50 * time.Millisecond

// partialReadOKLocked reports whether a read of blocks first..last of e,
// ending at end, may be answered from blocks that have only partly
// arrived. For an object under an MD5 check, only the first read of a
// fresh object may (the time to first byte), and only if it cannot
// complete the object: every other read waits for its blocks to be
// complete, so that the read which completes a corrupt object, or a
// sequential read reaching its end, sees the verdict.
func (c *Cache) partialReadOKLocked(k spoolKey, e remote.Entry, first, last, end int64) bool {
	if !wantsCheck(e) {
		return true
	}
	ch, ok := c.checks.Peek(k)
	if ok {
		return ch.verified
	}
	blocks := (e.Size + c.opts.BlockSize - 1) / c.opts.BlockSize
	return end < e.Size && blocks > last-first+1
}
