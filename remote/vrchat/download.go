package vrchat

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
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
// reads go straight there instead of through the API's redirect, and
// which Files VRChat refused to serve (refused.go).
type downloads struct {
	mu      sync.Mutex // protects targets
	targets map[string]target

	refusals refusals
}

type target struct {
	url      string
	resolved time.Time
}

// maxRedirects bounds the hops of one download.
const maxRedirects = 5

// openVersion reads a version's bytes from off (length bytes, -1 = to the
// end). name is the entry's name (its extension tells the kind of File if
// its versions were never listed). A transfer that breaks midway is
// resumed from the first missing byte (see resume.go).
func (c *Client) openVersion(ctx context.Context, d *downloads, id string, version int, name string, off, length int64) (*remote.Body, error) {
	if err := d.refusals.refused(id); err != nil {
		return nil, err
	}
	open := func(ctx context.Context, off, length int64) (*remote.Body, int64, error) {
		return c.openRange(ctx, d, id, version, name, off, length)
	}
	b, end, err := open(ctx, off, length)
	if err != nil {
		return nil, err
	}
	return c.resumable(ctx, b, end, open), nil
}

// openRange is one request for a version's bytes, through the redirects
// of GET /file/{id}/{version} (or straight to the place they led to last
// time). end is the absolute offset just past the body's last byte, -1 if
// unknown.
func (c *Client) openRange(ctx context.Context, d *downloads, id string, version int, name string, off, length int64) (*remote.Body, int64, error) {
	key := id + "/" + strconv.Itoa(version)
	api := c.apiURL(fmt.Sprintf("/file/%s/%d", url.PathEscape(id), version))
	from, ok := d.target(key)
	if !ok {
		from = api
	}
	for again := true; ; again = false {
		resp, final, err := c.follow(ctx, from, off, length)
		if err == nil {
			if final != api {
				d.remember(key, final)
			}
			return bodyOf(resp, off)
		}
		if again && final != api && isExpired(err) {
			// A pre-signed URL that has expired (remembered, or on its
			// way): ask the API afresh, once.
			d.forget(key)
			from = api
			continue
		}
		if se, ok := refusedStatus(err); ok && !expiredSignature(se) {
			return nil, 0, c.refusedDownload(ctx, &d.refusals, id, version, d.refusals.kind(id, name), se)
		}
		return nil, 0, err
	}
}

// follow GETs from and the redirects it answers, hop by hop (at most
// maxRedirects). Each hop is judged on its own: one on the API's scheme,
// host and port goes with the session cookies (and through the
// throttle); one anywhere else goes without them, whatever came before.
// It returns the final answer and the URL that gave it.
func (c *Client) follow(ctx context.Context, from string, off, length int64) (*http.Response, string, error) {
	u := from
	for hop := 0; ; hop++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, u, err
		}
		req.Header.Set("User-Agent", c.ua)
		hc := c.storage // no cookie jar: nothing of the session leaves the API host
		if c.onAPIHost(req.URL) {
			hc = c.api
			req.Header.Set("Accept", "application/json") // as on every API request (the SDK's VRCApi.cs)
		}
		setRange(req, off, length)
		resp, err := c.do("download", hc, req)
		if err != nil {
			return nil, u, err
		}
		if !isRedirect(resp.StatusCode) {
			return resp, u, nil
		}
		resp.Body.Close()
		loc, err := resp.Location()
		switch {
		case err != nil:
			return nil, u, fmt.Errorf("vrchat: download: HTTP %d without a usable Location from %s", resp.StatusCode, redacted(req.URL))
		case hop+1 > maxRedirects:
			return nil, u, fmt.Errorf("vrchat: download: more than %d redirects from %s", maxRedirects, redacted(req.URL))
		}
		u = loc.String()
	}
}

func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// redacted is u without its query, where pre-signed URLs carry signatures.
func redacted(u *url.URL) string {
	v := *u
	v.RawQuery = ""
	return v.String()
}

// apiURL is the absolute URL of an API path.
func (c *Client) apiURL(path string) string {
	u := *c.base
	u.Path = strings.TrimRight(c.base.Path, "/") + path
	return u.String()
}

// target returns the remembered location of a version, if still fresh.
func (d *downloads) target(key string) (string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t, ok := d.targets[key]
	if !ok || time.Since(t.resolved) >= targetTTL {
		return "", false
	}
	return t.url, true
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

// expiredSignature reports S3's answer to a pre-signed URL past its
// Expires (403 AccessDenied "Request has expired"): a URL that aged, not
// a File VRChat refuses.
func expiredSignature(se *remote.StatusError) bool {
	return se.Code == http.StatusForbidden && strings.Contains(se.Msg, "Request has expired")
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

// isExpired reports a refusal of a remembered location, which for a
// pre-signed URL means its signature has expired.
func isExpired(err error) bool {
	var se *remote.StatusError
	return asStatus(err, &se) && (se.Code == http.StatusForbidden || se.Code == http.StatusNotFound)
}
