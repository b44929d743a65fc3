package vrchat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"

	"github.com/filesmount/filesmount/internal/retry"
	"github.com/filesmount/filesmount/remote"
)

// DefaultURL is VRChat's API base.
const DefaultURL = "https://api.vrchat.cloud/api/1"

// Cookies are a logged-in session.
type Cookies struct {
	Auth          string `json:"auth"`
	TwoFactorAuth string `json:"twoFactorAuth,omitempty"`
}

// Config holds what NewClient needs.
type Config struct {
	URL string // API base, default DefaultURL
	// UserAgent identifies the application: "Name/Version contact".
	UserAgent string
	Cookies   Cookies
	// Upload tunes uploads (part size, polling); zero values take defaults.
	Upload UploadOptions
	// Throttle tunes the request rate and the back-off after a 429 (see
	// throttle.go); zero values take defaults.
	Throttle ThrottleOptions
}

// Client talks to the VRChat API with one session.
type Client struct {
	base *url.URL
	ua   string
	api  *http.Client // carries the cookie jar; never follows redirects
	// storage fetches download targets on other hosts: no jar, so no
	// cookie can reach them whatever the redirect says.
	storage *http.Client
	jar     *cookiejar.Jar
	upload  UploadOptions // with defaults applied
	// throttle paces every request to the API host (throttle.go).
	throttle *throttle
	// sessions is the verdict of the last session check after a refused
	// download (refused.go).
	sessions sessionCheck

	// Retry is the policy for idempotent requests (see do).
	Retry retry.Policy
	// IdleTimeout aborts a response body that delivers no byte for this
	// long (a stalled server); the read fails with remote.ErrTimeout, or
	// a download resumes (see resume.go).
	IdleTimeout time.Duration
}

// DefaultIdleTimeout is Client.IdleTimeout's default.
const DefaultIdleTimeout = 60 * time.Second

// NewClient validates cfg. It makes no request.
func NewClient(cfg Config) (*Client, error) {
	if cfg.URL == "" {
		cfg.URL = DefaultURL
	}
	u, err := url.Parse(strings.TrimRight(cfg.URL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("vrchat: invalid API URL %q", cfg.URL)
	}
	if !validUserAgent(cfg.UserAgent) {
		return nil, fmt.Errorf("vrchat: User-Agent %q must look like \"Name/Version contact\" (VRChat's firewall refuses others)", cfg.UserAgent)
	}
	jar, _ := cookiejar.New(nil)
	c := &Client{base: u, ua: cfg.UserAgent, jar: jar, upload: cfg.Upload.withDefaults(),
		throttle: newThrottle(cfg.Throttle), Retry: retry.Default(), IdleTimeout: DefaultIdleTimeout}
	c.SetCookies(cfg.Cookies)
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.DialContext = (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	transport.ResponseHeaderTimeout = 2 * time.Minute
	transport.MaxIdleConnsPerHost = 16
	// Neither client follows redirects: downloads follow them hop by hop
	// (download.go), choosing for each hop whether the cookies go along.
	noRedirects := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.api = &http.Client{Transport: transport, Jar: jar, CheckRedirect: noRedirects}
	c.storage = &http.Client{Transport: transport, CheckRedirect: noRedirects}
	return c, nil
}

// validUserAgent checks the "Name/Version contact" shape VRChat asks for.
func validUserAgent(ua string) bool {
	product, contact, ok := strings.Cut(ua, " ")
	name, version, ok2 := strings.Cut(product, "/")
	return ok && ok2 && name != "" && version != "" && strings.TrimSpace(contact) != ""
}

// SetCookies installs a session's cookies for the API host only.
func (c *Client) SetCookies(k Cookies) {
	var cs []*http.Cookie
	if k.Auth != "" {
		cs = append(cs, &http.Cookie{Name: "auth", Value: k.Auth, Path: "/"})
	}
	if k.TwoFactorAuth != "" {
		cs = append(cs, &http.Cookie{Name: "twoFactorAuth", Value: k.TwoFactorAuth, Path: "/"})
	}
	c.jar.SetCookies(c.base, cs)
}

// Cookies returns the session's current cookies.
func (c *Client) Cookies() Cookies {
	var k Cookies
	for _, ck := range c.jar.Cookies(c.base) {
		switch ck.Name {
		case "auth":
			k.Auth = ck.Value
		case "twoFactorAuth":
			k.TwoFactorAuth = ck.Value
		}
	}
	return k
}

// URL is the API base URL.
func (c *Client) URL() string { return c.base.String() }

// onAPIHost reports whether u is on the API's scheme, host and port: the
// only place the session cookies may go, and the one the throttle paces.
func (c *Client) onAPIHost(u *url.URL) bool { return sameOrigin(u, c.base) }

func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) &&
		effectivePort(a) == effectivePort(b)
}

func effectivePort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "https") {
		return "443"
	}
	return "80"
}

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
	req.Header.Set("User-Agent", c.ua)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// do sends an idempotent request: it is retried under c.Retry on network
// errors, 429 and 500/502/503/504 (not VRChat's "500 with a 409 message",
// a refusal), honouring Retry-After. It returns a 2xx or 3xx response with
// its body guarded against stalls (c.IdleTimeout) and truncation
// (Content-Length); other statuses become a *remote.StatusError. After
// retries the error is a *retry.Error saying how many attempts were made.
//
// Idempotent, so sent with do: every GET but the login; PUT .../start
// (only hands out a pre-signed URL); storage PUTs (the same bytes to the
// same key); DELETE /file/{id} (a repeat answers 404, which Rmdir takes as
// done). Sent once with doOnce: the login GET (each creates a session, and
// VRChat rate-limits them), 2FA verification (codes are single-use),
// POST /file, POST /file/{id} and POST /file/image (callers read the File
// back instead), PUT .../finish (finishUpload reads the File back), and
// DELETE /file/{id}/{n} (a repeat would delete the next version or be
// refused as "not the latest").
func (c *Client) do(op string, hc *http.Client, req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return c.doOnce(op, hc, req) // the body cannot be sent twice
	}
	var resp *http.Response
	err := c.Retry.Do(req.Context(), func(attempt int) (time.Duration, bool, error) {
		var err error
		resp, err = c.attempt(op, hc, req, attempt)
		return retry.Classify(resp, err, transientStatus)
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// doOnce sends a request that must not be repeated blindly.
func (c *Client) doOnce(op string, hc *http.Client, req *http.Request) (*http.Response, error) {
	return c.attempt(op, hc, req, 1)
}

// attempt sends req once, on its own context so that a stalled body can be
// aborted, with a fresh body from GetBody for attempts after the first.
func (c *Client) attempt(op string, hc *http.Client, req *http.Request, attempt int) (*http.Response, error) {
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
	var tk ticket
	onAPI := c.onAPIHost(req.URL)
	if onAPI {
		var err error
		if tk, err = c.throttle.wait(ctx, op); err != nil {
			cancel()
			return nil, err
		}
	}
	resp, err := hc.Do(r)
	if onAPI {
		c.throttle.settle(tk, resp, err)
	}
	if err != nil {
		cancel()
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return nil, ctxErr
		}
		cause := err
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its URL may carry a storage signature
		}
		kind := remote.ErrUnavailable
		if retry.IsTimeout(err) {
			kind = remote.ErrTimeout
		}
		return nil, &retry.NetError{Err: fmt.Errorf("vrchat: %s: cannot reach %s: %w: %w", op, req.URL.Host, err, kind), Cause: cause}
	}
	if resp.StatusCode >= 400 {
		defer cancel()
		return resp, checkResponse(op, resp)
	}
	u := *req.URL
	u.RawQuery = "" // pre-signed storage URLs carry signatures
	what := fmt.Sprintf("vrchat: %s: %s %s", op, req.Method, u.String())
	resp.Body = retry.WatchBody(resp.Body, what, resp.ContentLength, c.IdleTimeout, cancel)
	return resp, nil
}

// retryable reports a transient failure: a network error, 429, or a
// gateway/overload 5xx that is not a refusal in disguise.
// transientStatus: VRChat's "500 with a 409 message" is a refusal, not
// a server fault.
func transientStatus(se *remote.StatusError) bool { return retryable(se) }

func retryable(err error) bool {
	var se *remote.StatusError
	if errors.As(err, &se) {
		return retry.TransientStatus(se.Code) && !errors.Is(se, remote.ErrConflict)
	}
	return errors.Is(err, remote.ErrUnavailable) || errors.Is(err, remote.ErrTimeout)
}

// Texts checkResponse adds to a 401 and to the firewall's 403. A refused
// download (refused.go) takes the 401's hint off again: there, only
// GET /auth/user can say whether the session has expired.
const (
	sessionExpiredHint = "; the session cookie has expired or was revoked: run `filesmount login vrchat`"
	wafRefusal         = "refused by VRChat's firewall"
)

// checkResponse turns an error answer into a *remote.StatusError and
// closes the body.
func checkResponse(op string, resp *http.Response) error {
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	msg, waf := decodeError(raw)
	u := *resp.Request.URL
	u.RawQuery = "" // pre-signed storage URLs carry signatures
	se := &remote.StatusError{Op: "vrchat: " + op, Method: resp.Request.Method, URL: u.String(),
		Code: resp.StatusCode, Msg: msg, Kind: remote.KindForStatus(resp.StatusCode)}
	switch {
	case resp.StatusCode == 401:
		se.Msg = strings.TrimSpace(msg + sessionExpiredHint)
	case resp.StatusCode == 403 && waf:
		se.Msg = wafRefusal + " (User-Agent not accepted): " + msg
	case resp.StatusCode == 500 && strings.HasPrefix(msg, "409"):
		// Deleting a version that is not the latest: VRChat answers 500
		// with the real status inside the message.
		se.Kind = remote.ErrConflict
	}
	return se
}

// decodeError reads VRChat's error shapes: {"error":{"message":...,
// "status_code":N[,"waf_code":N]}}, where the message itself may be a
// JSON-quoted string, or the flat {"error":"...","status_code":N}. S3
// errors are XML.
func decodeError(raw []byte) (msg string, waf bool) {
	var env struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(raw, &env) == nil && len(env.Error) > 0 {
		var flat string
		if json.Unmarshal(env.Error, &flat) == nil {
			return unquote(flat), false
		}
		var obj struct {
			Message string `json:"message"`
			WAFCode int    `json:"waf_code"`
		}
		if json.Unmarshal(env.Error, &obj) == nil {
			return unquote(obj.Message), obj.WAFCode != 0
		}
	}
	text := strings.TrimSpace(string(raw))
	if strings.HasPrefix(text, "<?xml") || strings.HasPrefix(text, "<Error") {
		if i, j := strings.Index(text, "<Message>"), strings.Index(text, "</Message>"); i >= 0 && j > i {
			return text[i+len("<Message>") : j], false
		}
	}
	if len(text) > 300 {
		text = text[:300] + "..."
	}
	return text, false
}

// unquote removes the JSON quoting VRChat puts around some messages
// ("\"Missing Credentials\"").
func unquote(s string) string {
	var inner string
	if strings.HasPrefix(s, `"`) && json.Unmarshal([]byte(s), &inner) == nil {
		return inner
	}
	return s
}

// getJSON GETs path and decodes the JSON answer into out. An answer whose
// body breaks is retried like a failed request (see do).
func (c *Client) getJSON(ctx context.Context, op, path string, query url.Values, out any) error {
	req, err := c.newRequest(ctx, http.MethodGet, path, query, nil)
	if err != nil {
		return err
	}
	return c.Retry.Do(ctx, func(attempt int) (time.Duration, bool, error) {
		resp, err := c.attempt(op, c.api, req, attempt)
		if err != nil {
			return retry.Classify(resp, err, transientStatus)
		}
		defer resp.Body.Close()
		err = decodeJSON(op, resp, out)
		return 0, brokenBody(err), err
	})
}

// brokenBody reports a body that failed in transit (reset, stalled,
// short), which another request may get whole.
func brokenBody(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	return errors.Is(err, remote.ErrUnavailable) || errors.Is(err, remote.ErrTimeout) || errors.Is(err, io.ErrUnexpectedEOF)
}

func decodeJSON(op string, resp *http.Response, out any) error {
	if resp.StatusCode >= 300 {
		return fmt.Errorf("vrchat: %s: unexpected HTTP %d", op, resp.StatusCode)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("vrchat: %s: reading answer: %w: %w", op, err, remote.ErrUnavailable)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		// Not the body itself: an answer may carry a session token.
		return fmt.Errorf("vrchat: %s: unexpected answer (%d bytes, not the JSON expected): %w", op, len(raw), err)
	}
	return nil
}
