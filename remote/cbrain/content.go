package cbrain

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/filesmount/filesmount/internal/httprange"
	"github.com/filesmount/filesmount/internal/retry"
	"github.com/filesmount/filesmount/remote"
)

// syncGroup makes concurrent readers of one unsynced userfile share one
// portal sync instead of each starting their own.
type syncGroup struct {
	g singleflight.Group
}

// rangeState records what the portal did with the last Range header:
// Rails send_file ignores it, a reverse proxy in front may honour it.
type rangeState struct {
	honoured atomic.Int32 // 0 unknown, 1 yes, -1 no
}

// contentRequest describes what to GET for one readable object.
type contentRequest struct {
	userfileID int64
	path       string     // URL path
	query      url.Values // content_loader arguments for collection members
	what       string     // for messages: `userfile 12 "a.nii"`
	// sync, if set, brings the content into the portal's cache after a
	// 404 instead of waitSynced (collection members: collection.go).
	sync func(context.Context) error
}

// openContent GETs the content with a Range header. The answer tells
// whether the range was honoured (206) or ignored (200, whole body).
// A 404 for a file that exists means the portal has no synced copy: it
// triggers a sync and retries until c.SyncTimeout.
func (c *Client) openContent(ctx context.Context, cr contentRequest, off, length int64) (*remote.Body, error) {
	body, err := c.getContent(ctx, cr, off, length)
	if err == nil || !errors.Is(err, remote.ErrNotFound) {
		return body, err
	}
	if cr.sync != nil {
		err = cr.sync(ctx)
	} else {
		err = c.waitSynced(ctx, cr)
	}
	if err != nil {
		return nil, err
	}
	return c.getContent(ctx, cr, off, length)
}

func (c *Client) getContent(ctx context.Context, cr contentRequest, off, length int64) (*remote.Body, error) {
	req, err := c.newRequest(ctx, http.MethodGet, cr.path, cr.query, nil)
	if err != nil {
		return nil, err
	}
	if off > 0 || length > 0 {
		end := ""
		if length > 0 {
			end = strconv.FormatInt(off+length-1, 10)
		}
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%s", off, end))
	}
	resp, err := c.do("read "+cr.what, req)
	if err != nil {
		return nil, err
	}
	// do already guards the body against stalls and against ending before
	// its Content-Length. CBRAIN has no Range, so a broken body is an error
	// and the cache fetches the whole object again on the next read.
	b := &remote.Body{ReadCloser: resp.Body, Size: remote.SizeUnknown}
	if resp.StatusCode == http.StatusPartialContent {
		rng, err := httprange.ParseContentRange(resp.Header.Get("Content-Range"))
		if err != nil || rng.Start != off {
			resp.Body.Close()
			return nil, fmt.Errorf("cbrain: read %s: bad Content-Range %q for offset %d: %w",
				cr.what, resp.Header.Get("Content-Range"), off, remote.ErrCorrupt)
		}
		if resp.ContentLength < 0 {
			b.ReadCloser = retry.ExactLengthReader(resp.Body, rng.Len())
		}
		b.Offset, b.Ranged, b.Size = rng.Start, true, rng.Total
		return b, nil
	}
	if resp.ContentLength >= 0 {
		b.Size = resp.ContentLength
	}
	return b, nil
}

// parseContentRange parses "bytes START-END/TOTAL" (TOTAL may be "*").
func parseContentRange(h string) (start, total int64, ok bool) {
	r, err := httprange.ParseContentRange(h)
	return r.Start, r.Total, err == nil
}

// waitSynced handles a 404 from /content: it checks that the userfile
// exists, asks the portal to sync it, and waits (bounded by SyncTimeout)
// for the sync to finish. Concurrent callers for one userfile share it.
func (c *Client) waitSynced(ctx context.Context, cr contentRequest) error {
	key := strconv.FormatInt(cr.userfileID, 10)
	ch := c.syncs.g.DoChan(key, func() (any, error) {
		// Detached from the caller: other readers may be waiting on it.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.SyncTimeout)
		defer cancel()
		return nil, c.syncAndWait(sctx, cr)
	})
	select {
	case <-ctx.Done():
		return ctx.Err()
	case res := <-ch:
		return res.Err
	}
}

func (c *Client) syncAndWait(ctx context.Context, cr contentRequest) error {
	uf, err := c.Userfile(ctx, cr.userfileID)
	if err != nil {
		return err // 404 JSON: the file is really gone
	}
	if uf.Size == nil {
		return fmt.Errorf("cbrain: read %s: the portal is still processing this file (size not yet known): %w",
			cr.what, remote.ErrUnavailable)
	}
	bacID, hasBAC, err := c.SyncToCache(ctx, cr.userfileID)
	if err != nil {
		return err
	}
	delay := c.PollInterval
	for {
		if hasBAC {
			bac, err := c.BackgroundActivity(ctx, bacID)
			if err == nil && bac.Finished() {
				if bac.Status != "Completed" {
					return fmt.Errorf("cbrain: read %s: the portal could not sync it from its data provider (background activity %d: %s): %w",
						cr.what, bacID, bac.Status, remote.ErrUnavailable)
				}
				return nil
			}
		} else if probe, err := c.getContent(ctx, cr, 0, 1); err == nil {
			probe.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cbrain: read %s: content not available: the portal did not sync it from its data provider within %s: %w",
				cr.what, c.SyncTimeout, remote.ErrUnavailable)
		case <-time.After(delay):
		}
		delay = min(delay*2, 5*time.Second)
	}
}

func isNotFound(err error) bool { return errors.Is(err, remote.ErrNotFound) }
