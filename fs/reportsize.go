package fs

import (
	"context"
	"sync"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sync/singleflight"

	"github.com/filesmount/filesmount/remote"
)

// Generated content (remote.Entry.Dynamic: VRChat's avatar analysis
// reports) has no size in the listing. stat must show the true size all
// the same, or tar and rsync -a archive such files as empty ones (they
// read st_size bytes). So the report is fetched when it is looked up,
// and the bytes are kept for the metadata TTL: stat, READDIRPLUS, and the
// open that follows all see the same bytes.
//
// While the remote cannot give the report yet (VRChat answers 202 until
// the analysis has run), stat shows size 0 and opening fails with EAGAIN
// and one log line, as before. A failed fetch is remembered for stat
// (ls does not ask again at each lookup), but an open always asks again.

const (
	// maxReportBytes bounds the reports kept in memory. Reports are a few
	// KiB; the oldest are dropped first.
	maxReportBytes = 32 << 20
	// reportTimeout bounds one fetch, which runs detached from the FUSE
	// request that started it.
	reportTimeout = 2 * time.Minute
)

// reportCache holds recently fetched reports. Fetches of one report are
// shared (singleflight) and run on a context detached from the request
// that started them, so that a kernel interrupt stops only that waiter.
type reportCache struct {
	group singleflight.Group

	mu    sync.Mutex // protects the fields below
	byKey map[string]*report
	bytes int64 // total len(data) of byKey
}

// report is the outcome of one fetch; immutable once stored.
type report struct {
	data    []byte
	err     error // the fetch failed (remote.ErrNotReady: not generated yet)
	fetched time.Time
}

func reportKey(s remote.Store, e remote.Entry) string {
	return s.Name() + "\x00" + e.ID + "\x00" + e.Version
}

// get returns e's report fetched less than ttl ago, or fetches it. A
// remembered failure is returned as it is unless retryFailed. The error
// is only that of ctx (the caller was interrupted); a failed fetch is in
// report.err.
func (c *reportCache) get(ctx context.Context, s remote.Store, e remote.Entry, ttl time.Duration, retryFailed bool) (*report, error) {
	key := reportKey(s, e)
	c.mu.Lock()
	r := c.byKey[key]
	c.mu.Unlock()
	if r != nil && time.Since(r.fetched) < ttl && (r.err == nil || !retryFailed) {
		return r, nil
	}
	ch := c.group.DoChan(key, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reportTimeout)
		defer cancel()
		data, err := readAllBounded(fctx, s, e)
		r := &report{data: data, err: err, fetched: time.Now()}
		c.store(key, r, ttl)
		return r, nil
	})
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case res := <-ch:
		return res.Val.(*report), nil
	}
}

// store keeps r, dropping expired reports and then the oldest ones while
// over the memory bound.
func (c *reportCache) store(key string, r *report, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byKey == nil {
		c.byKey = map[string]*report{}
	}
	if old := c.byKey[key]; old != nil {
		c.bytes -= int64(len(old.data))
	}
	c.byKey[key] = r
	c.bytes += int64(len(r.data))
	now := time.Now()
	for k, x := range c.byKey {
		if now.Sub(x.fetched) >= ttl {
			c.bytes -= int64(len(x.data))
			delete(c.byKey, k)
		}
	}
	for c.bytes > maxReportBytes {
		var oldest string
		for k, x := range c.byKey {
			if oldest == "" || x.fetched.Before(c.byKey[oldest].fetched) {
				oldest = k
			}
		}
		c.bytes -= int64(len(c.byKey[oldest].data))
		delete(c.byKey, oldest)
	}
}

// reportSize is the size stat shows for dynamic entry e: its report's,
// or SizeUnknown (shown as 0) while the report cannot be had.
func (f *filesys) reportSize(ctx context.Context, b Backend, e remote.Entry) int64 {
	r, err := f.reports.get(ctx, b.Store, e, f.opts.MetadataTTL, false)
	if err != nil || r.err != nil {
		return remote.SizeUnknown
	}
	return int64(len(r.data))
}

// reportAttr sets the size of a dynamic file without an open handle.
func (n *fileNode) reportAttr(ctx context.Context, out *fuse.Attr) {
	n.mu.Lock()
	e, local := n.entry, n.st != nil
	n.mu.Unlock()
	if e.Dynamic && !local {
		setAttrSize(out, n.fsys.reportSize(ctx, n.backend, e))
	}
}

func setAttrSize(out *fuse.Attr, size int64) {
	out.Size, out.Blocks = 0, 0
	if size > 0 {
		out.Size = uint64(size)
		out.Blocks = (out.Size + 511) / 512
	}
}
