package cbrain

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/filesmount/filesmount/remote"
)

// Login exchanges a login and password for an API token (POST /session).
// Only the two fields are sent: the portal bans the client's IP address
// when /session receives three or more unexpected parameters.
func Login(ctx context.Context, portalURL, login, password string, hc *http.Client) (*Session, error) {
	c, err := NewClient(Config{URL: portalURL, HTTPClient: hc})
	if err != nil {
		return nil, err
	}
	form := url.Values{"login": {login}, "password": {password}}
	req, err := c.newRequest(ctx, http.MethodPost, "/session", nil, strings.NewReader(form.Encode()))
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
	return &s, nil
}

// TokenFile is what `filesmount login cbrain` stores (mode 0600).
type TokenFile struct {
	URL   string `json:"url"`
	Token string `json:"cbrain_api_token"`
}
