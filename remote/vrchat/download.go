package vrchat

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

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
// end) with a Range request to the storage host.
func (c *Client) openVersion(ctx context.Context, d *downloads, id string, version int, off, length int64) (*remote.Body, error) {
	key := id + "/" + strconv.Itoa(version)
	for attempt := 0; ; attempt++ {
		loc, body, err := c.resolve(ctx, d, key, id, version, off, length)
		if err != nil || body != nil {
			return body, err
		}
		body, err = c.fetchRange(ctx, loc, off, length)
		if err == nil || attempt > 0 || !isExpired(err) {
			return body, err
		}
		d.forget(key) // expired signature: ask the API for a fresh location once
	}
}

// resolve returns the storage location of a version. If the API answers
// with the bytes itself instead of a redirect, that answer is returned.
func (c *Client) resolve(ctx context.Context, d *downloads, key, id string, version int, off, length int64) (string, *remote.Body, error) {
	d.mu.Lock()
	t, ok := d.targets[key]
	d.mu.Unlock()
	if ok && time.Since(t.resolved) < targetTTL {
		return t.url, nil, nil
	}
	req, err := c.newRequest(ctx, http.MethodGet, fmt.Sprintf("/file/%s/%d", url.PathEscape(id), version), nil, nil)
	if err != nil {
		return "", nil, err
	}
	setRange(req, off, length)
	resp, err := c.do("download", c.api, req)
	if err != nil {
		return "", nil, err
	}
	switch resp.StatusCode {
	case http.StatusFound, http.StatusMovedPermanently, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		resp.Body.Close()
		loc, err := resp.Location()
		if err != nil {
			return "", nil, fmt.Errorf("vrchat: download %s version %d: redirect without a location", id, version)
		}
		d.mu.Lock()
		if d.targets == nil {
			d.targets = map[string]target{}
		}
		d.targets[key] = target{url: loc.String(), resolved: time.Now()}
		d.mu.Unlock()
		return loc.String(), nil, nil
	}
	return "", bodyOf(resp, off), nil
}

func (d *downloads) forget(key string) {
	d.mu.Lock()
	delete(d.targets, key)
	d.mu.Unlock()
}

// fetchRange GETs loc with a cookie-less client: storage is another host
// and must never see the session cookies.
func (c *Client) fetchRange(ctx context.Context, loc string, off, length int64) (*remote.Body, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", c.ua)
	setRange(req, off, length)
	resp, err := c.do("download", c.storage, req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		resp.Body.Close()
		return nil, fmt.Errorf("vrchat: download: storage answered HTTP %d", resp.StatusCode)
	}
	return bodyOf(resp, off), nil
}

func setRange(req *http.Request, off, length int64) {
	switch {
	case length > 0:
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+length-1))
	case off > 0:
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", off))
	}
}

// bodyOf describes a 200 (whole object) or 206 (the requested range).
func bodyOf(resp *http.Response, off int64) *remote.Body {
	b := &remote.Body{ReadCloser: resp.Body, Size: remote.SizeUnknown}
	if resp.StatusCode == http.StatusPartialContent {
		b.Offset, b.Ranged = off, true
		return b
	}
	b.Size = resp.ContentLength
	return b
}

// isExpired reports a refusal from storage, which for a pre-signed URL
// means its signature has expired.
func isExpired(err error) bool {
	var se *remote.StatusError
	return asStatus(err, &se) && (se.Code == http.StatusForbidden || se.Code == http.StatusNotFound)
}
