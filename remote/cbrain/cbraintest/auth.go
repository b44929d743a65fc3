package cbraintest

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"time"
)

// tokenValidity is SESSION_API_TOKEN_VALIDITY: a token expires after one
// day without use (§1).
const tokenValidity = 24 * time.Hour

type session struct {
	token    string
	userID   int
	active   bool
	lastUsed time.Time
	ip       string // bound at login or on first use; another IP kills the token
	project  int    // current project set by POST /groups/switch (0 = none)
}

func newTokenString() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:]) // 32 lowercase hex, like a Rails session id
}

// NewToken creates a valid session token for the user, as POST /session
// would (the IP is bound on first use, like tokens made in the web UI).
func (s *Server) NewToken(userID int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newSessionLocked(userID, "")
}

func (s *Server) newSessionLocked(userID int, ip string) string {
	t := newTokenString()
	s.st.sessions[t] = &session{token: t, userID: userID, active: true, lastUsed: time.Now(), ip: ip}
	now := time.Now()
	if u := s.st.users[userID]; u != nil {
		u.lastConnected = &now
	}
	return t
}

// ExpireToken deactivates a token; later requests with it get an empty 401.
func (s *Server) ExpireToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss := s.st.sessions[token]; ss != nil {
		ss.active = false
	}
}

// extractToken is authenticated_system.rb#extract_api_token: the
// Authorization header (Bearer, or Token token="...") wins over the
// cbrain_api_token parameter.
func (c *call) extractToken() string {
	if h := strings.TrimSpace(c.r.Header.Get("Authorization")); h != "" {
		scheme, rest, _ := strings.Cut(h, " ")
		rest = strings.TrimSpace(rest)
		if strings.EqualFold(scheme, "Bearer") || strings.EqualFold(scheme, "Token") {
			if v, ok := strings.CutPrefix(rest, "token="); ok {
				v, _, _ = strings.Cut(v, ",")
				rest = strings.Trim(strings.TrimSpace(v), `"`)
			}
			if rest != "" {
				return rest
			}
		}
	}
	return c.get("cbrain_api_token")
}

// authenticate resolves the token to a user (c.uid stays 0 otherwise).
func (c *call) authenticate() {
	c.token = c.extractToken()
	if c.token == "" {
		return
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.st.sessions[c.token]
	if ss == nil || !ss.active || s.st.users[ss.userID] == nil {
		return
	}
	now := time.Now()
	if now.Sub(ss.lastUsed) > tokenValidity {
		ss.active = false
		return
	}
	// The token is bound to the client address that logged in (or, for
	// a token made in the web UI, that used it first); a request from any
	// other address deactivates it for good, and that request, like every
	// later one, gets the empty 401 (lib/session_helpers.rb,
	// cbrain_session_from_api_token: "API token has changed IP address",
	// large_info.active = false). The address compared is the connection's
	// (request_helpers.rb, cbrain_request_remote_ip: request.remote_ip),
	// so an IPv4 and an IPv6 connection from one machine differ.
	if ss.ip == "" {
		ss.ip = c.ip
	} else if ss.ip != c.ip {
		ss.active = false
		s.countTokenIPChange()
		return
	}
	ss.lastUsed = now
	c.uid = ss.userID
}

// session returns the caller's session (mu held).
func (c *call) session() *session { return c.s.st.sessions[c.token] }

// POST /session (§1).
func (s *Server) hSessionCreate(c *call) {
	// spurious_params_ban_ip: 3+ unexpected params ban the client IP.
	std := map[string]bool{"login": true, "password": true, "id": true, "utf8": true, "commit": true,
		"authenticity_token": true, "controller": true, "action": true, "cbrain_api_token": true, "format": true, "_method": true}
	extra := 0
	for _, k := range c.topLevelKeys() {
		if !std[k] {
			extra++
		}
	}
	if extra >= 3 {
		s.mu.Lock()
		s.st.banned[c.ip] = true
		s.mu.Unlock()
		c.head(http.StatusUnauthorized)
		return
	}
	if c.uid != 0 { // user_already_logged_in: same token back
		c.json(http.StatusOK, map[string]any{"user_id": c.uid, "cbrain_api_token": c.token})
		return
	}
	login, password := c.get("login"), c.get("password")
	s.mu.Lock()
	u := s.st.byLogin[login]
	if u == nil || login == "" || u.password != password {
		s.mu.Unlock()
		s.sleep(s.opts.LoginDelay) // Kernel.sleep 3 on the real server
		c.head(http.StatusUnauthorized)
		return
	}
	tok := s.newSessionLocked(u.id, c.ip)
	s.mu.Unlock()
	c.json(http.StatusOK, map[string]any{"user_id": u.id, "cbrain_api_token": tok})
}

// GET /session, GET /session_status.
func (s *Server) hSessionShow(c *call) {
	c.json(http.StatusOK, map[string]any{"user_id": c.uid, "cbrain_api_token": c.token})
}

// DELETE /session, GET /logout: head :ok.
func (s *Server) hSessionDestroy(c *call) {
	s.ExpireToken(c.token)
	c.head(http.StatusOK)
}
