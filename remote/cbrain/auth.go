package cbrain

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/url"
	"strings"

	"github.com/filesmount/filesmount/remote"
)

// Login exchanges a login and password for an API token (POST /session).
// Only the two fields are sent: the portal bans the client's IP address
// when /session receives three or more unexpected parameters.
//
// The portal binds the token to the address the login came from
// (pindial.go), so the answer records the local address the request left
// from: Session.LocalAddr, which the token file keeps for the mount.
func Login(ctx context.Context, portalURL, login, password string, hc *http.Client) (*Session, error) {
	c, err := NewClient(Config{URL: portalURL, HTTPClient: hc})
	if err != nil {
		return nil, err
	}
	form := url.Values{"login": {login}, "password": {password}}
	var local netip.Addr
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		if ap, err := netip.ParseAddrPort(info.Conn.LocalAddr().String()); err == nil {
			local = ap.Addr().Unmap() // written before Do returns, read after
		}
	}}
	req, err := c.newRequest(httptrace.WithClientTrace(ctx, trace), http.MethodPost, "/session", nil, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.doOnce("log in", req)
	if err != nil {
		if se, ok := err.(*remote.StatusError); ok && se.Code == http.StatusUnauthorized {
			se.Msg = "login refused (wrong login or password, locked account, or address not allowed)"
		}
		return nil, err
	}
	defer resp.Body.Close()
	var s Session
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil || s.Token == "" {
		return nil, fmt.Errorf("cbrain: log in: the portal's answer has no token")
	}
	s.LocalAddr = local
	return &s, nil
}

// TokenFile is what `filesmount login cbrain` stores (mode 0600).
type TokenFile struct {
	URL   string `json:"url"`
	Token string `json:"cbrain_api_token"`
	// LocalAddr is the local address the login left from, which the
	// portal bound the token to; a mount using this file leaves from it
	// too (Config.LocalAddr). Empty in files written before it existed:
	// the mount's first connection then chooses.
	LocalAddr string `json:"local_addr,omitempty"`
}

// Config is the client configuration the token file gives: URL, token,
// and the local address to leave from.
func (tf TokenFile) Config() (Config, error) {
	cfg := Config{URL: tf.URL, Token: tf.Token}
	if tf.LocalAddr != "" {
		a, err := netip.ParseAddr(tf.LocalAddr)
		if err != nil {
			return Config{}, fmt.Errorf("cbrain: the token file's local_addr %q is not an IP address: %w", tf.LocalAddr, err)
		}
		cfg.LocalAddr = a
	}
	return cfg, nil
}
