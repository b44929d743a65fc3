package vrchattest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Auth (§1.2): Basic on GET /auth/user creates a session ("auth" cookie);
// users with 2FA must then verify, which marks the session verified and
// sets a "twoFactorAuth" cookie that lets later Basic logins of the same
// user skip 2FA (it "remembers this device", §1.1).

type user struct {
	id, username, displayName, password string
	twoFactor                           []string // e.g. ["totp","otp"], ["emailOtp"]; nil: no 2FA
	totp, recovery, email               string   // accepted codes
	recoveryUsed                        bool
	logins                              int // Basic logins with the right password
	created                             time.Time
}

type session struct {
	token    string // auth cookie value
	userID   string
	verified bool // 2FA done, or not needed
}

func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// AddUser creates a user and returns its id ("usr_<uuid>"). twoFactor
// lists the user's 2FA methods as VRChat reports them: "totp" (an
// authenticator; "otp" recovery codes come with it) or "emailOtp"; none
// means no 2FA.
func (s *Server) AddUser(username, password string, twoFactor ...string) (userID string) {
	u := &user{id: "usr_" + newUUID(), username: username, displayName: username, password: password, created: time.Now().UTC()}
	for _, m := range twoFactor {
		if m == "totp" && !contains(twoFactor, "otp") {
			u.twoFactor = append(u.twoFactor, "totp", "otp")
			continue
		}
		u.twoFactor = append(u.twoFactor, m)
	}
	h := sha256.Sum256([]byte(u.id))
	u.totp = fmt.Sprintf("%06d", binary.BigEndian.Uint32(h[0:4])%1000000)
	u.email = fmt.Sprintf("%06d", binary.BigEndian.Uint32(h[4:8])%1000000)
	u.recovery = fmt.Sprintf("%x-%x", h[8:10], h[10:12])
	s.mu.Lock()
	s.st.users[u.id] = u
	s.st.byName[strings.ToLower(username)] = u
	s.mu.Unlock()
	return u.id
}

func contains(l []string, x string) bool {
	for _, e := range l {
		if e == x {
			return true
		}
	}
	return false
}

// TwoFactorCodes returns the codes the verify endpoints accept for the
// user: an authenticator code (totp), a recovery code (otp, usable once)
// and an emailed code (emailotp). They are fixed per user.
func (s *Server) TwoFactorCodes(userID string) (totp, recovery, email string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.st.users[userID]
	if u == nil {
		return "", "", ""
	}
	return u.totp, u.recovery, u.email
}

// NewSession returns the cookies of a logged-in, 2FA-verified session of
// the user (it does not count as a login).
func (s *Server) NewSession(userID string) (authCookie, twoFactorCookie string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.users[userID] == nil {
		return "", ""
	}
	sess := &session{token: "authcookie_" + newUUID(), userID: userID, verified: true}
	s.st.sessions[sess.token] = sess
	tfa := newTwoFactorToken()
	s.st.twoFA[tfa] = userID
	return sess.token, tfa
}

func newTwoFactorToken() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ExpireSessions ends every session of the user: later requests with
// their auth cookies get 401 "Missing Credentials". twoFactorAuth cookies
// stay valid (they remember the device, not the session).
func (s *Server) ExpireSessions(userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, sess := range s.st.sessions {
		if sess.userID == userID {
			delete(s.st.sessions, k)
		}
	}
}

// Logins reports how many Basic logins with the right password the user
// did (including those refused with 429).
func (s *Server) Logins(userID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.st.users[userID]; u != nil {
		return u.logins
	}
	return 0
}

// sessionOf returns the request's session (nil if the auth cookie is
// missing or unknown) and whether it may use the API.
func (s *Server) sessionOf(r *http.Request) (*session, bool) {
	ck, err := r.Cookie("auth")
	if err != nil {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.st.sessions[ck.Value]
	if sess == nil || s.st.users[sess.userID] == nil {
		return nil, false
	}
	return sess, sess.verified
}

func setCookie(w http.ResponseWriter, name, value string, expires time.Time) {
	w.Header().Add("Set-Cookie", name+"="+value+"; Expires="+expires.UTC().Format(http.TimeFormat)+"; Path=/; HttpOnly")
}

// currentUser is a realistic subset of CurrentUser.
type currentUser struct {
	AcceptedTOSVersion             int      `json:"acceptedTOSVersion"`
	Bio                            string   `json:"bio"`
	CurrentAvatar                  string   `json:"currentAvatar"`
	CurrentAvatarImageURL          string   `json:"currentAvatarImageUrl"`
	CurrentAvatarThumbnailImageURL string   `json:"currentAvatarThumbnailImageUrl"`
	DateJoined                     string   `json:"date_joined"`
	DisplayName                    string   `json:"displayName"`
	EmailVerified                  bool     `json:"emailVerified"`
	HasEmail                       bool     `json:"hasEmail"`
	HomeLocation                   string   `json:"homeLocation"`
	ID                             string   `json:"id"`
	IsFriend                       bool     `json:"isFriend"`
	LastLogin                      string   `json:"last_login"`
	LastPlatform                   string   `json:"last_platform"`
	State                          string   `json:"state"`
	Status                         string   `json:"status"`
	StatusDescription              string   `json:"statusDescription"`
	Tags                           []string `json:"tags"`
	TwoFactorAuthEnabled           bool     `json:"twoFactorAuthEnabled"`
	Username                       string   `json:"username"`
}

func (s *Server) currentUserLocked(u *user) currentUser {
	return currentUser{
		AcceptedTOSVersion: 7, CurrentAvatar: "avtr_" + newUUIDFrom(u.id),
		DateJoined: u.created.Format("2006-01-02"), DisplayName: u.displayName, EmailVerified: true, HasEmail: true,
		ID: u.id, LastLogin: formatTime(time.Now()), LastPlatform: "standalonewindows", State: "offline",
		Status: "active", Tags: []string{"system_trust_basic"}, TwoFactorAuthEnabled: len(u.twoFactor) > 0,
		Username: u.username,
	}
}

// newUUIDFrom derives a stable UUID-shaped string from s.
func newUUIDFrom(s string) string {
	b := sha256.Sum256([]byte(s))
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// GET /auth/user (§1.2).
func (s *Server) hAuthUser(c *call) {
	if h := c.r.Header.Get("Authorization"); h != "" {
		s.basicLogin(c, h)
		return
	}
	sess, verified := s.sessionOf(c.r)
	if sess == nil {
		c.error(http.StatusUnauthorized, msgMissingCredentials)
		return
	}
	s.currentSession(c, sess, verified)
}

// currentSession answers GET /auth/user for an existing session: the
// user, or the 2FA still required.
func (s *Server) currentSession(c *call, sess *session, verified bool) {
	s.mu.Lock()
	u := s.st.users[sess.userID]
	if !verified {
		body := requires2FA(u)
		s.mu.Unlock()
		c.json(http.StatusOK, body)
		return
	}
	cu := s.currentUserLocked(u)
	s.mu.Unlock()
	c.json(http.StatusOK, cu)
}

// requires2FA is exactly {"requiresTwoFactorAuth":["totp","otp"]} (compact,
// 40 bytes) or ["emailOtp"] (§1.2).
func requires2FA(u *user) []byte {
	return marshal(map[string][]string{"requiresTwoFactorAuth": u.twoFactor})
}

// decodeBasic decodes base64(urlencode(user)+":"+urlencode(pass)). Each
// part is percent-decoded like JavaScript's decodeURIComponent ('+' stays
// '+'), matching the encodeURIComponent that VRCX and the JS SDK use
// (§1.2). [INF]: the server-side decoder is not documented.
func decodeBasic(h string) (username, password string, ok bool) {
	scheme, enc, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Basic") {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
	if err != nil {
		return "", "", false
	}
	eu, ep, found := strings.Cut(string(raw), ":")
	if !found {
		return "", "", false
	}
	u, err1 := url.PathUnescape(eu)
	p, err2 := url.PathUnescape(ep)
	if err1 != nil || err2 != nil {
		return "", "", false
	}
	return u, p, true
}

func (s *Server) basicLogin(c *call, h string) {
	// "If you are have a valid auth cookie then no additional auth-related
	// actions are taken" (spec paths/authentication.yaml, getCurrentUser):
	// the request is answered as a cookie-only GET /auth/user, and no
	// session is made, whatever the credentials.
	if sess, verified := s.sessionOf(c.r); sess != nil {
		s.currentSession(c, sess, verified)
		return
	}
	name, pass, ok := decodeBasic(h)
	s.mu.Lock()
	u := s.st.byName[strings.ToLower(name)]
	if !ok || u == nil || u.password != pass {
		s.mu.Unlock()
		c.error(http.StatusUnauthorized, msgInvalidLogin)
		return
	}
	u.logins++
	if s.opts.MaxLogins > 0 && u.logins > s.opts.MaxLogins {
		s.mu.Unlock()
		c.error(http.StatusTooManyRequests, msgTooManySessions)
		return
	}
	sess := &session{token: "authcookie_" + newUUID(), userID: u.id, verified: len(u.twoFactor) == 0}
	if ck, err := c.r.Cookie("twoFactorAuth"); err == nil && s.st.twoFA[ck.Value] == u.id {
		sess.verified = true // a remembered device
	}
	s.st.sessions[sess.token] = sess
	var body any
	if sess.verified {
		body = s.currentUserLocked(u)
	} else {
		body = requires2FA(u)
	}
	s.mu.Unlock()
	setCookie(c.w, "auth", sess.token, time.Now().AddDate(1, 0, 0))
	c.json(http.StatusOK, body)
}

// Values of Options.WrongCodeAnswer.
const (
	WrongCode400         = http.StatusBadRequest
	WrongCode401         = http.StatusUnauthorized
	WrongCodeNotVerified = http.StatusOK
)

// msgWrongCode is the message of a wrong code's error answer [INF]: not
// recorded.
const msgWrongCode = "Invalid 2FA code"

// POST /auth/twofactorauth/{totp,otp,emailotp}/verify (§1.2). A right code
// answers 200 {"verified":true} and sets twoFactorAuth (recorded,
// specification-test verify2fa.md). A wrong code (or a method the user
// does not have) was never recorded: the spec documents only 200
// Verify2FAResult and 401 Missing Credentials
// (paths/authentication.yaml), and real clients handle it as an error
// status (real-servers.md, VRChat 6). Options.WrongCodeAnswer plays each
// plausible answer: 400 (default) or 401 with the error envelope, or 200
// {"verified":false}.
func (s *Server) hVerify2FA(c *call) {
	var req struct {
		Code *string `json:"code"`
	}
	if err := json.NewDecoder(c.r.Body).Decode(&req); err != nil || req.Code == nil {
		c.error(http.StatusBadRequest, `"code" is required`) // [INF]
		return
	}
	code := strings.TrimSpace(*req.Code)
	s.mu.Lock()
	u := s.st.users[c.sess.userID]
	ok := false
	switch c.typ {
	case "totp":
		ok = contains(u.twoFactor, "totp") && code == u.totp
	case "otp":
		ok = contains(u.twoFactor, "otp") && !u.recoveryUsed && code == u.recovery
		if ok {
			u.recoveryUsed = true
		}
	case "emailotp":
		ok = contains(u.twoFactor, "emailOtp") && code == u.email
	}
	var tfa string
	if ok {
		c.sess.verified = true
		tfa = newTwoFactorToken()
		s.st.twoFA[tfa] = u.id
	}
	s.mu.Unlock()
	if !ok && s.opts.WrongCodeAnswer != WrongCodeNotVerified {
		c.error(s.opts.WrongCodeAnswer, msgWrongCode)
		return
	}
	if ok {
		setCookie(c.w, "twoFactorAuth", tfa, time.Now().AddDate(0, 0, 30))
	}
	c.json(http.StatusOK, map[string]bool{"verified": ok})
}

// GET /auth → {"ok":true,"token":"authcookie_…"} (§1.2).
func (s *Server) hAuthToken(c *call) {
	c.json(http.StatusOK, struct {
		OK    bool   `json:"ok"`
		Token string `json:"token"`
	}{true, c.sess.token})
}

// PUT /logout ends the session and clears both cookies (§1.2). The
// twoFactorAuth value stays valid on the server: the recorded Basic login
// after a logout sends it and gets the user without 2FA
// (specification-test getcurrentuser-after-logout-to-log-back-in.md).
func (s *Server) hLogout(c *call) {
	s.mu.Lock()
	delete(s.st.sessions, c.sess.token)
	s.mu.Unlock()
	past := time.Unix(0, 0)
	setCookie(c.w, "auth", "", past)
	setCookie(c.w, "twoFactorAuth", "", past)
	c.json(http.StatusOK, map[string]errBody{"success": {Message: "Ok!", StatusCode: 200}})
}
