package cache

import (
	"context"
	"time"

	"github.com/filesmount/filesmount/remote"
)

// maxSpoolFiles bounds completed spools kept, each holding a descriptor,
// whatever MaxSpoolBytes allows.
const maxSpoolFiles = 1024

func (c *Cache) hasSpool(k spoolKey) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.spools[k] != nil
}

// pinLocked returns the registered spool for k with one more reader.
func (c *Cache) pinLocked(k spoolKey) *spool {
	sp := c.spools[k]
	if sp != nil {
		sp.readers++
	}
	return sp
}

// acquireSpool returns e's spool, pinned, starting a stream if there is
// none. Release it with releaseSpool.
func (c *Cache) acquireSpool(s *Store, e remote.Entry) (*spool, error) {
	k := s.spoolKey(e)
	c.mu.Lock()
	if err := c.errClosedLocked(); err != nil {
		c.mu.Unlock()
		return nil, err
	}
	if sp := c.pinLocked(k); sp != nil {
		c.mu.Unlock()
		return sp, nil
	}
	if err := c.corruptLocked(k); err != nil {
		c.mu.Unlock()
		return nil, err
	}
	c.mu.Unlock()

	sp, err := c.newSpool(k) // file I/O: outside the lock
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.errClosedLocked(); err != nil {
		sp.releaseLocked()
		return nil, err
	}
	if err := c.corruptLocked(k); err != nil {
		sp.releaseLocked()
		return nil, err
	}
	if old := c.pinLocked(k); old != nil {
		sp.releaseLocked() // another reader won the race
		return old, nil
	}
	sp.ctx, sp.cancel = context.WithCancel(c.ctx)
	sp.readers = 1
	c.startSpoolLocked(s, e, sp, nil)
	return sp, nil
}

// adoptSpool turns a whole-object body, sent for a ranged request, into
// e's spool, so that the request is not wasted. It owns body and cancel.
func (c *Cache) adoptSpool(s *Store, e remote.Entry, body *remote.Body, cancel context.CancelFunc) {
	k := s.spoolKey(e)
	sp, err := c.newSpool(k)
	if err == nil {
		c.mu.Lock()
		if c.errClosedLocked() == nil && c.spools[k] == nil {
			sp.cancel = cancel
			c.startSpoolLocked(s, e, sp, body)
			c.mu.Unlock()
			return
		}
		sp.releaseLocked()
		c.mu.Unlock()
	} else {
		c.logf("%v", err)
	}
	body.Close()
	cancel()
}

func (c *Cache) startSpoolLocked(s *Store, e remote.Entry, sp *spool, body *remote.Body) {
	c.spools[sp.key] = sp
	c.n.spoolsStarted.Add(1)
	c.wg.Add(1)
	go s.runSpool(sp, e, body)
}

// finishSpool records the end of sp's stream: a complete spool joins the
// disk budget, a failed one is dropped so that a later read restarts it.
func (c *Cache) finishSpool(sp *spool, written int64, err error) {
	sp.progress(written, err == nil, err)

	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		if !sp.dropped && !c.closed { // not a stream stopped by Forget or Close
			c.n.spoolsFailed.Add(1)
			c.logf("%v", err)
			c.dropSpoolLocked(sp)
		}
		return
	}
	c.n.spoolsCompleted.Add(1)
	if sp.dropped {
		return
	}
	sp.accounted, sp.size = true, written
	c.spoolBytes += written
	c.spoolCount++
	c.trimSpoolsLocked()
}

// releaseSpool unpins sp after a read.
func (c *Cache) releaseSpool(sp *spool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sp.readers--
	sp.lastUse = time.Now()
	if sp.dropped {
		if sp.readers == 0 {
			sp.releaseLocked()
		}
		return
	}
	c.trimSpoolsLocked()
}

// dropSpoolLocked takes sp out of the registry and the budget; its file
// goes when its last reader leaves, and an unfinished stream stops then.
func (c *Cache) dropSpoolLocked(sp *spool) {
	if c.spools[sp.key] == sp {
		delete(c.spools, sp.key)
	}
	sp.dropped = true
	if sp.accounted {
		c.spoolBytes -= sp.size
		c.spoolCount--
		sp.accounted = false
	}
	if sp.readers == 0 {
		sp.releaseLocked()
	}
}

// trimSpoolsLocked deletes the least recently used idle complete spools
// until the disk budget holds. Spools in use or still streaming stay.
func (c *Cache) trimSpoolsLocked() {
	for c.spoolBytes > c.opts.MaxSpoolBytes || c.spoolCount > maxSpoolFiles {
		var victim *spool
		for _, sp := range c.spools {
			if sp.accounted && sp.readers == 0 && (victim == nil || sp.lastUse.Before(victim.lastUse)) {
				victim = sp
			}
		}
		if victim == nil {
			return
		}
		c.n.spoolsEvicted.Add(1)
		c.logf("evict spool of %s %s (%d bytes) for MaxSpoolBytes", victim.key.store, victim.key.id, victim.size)
		c.dropSpoolLocked(victim)
	}
}

// forgetSpoolsLocked drops every spool of id in store.
func (c *Cache) forgetSpoolsLocked(store, id string) {
	for k, sp := range c.spools {
		if k.store == store && k.id == id {
			if sp.accounted {
				c.n.spoolsEvicted.Add(1)
			}
			c.dropSpoolLocked(sp)
		}
	}
}
