package vrchattest

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

const (
	wafBody           = `{"error":{"message":"\"please identify yourself with a properly formatted user-agent containing application name, version and contact information. thank you!\"","status_code":403,"waf_code":13799}}`
	missingCredsBody  = `{"error":{"message":"\"Missing Credentials\"","status_code":401}}`
	invalidLoginBody  = `{"error":{"message":"\"Invalid Username/Email or Password\"","status_code":401}}`
	unknownRouteBody  = `{"error":"The endpoint you're looking for is not implemented by our system.","status_code":404}`
	requires2FABody   = `{"error":{"message":"\"Requires Two-Factor Authentication\"","status_code":401}}`
	totpChallenge     = `{"requiresTwoFactorAuth":["totp","otp"]}`
	emailOtpChallenge = `{"requiresTwoFactorAuth":["emailOtp"]}`
)

func TestUserAgent(t *testing.T) {
	s := newServer(t)
	for _, ua := range []string{"", "Go-http-client/1.1", "curl/8.5.0", "filesmount/1.0", "TimmyFriendTracker/1.5.1 timmy@example.com", "/1.0 me@lab.org", "filesmount/ me@lab.org"} {
		opt := header("User-Agent", ua)
		if ua == "" {
			opt = noUA()
		}
		resp, b := do(t, "GET", s.URL()+"/files", nil, opt)
		mustBody(t, resp, b, 403, wafBody)
		if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Errorf("Content-Type %q", ct)
		}
	}
	// The WAF also guards unknown routes.
	resp, b := do(t, "GET", s.URL()+"/nope", nil, noUA())
	mustBody(t, resp, b, 403, wafBody)

	for _, ua := range []string{"filesmount/1.0 me@lab.org", "VRCAPIApp/1.5.1 (contact@lab.org)"} {
		resp, b := do(t, "GET", s.URL()+"/files", nil, header("User-Agent", ua))
		mustBody(t, resp, b, 401, missingCredsBody)
	}
	resp, b = do(t, "GET", s.URL()+"/nope", nil)
	mustBody(t, resp, b, 404, unknownRouteBody)
	resp, b = do(t, "PATCH", s.URL()+"/files", nil)
	mustBody(t, resp, b, 404, unknownRouteBody)
	resp, b = do(t, "GET", strings.TrimSuffix(s.URL(), "/api/1")+"/other", nil)
	mustBody(t, resp, b, 404, unknownRouteBody)
}

var authCookieRe = regexp.MustCompile(`^auth=authcookie_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}; Expires=[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT; Path=/; HttpOnly$`)

func cookieValue(t *testing.T, resp *http.Response, name string) string {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c.Value
		}
	}
	t.Fatalf("no %s cookie in %q", name, resp.Header.Values("Set-Cookie"))
	return ""
}

func TestBasicLoginURLEncoded(t *testing.T) {
	s := newServer(t)
	const user, pass = "Al ice+1", "p:a%ss w+rd/é"
	uid := s.AddUser(user, pass)

	resp, b := do(t, "GET", s.URL()+"/auth/user", nil, basic(user, pass))
	mustStatus(t, resp, b, 200)
	if sc := resp.Header.Get("Set-Cookie"); !authCookieRe.MatchString(sc) {
		t.Fatalf("Set-Cookie %q", sc)
	}
	cu := decode[map[string]any](t, b)
	if cu["id"] != uid || cu["username"] != user || cu["displayName"] != user || !strings.HasPrefix(uid, "usr_") {
		t.Fatalf("CurrentUser %s", b)
	}
	auth := cookieValue(t, resp, "auth")
	resp, b = do(t, "GET", s.URL()+"/files", nil, cookies(auth, ""))
	mustBody(t, resp, b, 200, "[]")
	resp, b = do(t, "GET", s.URL()+"/auth/user", nil, cookies(auth, ""))
	mustStatus(t, resp, b, 200)
	if decode[map[string]any](t, b)["id"] != uid {
		t.Fatalf("GET /auth/user with cookie: %s", b)
	}
	resp, b = do(t, "GET", s.URL()+"/auth", nil, cookies(auth, ""))
	mustBody(t, resp, b, 200, `{"ok":true,"token":"`+auth+`"}`)

	// Wrong password; unencoded '%' (invalid escape); no credentials.
	resp, b = do(t, "GET", s.URL()+"/auth/user", nil, basic(user, "nope"))
	mustBody(t, resp, b, 401, invalidLoginBody)
	resp, b = do(t, "GET", s.URL()+"/auth/user", nil, header("Authorization", "Basic "+b64("Al%20ice%2B1:p%3Aa%ss")))
	mustBody(t, resp, b, 401, invalidLoginBody)
	resp, b = do(t, "GET", s.URL()+"/auth/user", nil)
	mustBody(t, resp, b, 401, missingCredsBody)
	resp, b = do(t, "GET", s.URL()+"/auth/user", nil, cookies("authcookie_bogus", ""))
	mustBody(t, resp, b, 401, missingCredsBody)
	if n := s.Logins(uid); n != 1 {
		t.Fatalf("Logins = %d, want 1", n)
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// wrongCodeAnswers are the plausible answers to a wrong 2FA code.
var wrongCodeAnswers = []int{WrongCode400, WrongCode401, WrongCodeNotVerified}

func mustWrongCode(t *testing.T, answer int, resp *http.Response, b []byte) {
	t.Helper()
	if answer == WrongCodeNotVerified {
		mustBody(t, resp, b, 200, `{"verified":false}`)
		return
	}
	mustBody(t, resp, b, answer, fmt.Sprintf(`{"error":{"message":"Invalid 2FA code","status_code":%d}}`, answer))
}

func TestTwoFactor(t *testing.T) {
	for _, answer := range wrongCodeAnswers {
		t.Run(fmt.Sprint(answer), func(t *testing.T) { testTwoFactor(t, answer) })
	}
}

func testTwoFactor(t *testing.T, answer int) {
	s := newServer(t, func(o *Options) { o.WrongCodeAnswer = answer })
	for _, method := range []string{"totp", "otp", "emailotp"} {
		t.Run(method, func(t *testing.T) {
			kind, challenge := "totp", totpChallenge
			if method == "emailotp" {
				kind, challenge = "emailOtp", emailOtpChallenge
			}
			name := "user-" + method
			uid := s.AddUser(name, "pw", kind)
			totp, recovery, email := s.TwoFactorCodes(uid)
			code := map[string]string{"totp": totp, "otp": recovery, "emailotp": email}[method]

			resp, b := do(t, "GET", s.URL()+"/auth/user", nil, basic(name, "pw"))
			mustBody(t, resp, b, 200, challenge)
			if method != "emailotp" && len(b) != 40 {
				t.Fatalf("challenge is %d bytes, want 40", len(b))
			}
			auth := cookieValue(t, resp, "auth")
			// Pending: /file* refused, /auth/user repeats the challenge.
			resp, b = do(t, "GET", s.URL()+"/files", nil, cookies(auth, ""))
			mustBody(t, resp, b, 401, requires2FABody)
			resp, b = do(t, "GET", s.URL()+"/auth/user", nil, cookies(auth, ""))
			mustBody(t, resp, b, 200, challenge)
			// Verify without a cookie, with a wrong code, then right.
			verify := s.URL() + "/auth/twofactorauth/" + method + "/verify"
			resp, b = do(t, "POST", verify, jsonBody(`{"code":"`+code+`"}`))
			mustBody(t, resp, b, 401, missingCredsBody)
			resp, b = do(t, "POST", verify, jsonBody(`{"code":"000000x"}`), cookies(auth, ""))
			mustWrongCode(t, answer, resp, b)
			resp, b = do(t, "POST", verify, jsonBody(`{"code":"`+code+`"}`), cookies(auth, ""))
			mustBody(t, resp, b, 200, `{"verified":true}`)
			tfa := cookieValue(t, resp, "twoFactorAuth")
			resp, b = do(t, "GET", s.URL()+"/files", nil, cookies(auth, tfa))
			mustBody(t, resp, b, 200, "[]")
			resp, b = do(t, "GET", s.URL()+"/auth/user", nil, cookies(auth, tfa))
			mustStatus(t, resp, b, 200)
			if decode[map[string]any](t, b)["id"] != uid {
				t.Fatalf("after 2FA: %s", b)
			}
			if method == "otp" { // a recovery code works once
				resp, b := do(t, "GET", s.URL()+"/auth/user", nil, basic(name, "pw"))
				mustBody(t, resp, b, 200, challenge)
				resp, b = do(t, "POST", verify, jsonBody(`{"code":"`+code+`"}`), cookies(cookieValue(t, resp, "auth"), ""))
				mustWrongCode(t, answer, resp, b)
			}
			// A remembered device skips 2FA on the next Basic login.
			resp, b = do(t, "GET", s.URL()+"/auth/user", nil, basic(name, "pw"), cookies("x", tfa))
			mustStatus(t, resp, b, 200)
			if decode[map[string]any](t, b)["id"] != uid {
				t.Fatalf("remembered device: %s", b)
			}
		})
	}
	// The wrong verify endpoint for the user's method does not verify.
	uid := s.AddUser("mail-only", "pw", "emailOtp")
	totp, _, _ := s.TwoFactorCodes(uid)
	resp, _ := do(t, "GET", s.URL()+"/auth/user", nil, basic("mail-only", "pw"))
	resp, b := do(t, "POST", s.URL()+"/auth/twofactorauth/totp/verify", jsonBody(`{"code":"`+totp+`"}`), cookies(cookieValue(t, resp, "auth"), ""))
	mustWrongCode(t, answer, resp, b)
}

func TestSessionsLimitLogoutExpire(t *testing.T) {
	s := newServer(t, func(o *Options) { o.MaxLogins = 3 })
	uid := s.AddUser("bob", "pw")
	var auth string
	for i := 0; i < 3; i++ {
		resp, b := do(t, "GET", s.URL()+"/auth/user", nil, basic("bob", "pw"))
		mustStatus(t, resp, b, 200)
		auth = cookieValue(t, resp, "auth")
	}
	resp, b := do(t, "GET", s.URL()+"/auth/user", nil, basic("bob", "pw"))
	mustBody(t, resp, b, 429, `{"error":{"message":"Created too many sessions for that user","status_code":429}}`)
	if s.Logins(uid) != 4 {
		t.Fatalf("Logins = %d", s.Logins(uid))
	}
	// Cookies still work.
	resp, b = do(t, "GET", s.URL()+"/files", nil, cookies(auth, ""))
	mustStatus(t, resp, b, 200)

	resp, b = do(t, "PUT", s.URL()+"/logout", nil, cookies(auth, ""))
	mustBody(t, resp, b, 200, `{"success":{"message":"Ok!","status_code":200}}`)
	if len(resp.Header.Values("Set-Cookie")) != 2 {
		t.Fatalf("logout Set-Cookie %q", resp.Header.Values("Set-Cookie"))
	}
	resp, b = do(t, "GET", s.URL()+"/files", nil, cookies(auth, ""))
	mustBody(t, resp, b, 401, missingCredsBody)

	a, tfa := s.NewSession(uid)
	resp, b = do(t, "GET", s.URL()+"/files", nil, cookies(a, tfa))
	mustStatus(t, resp, b, 200)
	s.ExpireSessions(uid)
	resp, b = do(t, "GET", s.URL()+"/files", nil, cookies(a, tfa))
	mustBody(t, resp, b, 401, missingCredsBody)
}

func TestRateLimited(t *testing.T) {
	s := newServer(t)
	_, auth := loggedIn(t, s)
	s.SetRateLimited(true)
	resp, b := do(t, "GET", s.URL()+"/files", nil, auth)
	mustStatus(t, resp, b, 429)
	if decode[map[string]map[string]any](t, b)["error"]["status_code"] != float64(429) {
		t.Fatalf("429 body %s", b)
	}
	s.SetRateLimited(false)
	resp, b = do(t, "GET", s.URL()+"/files", nil, auth)
	mustStatus(t, resp, b, 200)
}

// A Basic login that carries a valid auth cookie makes no new session:
// "If you are have a valid auth cookie then no additional auth-related
// actions are taken" (spec paths/authentication.yaml).
func TestBasicLoginWithValidAuthCookieMakesNoSession(t *testing.T) {
	s := newServer(t)
	uid := s.AddUser("carol", "pw")
	resp, b := do(t, "GET", s.URL()+"/auth/user", nil, basic("carol", "pw"))
	mustStatus(t, resp, b, 200)
	auth := cookieValue(t, resp, "auth")
	resp, b = do(t, "GET", s.URL()+"/auth/user", nil, basic("carol", "pw"), cookies(auth, ""))
	mustStatus(t, resp, b, 200)
	if decode[map[string]any](t, b)["id"] != uid {
		t.Fatalf("answer %s", b)
	}
	if v := resp.Header.Values("Set-Cookie"); len(v) != 0 {
		t.Errorf("a new session was made: Set-Cookie %q", v)
	}
	if n := s.Logins(uid); n != 1 {
		t.Errorf("%d logins counted, want 1", n)
	}
}

// The twoFactorAuth cookie outlives a logout: the recorded Basic login
// after a logout sends it and gets the user without 2FA
// (specification-test getcurrentuser-after-logout-to-log-back-in.md).
func TestTwoFactorCookieSurvivesLogout(t *testing.T) {
	s := newServer(t)
	uid := s.AddUser("dave", "pw", "totp")
	auth, tfa := s.NewSession(uid)
	resp, b := do(t, "PUT", s.URL()+"/logout", nil, cookies(auth, tfa))
	mustStatus(t, resp, b, 200)
	resp, b = do(t, "GET", s.URL()+"/auth/user", nil, basic("dave", "pw"), cookies("", tfa))
	mustStatus(t, resp, b, 200)
	if decode[map[string]any](t, b)["id"] != uid {
		t.Fatalf("log back in after logout: %s", b)
	}
}
