package vrchat

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/filesmount/filesmount/remote"
)

// CurrentUser checks the session (GET /auth/user with the cookies). A
// session whose second factor is still pending is reported as ErrAuth.
func (c *Client) CurrentUser(ctx context.Context) (*CurrentUser, error) {
	var u CurrentUser
	if err := c.getJSON(ctx, "check session", "/auth/user", nil, &u); err != nil {
		return nil, err
	}
	if len(u.RequiresTwoFactorAuth) > 0 || u.ID == "" {
		return nil, fmt.Errorf("vrchat: the session has not completed two-factor authentication; run `filesmount login vrchat`: %w", remote.ErrAuth)
	}
	return &u, nil
}

// Login starts a session with a username and password (HTTP Basic, each
// part URL-encoded before joining, as VRChat requires). It returns the
// second-factor methods VRChat asks for, if any; the session cookies are
// kept in c either way. Each call creates a new session on VRChat, which
// rate-limits them: call it only on the user's request.
func (c *Client) Login(ctx context.Context, username, password string) (twoFactor []string, err error) {
	req, err := c.newRequest(ctx, http.MethodGet, "/auth/user", nil, nil)
	if err != nil {
		return nil, err
	}
	creds := encodeURIComponent(username) + ":" + encodeURIComponent(password)
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(creds)))
	resp, err := c.doOnce("log in", c.api, req)
	if err != nil {
		var se *remote.StatusError
		if asStatus(err, &se) && se.Code == http.StatusUnauthorized {
			se.Msg = "login refused: " + strings.TrimSuffix(se.Msg, "; the session cookie has expired or was revoked: run `filesmount login vrchat`")
		}
		return nil, err
	}
	defer resp.Body.Close()
	var u CurrentUser
	if err := decodeJSON("log in", resp, &u); err != nil {
		return nil, err
	}
	return u.RequiresTwoFactorAuth, nil
}

// ErrWrongCode is what Verify2FA returns (wrapped) when VRChat does not
// accept a code: the caller may ask for another one. It wraps
// remote.ErrAuth.
var ErrWrongCode = fmt.Errorf("the code was not accepted (wrong, expired or already used): %w", remote.ErrAuth)

// Verify2FA sends a second-factor code. method is "totp" (authenticator
// app), "otp" (recovery code) or "emailOtp" (code sent by e-mail).
//
// How VRChat answers a wrong code was never recorded: the spec documents
// only 200 Verify2FAResult ({"verified":bool}) and 401 Missing
// Credentials (paths/authentication.yaml). So each plausible answer is
// taken for a wrong code (ErrWrongCode): 200 {"verified":false}, 400, and
// a 401 that does not say the session itself is missing.
func (c *Client) Verify2FA(ctx context.Context, method, code string) error {
	path := map[string]string{"totp": "totp", "otp": "otp", "emailOtp": "emailotp"}[method]
	if path == "" {
		return fmt.Errorf("vrchat: unknown two-factor method %q", method)
	}
	body, _ := json.Marshal(map[string]string{"code": code})
	req, err := c.newRequest(ctx, http.MethodPost, "/auth/twofactorauth/"+path+"/verify", nil, strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	resp, err := c.doOnce("verify code", c.api, req)
	if err != nil {
		var se *remote.StatusError
		if asStatus(err, &se) && wrongCodeStatus(se) {
			return fmt.Errorf("vrchat: %s code refused (HTTP %d: %s): %w", method, se.Code, firstClause(se.Msg), ErrWrongCode)
		}
		return err
	}
	defer resp.Body.Close()
	var v struct {
		Verified bool `json:"verified"`
	}
	if err := decodeJSON("verify code", resp, &v); err != nil {
		return err
	}
	if !v.Verified {
		return fmt.Errorf("vrchat: %s code refused (\"verified\": false): %w", method, ErrWrongCode)
	}
	return nil
}

// wrongCodeStatus says whether an error answer to a verification is a
// refused code: 400, or 401 unless it says the credentials (the session
// cookie) are missing, which no other code can mend.
func wrongCodeStatus(se *remote.StatusError) bool {
	switch se.Code {
	case http.StatusBadRequest:
		return true
	case http.StatusUnauthorized:
		return !strings.Contains(se.Msg, "Missing Credentials")
	}
	return false
}

// firstClause drops the advice the client adds to 401 messages (about
// expired sessions), which does not apply to a refused code.
func firstClause(msg string) string {
	m, _, _ := strings.Cut(msg, "; ")
	return m
}

// SessionFile is what `filesmount login vrchat` stores (mode 0600).
type SessionFile struct {
	URL      string  `json:"url"`
	UserID   string  `json:"userId"`
	Username string  `json:"username"`
	Cookies  Cookies `json:"cookies"`
}

func asStatus(err error, se **remote.StatusError) bool { return errors.As(err, se) }

// encodeURIComponent escapes like JavaScript's function of that name, which
// is what VRChat's own clients apply to each Basic credential: a space is
// %20, not "+".
func encodeURIComponent(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}
