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
}

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
	c := &Client{base: u, ua: cfg.UserAgent, jar: jar, upload: cfg.Upload.withDefaults()}
	c.SetCookies(cfg.Cookies)
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.DialContext = (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	transport.ResponseHeaderTimeout = 2 * time.Minute
	transport.MaxIdleConnsPerHost = 16
	c.api = &http.Client{Transport: transport, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	c.storage = &http.Client{Transport: transport,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("too many redirects")
			}
			req.Header.Del("Cookie")
			return nil
		}}
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

// do sends req and returns a 2xx or 3xx response; other statuses become a
// *remote.StatusError. GETs are retried with backoff on network errors,
// 429 and 5xx; other methods are never retried here.
func (c *Client) do(op string, hc *http.Client, req *http.Request) (*http.Response, error) {
	attempts := 1
	if req.Method == http.MethodGet {
		attempts = 4
	}
	delay := 300 * time.Millisecond
	for i := 1; ; i++ {
		resp, err := hc.Do(req)
		if err == nil && resp.StatusCode < 400 {
			return resp, nil
		}
		if err != nil {
			if ctxErr := req.Context().Err(); ctxErr != nil {
				return nil, ctxErr
			}
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			err = fmt.Errorf("vrchat: %s: cannot reach %s: %w: %w", op, req.URL.Host, err, remote.ErrUnavailable)
		} else {
			err = checkResponse(op, resp)
		}
		if i >= attempts || !retryable(err) {
			return nil, err
		}
		select {
		case <-req.Context().Done():
			return nil, req.Context().Err()
		case <-time.After(delay):
		}
		delay *= 3
	}
}

func retryable(err error) bool {
	var se *remote.StatusError
	if errors.As(err, &se) {
		return se.Code == 429 || (se.Code >= 500 && !errors.Is(se, remote.ErrConflict))
	}
	return errors.Is(err, remote.ErrUnavailable)
}

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
		se.Msg = strings.TrimSpace(msg + "; the session cookie has expired or was revoked: run `filesmount login vrchat`")
	case resp.StatusCode == 403 && waf:
		se.Msg = "refused by VRChat's firewall (User-Agent not accepted): " + msg
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

func (c *Client) getJSON(ctx context.Context, op, path string, query url.Values, out any) error {
	req, err := c.newRequest(ctx, http.MethodGet, path, query, nil)
	if err != nil {
		return err
	}
	resp, err := c.do(op, c.api, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return decodeJSON(op, resp, out)
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
		return fmt.Errorf("vrchat: %s: unexpected answer (%.80q): %w", op, raw, err)
	}
	return nil
}
