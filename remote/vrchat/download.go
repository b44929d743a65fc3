package vrchat

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/filesmount/filesmount/internal/httprange"
	"github.com/filesmount/filesmount/internal/retry"
	"github.com/filesmount/filesmount/remote"
)

// targetTTL is how long a resolved download location is reused. The
// storage URLs are pre-signed and expire; an expired one is re-resolved.
const targetTTL = 10 * time.Minute

// downloads remembers where each version's bytes live, so that block
// reads go straight to storage instead of through the API's redirect.
type downloads struct {
	mu      sync.Mutex // protects targets
	targets map[string]target
}

type target struct {
	url      string
	resolved time.Time
}

// openVersion reads a version's bytes from off (length bytes, -1 = to the
// end) with a Range request to the storage host. A transfer that breaks
// midway is resumed from the first missing byte (see resume.go).
func (c *Client) openVersion(ctx context.Context, d *downloads, id string, version int, off, length int64) (*remote.Body, error) {
	open := func(ctx context.Context, off, length int64) (*remote.Body, int64, error) {
		return c.openRange(ctx, d, id, version, off, length)
	}
	b, end, err := open(ctx, off, length)
	if err != nil {
		return nil, err
	}
	return c.resumable(ctx, b, end, open), nil
}

// openRange is one request for a version's bytes. end is the absolute
// offset just past the body's last byte, -1 if unknown.
func (c *Client) openRange(ctx context.Context, d *downloads, id string, version int, off, length int64) (*remote.Body, int64, error) {
	key := id + "/" + strconv.Itoa(version)
	for attempt := 0; ; attempt++ {
		loc, body, end, err := c.resolve(ctx, d, key, id, version, off, length)
		if err != nil || body != nil {
			return body, end, err
		}
		body, end, err = c.fetchRange(ctx, loc, off, length)
		if err == nil || attempt > 0 || !isExpired(err) {
			return body, end, err
		}
		d.forget(key) // expired signature: ask the API for a fresh location once
	}
}

// resolve returns the storage location of a version. If the API answers
// with the bytes itself instead of a redirect, that answer is returned.
func (c *Client) resolve(ctx context.Context, d *downloads, key, id string, version int, off, length int64) (string, *remote.Body, int64, error) {
	d.mu.Lock()
	t, ok := d.targets[key]
	d.mu.Unlock()
	if ok && time.Since(t.resolved) < targetTTL {
		return t.url, nil, 0, nil
	}
	req, err := c.newRequest(ctx, http.MethodGet, fmt.Sprintf("/file/%s/%d", url.PathEscape(id), version), nil, nil)
	if err != nil {
		return "", nil, 0, err
	}
	setRange(req, off, length)
	resp, err := c.do("download", c.api, req)
	if err != nil {
		return "", nil, 0, err
	}
	switch resp.StatusCode {
	case http.StatusFound, http.StatusMovedPermanently, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		resp.Body.Close()
		loc, err := resp.Location()
		if err != nil {
			return "", nil, 0, fmt.Errorf("vrchat: download %s version %d: redirect without a location", id, version)
		}
		d.remember(key, loc.String())
		return loc.String(), nil, 0, nil
	}
	b, end, err := bodyOf(resp, off)
	return "", b, end, err
}

// maxTargets bounds the remembered locations: past it, expired ones are
// dropped, and if none has expired, all (they are only a shortcut).
const maxTargets = 4096

func (d *downloads) remember(key, url string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.targets == nil {
		d.targets = map[string]target{}
	}
	if len(d.targets) >= maxTargets {
		for k, t := range d.targets {
			if time.Since(t.resolved) >= targetTTL {
				delete(d.targets, k)
			}
		}
		if len(d.targets) >= maxTargets {
			clear(d.targets)
		}
	}
	d.targets[key] = target{url: url, resolved: time.Now()}
}

func (d *downloads) forget(key string) {
	d.mu.Lock()
	delete(d.targets, key)
	d.mu.Unlock()
}

// fetchRange GETs loc with a cookie-less client: storage is another host
// and must never see the session cookies.
func (c *Client) fetchRange(ctx context.Context, loc string, off, length int64) (*remote.Body, int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("User-Agent", c.ua)
	setRange(req, off, length)
	resp, err := c.do("download", c.storage, req)
	if err != nil {
		return nil, 0, err
	}
	if resp.StatusCode >= 300 {
		resp.Body.Close()
		return nil, 0, fmt.Errorf("vrchat: download: storage answered HTTP %d", resp.StatusCode)
	}
	return bodyOf(resp, off)
}

func setRange(req *http.Request, off, length int64) {
	switch {
	case length > 0:
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+length-1))
	case off > 0:
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", off))
	}
}

// bodyOf describes a 200 (whole object) or 206 (the range its
// Content-Range names, which must start at off), and returns the absolute
// offset just past its last byte (-1 if unknown). do already made the body
// fail rather than end before its Content-Length; a 206 without one is
// held to its Content-Range.
func bodyOf(resp *http.Response, off int64) (*remote.Body, int64, error) {
	b := &remote.Body{ReadCloser: resp.Body, Size: remote.SizeUnknown}
	if resp.StatusCode == http.StatusPartialContent {
		cr, err := httprange.ParseContentRange(resp.Header.Get("Content-Range"))
		if err != nil || cr.Start != off {
			resp.Body.Close()
			return nil, 0, fmt.Errorf("vrchat: download: bad Content-Range %q for offset %d: %w",
				resp.Header.Get("Content-Range"), off, remote.ErrCorrupt)
		}
		if resp.ContentLength < 0 {
			b.ReadCloser = retry.ExactLengthReader(resp.Body, cr.Len())
		}
		b.Offset, b.Ranged, b.Size = cr.Start, true, cr.Total
		return b, cr.End + 1, nil
	}
	b.Size = resp.ContentLength
	return b, resp.ContentLength, nil
}

// isExpired reports a refusal from storage, which for a pre-signed URL
// means its signature has expired.
func isExpired(err error) bool {
	var se *remote.StatusError
	return asStatus(err, &se) && (se.Code == http.StatusForbidden || se.Code == http.StatusNotFound)
}
