package cbrain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/filesmount/filesmount/internal/retry"
	"github.com/filesmount/filesmount/remote"
)

// Client talks to one CBRAIN portal with one API token.
type Client struct {
	base  *url.URL
	token string // never logged, never put in a URL
	http  *http.Client
	// SyncTimeout bounds how long a read waits for the portal to sync a
	// file from a remote data provider into its cache.
	SyncTimeout time.Duration
	// PollInterval is the first delay between background-activity polls.
	PollInterval time.Duration
	// UploadTimeout bounds how long an upload waits for the portal to
	// finish processing the file (size no longer null), plus one second
	// per 4 MiB of content.
	UploadTimeout time.Duration
	// OpTimeout bounds how long a delete, move, compress or sync waits
	// for its background activity.
	OpTimeout time.Duration
	// Retry is the policy for idempotent requests (see do).
	Retry retry.Policy
	// IdleTimeout aborts a response body that delivers no byte for this
	// long (a stalled server); the read fails with remote.ErrTimeout.
	IdleTimeout time.Duration

	dialer  *pinnedDialer // nil when the caller gave its own HTTPClient
	syncs   syncGroup     // one portal sync per userfile at a time
	me      identityCache // who the token belongs to (for uploads)
	release releaseState  // the portal's release, as its answers show it (release.go)
}

// Config holds what NewClient needs.
type Config struct {
	URL   string // portal base URL, e.g. https://portal.cbrain.mcgill.ca
	Token string // API token (32 hex characters on real portals)
	// HTTPClient is optional; its CheckRedirect is replaced so that
	// redirects are never followed. Without it, the client's connections
	// all leave from one local address (pindial.go); with it, the
	// caller's transport decides.
	HTTPClient *http.Client
	// LocalAddr, if valid, is the local address every connection leaves
	// from: the one the token is bound to (TokenFile.LocalAddr). Invalid:
	// the first connection chooses, and the others follow it.
	LocalAddr netip.Addr
}

// NewClient validates cfg and returns a client. It makes no request.
func NewClient(cfg Config) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(cfg.URL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("cbrain: invalid portal URL %q: want http(s)://host[/path]", cfg.URL)
	}
	hc := cfg.HTTPClient
	var dialer *pinnedDialer
	if hc == nil {
		dialer = newPinnedDialer(cfg.LocalAddr)
		hc = &http.Client{Transport: newTransport(dialer)}
	} else {
		copied := *hc
		hc = &copied
	}
	// The portal answers some failures (password reset, missing ids) with
	// a 302 to an HTML page even for JSON requests; following it would
	// turn an error into a confusing 200.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Client{
		dialer:        dialer,
		base:          u,
		token:         cfg.Token,
		http:          hc,
		SyncTimeout:   2 * time.Minute,
		PollInterval:  250 * time.Millisecond,
		UploadTimeout: 10 * time.Minute,
		OpTimeout:     10 * time.Minute,
		Retry:         retry.Default(),
		IdleTimeout:   DefaultIdleTimeout,
	}, nil
}

// DefaultIdleTimeout is Client.IdleTimeout's default: long enough for a
// portal busy with other requests, short enough that a dead connection
// does not hold a read for the kernel's TCP timeout (minutes to hours).
const DefaultIdleTimeout = 60 * time.Second

func newTransport(d *pinnedDialer) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = d.DialContext
	t.ResponseHeaderTimeout = 2 * time.Minute
	t.MaxIdleConnsPerHost = 16
	return t
}

// URL is the portal's base URL (it never contains the token).
func (c *Client) URL() string { return c.base.String() }

// LocalAddr is the local address the client's connections leave from,
// once the first one has chosen it (or Config.LocalAddr); invalid before,
// or when the caller gave its own HTTPClient.
func (c *Client) LocalAddr() netip.Addr {
	if c.dialer == nil {
		return netip.Addr{}
	}
	return c.dialer.Local()
}

// newRequest builds a request for path (relative to the base URL) with the
// headers every CBRAIN call needs.
func (c *Client) newRequest(ctx context.Context, method, path string, query url.Values, body io.Reader) (*http.Request, error) {
	u := *c.base
	u.Path = strings.TrimRight(c.base.Path, "/") + path
	if query != nil {
		u.RawQuery = query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, err
	}
	// Without this Accept the portal picks HTML; with any other value its
	// error path raises UnknownFormat, answered as 401.
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req, nil
}

// do sends an idempotent request: it is retried under c.Retry on network
// errors, 429 and 500/502/503/504, honouring Retry-After. It returns the
// response if its status is 2xx, with its body guarded against stalls
// (c.IdleTimeout) and truncation (Content-Length). Otherwise the error is a
// *remote.StatusError or a network error wrapping remote.ErrUnavailable
// (remote.ErrTimeout for timeouts), inside a *retry.Error that counts the
// attempts if it was retried.
//
// Which calls are idempotent, and so use do rather than doOnce: every GET,
// and PUT /userfiles/:id (a rename sets the name and tags to given values;
// the caller confirms it with a GET). Not: POST /session (each creates a
// token), POST /userfiles (uploadOnce looks for the record instead),
// POST sync_multiple/compress/uncompress/change_provider (a repeat after a
// lost answer reports "nothing to do" instead of the real outcome), and
// DELETE /userfiles/delete_files (a repeat after a landed first attempt
// answers "No appropriate files", which would read as EACCES; the caller
// confirms the deletion with a GET instead).
func (c *Client) do(op string, req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return c.doOnce(op, req) // the body cannot be sent twice
	}
	var resp *http.Response
	err := c.Retry.Do(req.Context(), func(attempt int) (time.Duration, bool, error) {
		var err error
		resp, err = c.attempt(op, req, attempt)
		return retry.Classify(resp, err, nil)
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// doOnce sends a request that must not be repeated blindly.
func (c *Client) doOnce(op string, req *http.Request) (*http.Response, error) {
	return c.attempt(op, req, 1)
}

// doUnlessProcessed sends a request that must not be repeated blindly
// (sync_multiple, compress, change_provider, delete_files) and sends it
// again only after an answer saying that the portal did not process it:
// 429 (a rate limiter in front of the application) or 503 (a proxy whose
// backend is down, or maintenance mode). Repeating it then is not blind.
// A network error or any other status may mean it was processed: the
// caller finds out what happened instead.
func (c *Client) doUnlessProcessed(op string, req *http.Request) (*http.Response, error) {
	var resp *http.Response
	err := c.Retry.Do(req.Context(), func(attempt int) (time.Duration, bool, error) {
		var err error
		resp, err = c.attempt(op, req, attempt)
		wait, _, err := retry.Classify(resp, err, nil)
		var se *remote.StatusError
		return wait, errors.As(err, &se) && notProcessed(se), err
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// notProcessed: answers that say the request never reached the portal.
func notProcessed(se *remote.StatusError) bool {
	return se.Code == http.StatusTooManyRequests || se.Code == http.StatusServiceUnavailable
}

// attempt sends req once, on its own context so that a stalled body can be
// aborted, with a fresh body from GetBody for attempts after the first.
func (c *Client) attempt(op string, req *http.Request, attempt int) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	r := req.WithContext(ctx)
	if attempt > 1 && req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			cancel()
			return nil, err
		}
		r.Body = body
	}
	resp, err := c.http.Do(r)
	if err != nil {
		cancel()
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return nil, ctxErr
		}
		var gone *boundAddressGoneError
		if errors.As(err, &gone) {
			return nil, gone // not a network fault: not retried (pindial.go)
		}
		kind := remote.ErrUnavailable
		if retry.IsTimeout(err) {
			kind = remote.ErrTimeout
		}
		return nil, &retry.NetError{Err: fmt.Errorf("cbrain: %s: cannot reach %s: %w: %w", op, c.base.Host, unwrapURLError(err), kind), Cause: err}
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		defer cancel()
		return resp, c.checkResponse(op, resp)
	}
	what := fmt.Sprintf("cbrain: %s: %s %s", op, req.Method, redactURL(req.URL))
	resp.Body = retry.WatchBody(resp.Body, what, resp.ContentLength, c.IdleTimeout, cancel)
	return resp, nil
}

// retryable reports a failure that a later poll may not see again.
func retryable(err error) bool {
	var se *remote.StatusError
	if errors.As(err, &se) {
		return retry.TransientStatus(se.Code)
	}
	return errors.Is(err, remote.ErrUnavailable) || errors.Is(err, remote.ErrTimeout)
}

// unwrapURLError strips net/url's "Get \"https://...\": " prefix, which
// repeats the URL the caller already prints.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// checkResponse turns a non-2xx answer into a *remote.StatusError, decoding
// every error shape the portal uses, and closes the body.
func (c *Client) checkResponse(op string, resp *http.Response) error {
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	se := &remote.StatusError{
		Op:     "cbrain: " + op,
		Method: resp.Request.Method,
		URL:    redactURL(resp.Request.URL),
		Code:   resp.StatusCode,
		Msg:    decodeErrorBody(raw),
		Kind:   remote.KindForStatus(resp.StatusCode),
	}
	switch {
	case resp.StatusCode == 401:
		se.Msg = "token rejected (expired, invalid, or used from another IP address); run `filesmount login cbrain`"
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		loc := resp.Header.Get("Location")
		se.Kind = remote.ErrInvalid
		se.Msg = "unexpected redirect to " + loc
		if strings.Contains(loc, "change_password") {
			se.Kind = remote.ErrAuth
			se.Msg = "the portal requires a password change before API use; log in with a browser first"
		}
	}
	return se
}

// decodeErrorBody extracts a message from the portal's error shapes:
// {"error":"..."}, {"notice":"..."}, {"message":"..."}, validation maps
// {"name":["...",...]}, a bare JSON string, or anything else as text.
func decodeErrorBody(raw []byte) string {
	text := strings.TrimSpace(string(raw))
	if text == "" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.TrimSpace(s)
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) == nil {
		for _, key := range []string{"error", "notice", "message"} {
			if v, ok := obj[key]; ok {
				if json.Unmarshal(v, &s) == nil {
					return strings.TrimSpace(s)
				}
			}
		}
		keys := make([]string, 0, len(obj))
		for key := range obj {
			keys = append(keys, key)
		}
		sort.Strings(keys) // one message for one answer
		var parts []string
		for _, key := range keys {
			var msgs []string
			if json.Unmarshal(obj[key], &msgs) == nil {
				parts = append(parts, key+" "+strings.Join(msgs, "; "))
			}
		}
		if len(parts) > 0 {
			return strings.Join(parts, "; ")
		}
	}
	if strings.HasPrefix(text, "<") {
		return "(HTML page)"
	}
	if len(text) > 300 {
		text = text[:300] + "..."
	}
	return text
}

// redactURL prints a URL without credentials or a cbrain_api_token query.
func redactURL(u *url.URL) string {
	c := *u
	c.User = nil
	q := c.Query()
	if q.Has("cbrain_api_token") {
		q.Set("cbrain_api_token", "REDACTED")
		c.RawQuery = q.Encode()
	}
	return c.String()
}

// getJSON GETs path and decodes the JSON answer into out. An answer whose
// body breaks is retried like a failed request (see do).
func (c *Client) getJSON(ctx context.Context, op, path string, query url.Values, out any) error {
	req, err := c.newRequest(ctx, http.MethodGet, path, query, nil)
	if err != nil {
		return err
	}
	return c.Retry.Do(ctx, func(attempt int) (time.Duration, bool, error) {
		resp, err := c.attempt(op, req, attempt)
		if err != nil {
			return retry.Classify(resp, err, nil)
		}
		defer resp.Body.Close()
		err = decodeJSON(op, resp, out)
		return 0, brokenBody(err), err
	})
}

// brokenBody reports a body that failed in transit (reset, stalled,
// short), which another request may get whole. A 200 {"error": ...} is
// an answer, not a fault.
func brokenBody(err error) bool {
	var se *remote.StatusError
	if err == nil || errors.As(err, &se) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	return errors.Is(err, remote.ErrUnavailable) || errors.Is(err, remote.ErrTimeout) || errors.Is(err, io.ErrUnexpectedEOF)
}

// sendJSON sends a JSON body and decodes the JSON answer into out (if not
// nil). idempotent says whether the request may be retried (see do).
func (c *Client) sendJSON(ctx context.Context, op, method, path string, idempotent bool, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := c.newRequest(ctx, method, path, nil, strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	send := c.doUnlessProcessed
	if idempotent {
		send = c.do
	}
	resp, err := send(op, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	return decodeJSON(op, resp, out)
}

// decodeJSON decodes a 2xx body. The portal reports some failures (quota,
// inaccessible provider, download refusals) as HTTP 200 with an "error"
// key, so that shape is checked first.
func decodeJSON(op string, resp *http.Response, out any) error {
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return fmt.Errorf("cbrain: %s: reading answer: %w: %w", op, err, remote.ErrUnavailable)
	}
	if msg, ok := errorIn200(raw); ok {
		return &remote.StatusError{Op: "cbrain: " + op, Method: resp.Request.Method, URL: redactURL(resp.Request.URL),
			Code: resp.StatusCode, Msg: msg, Kind: classifyNotice(msg)}
	}
	if err := json.Unmarshal(raw, out); err != nil {
		// Not the body itself: a session answer carries the token.
		return fmt.Errorf("cbrain: %s: unexpected answer (%d bytes, not the JSON expected): %w", op, len(raw), err)
	}
	return nil
}

// errorIn200 reports whether a 2xx body is the portal's {"error": "..."}.
func errorIn200(raw []byte) (string, bool) {
	if len(raw) == 0 || raw[0] != '{' {
		return "", false
	}
	var e struct {
		Error *string `json:"error"`
	}
	if json.Unmarshal(raw, &e) != nil || e.Error == nil {
		return "", false
	}
	return *e.Error, true
}

func classifyNotice(msg string) error {
	switch lower := strings.ToLower(msg); {
	case strings.Contains(lower, "quota"):
		return remote.ErrQuota
	case strings.Contains(lower, "not accessible"):
		return remote.ErrPermission
	case strings.Contains(lower, "not yet determined"):
		return remote.ErrUnavailable
	}
	return remote.ErrInvalid
}
