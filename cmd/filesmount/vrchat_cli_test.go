package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/filesmount/filesmount/remote/vrchat"
	"github.com/filesmount/filesmount/remote/vrchat/vrchattest"
)

func TestVRChatLoginAndExpiredSession(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	srv, err := vrchattest.New(vrchattest.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	user := srv.AddUser("creator", "se cret:pw", "totp", "otp")
	totp, _, _ := srv.TwoFactorCodes(user)
	session := filepath.Join(t.TempDir(), "conf", "vrchat-session.json")

	out, code := runCLI(t, bin, nil, "se cret:pw\n"+totp+"\n",
		"login", "vrchat", "--url", srv.URL(), "--user", "creator", "--session-file", session)
	if code != 0 {
		t.Fatalf("login: exit %d\n%s", code, out)
	}
	if strings.Contains(out, "se cret:pw") {
		t.Error("the password is echoed")
	}
	fi, err := os.Stat(session)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("session file: %v, mode %v", err, fi.Mode())
	}
	raw, _ := os.ReadFile(session)
	var sf vrchat.SessionFile
	if err := json.Unmarshal(raw, &sf); err != nil || sf.Cookies.Auth == "" || sf.Cookies.TwoFactorAuth == "" {
		t.Fatalf("session file %q: %v", raw, err)
	}
	if strings.Contains(out, sf.Cookies.Auth) {
		t.Error("the auth cookie appears in the output")
	}
	logins := srv.Logins(user)

	// An expired session stops the daemon at start-up with one line, and
	// the daemon does not log in again by itself.
	srv.ExpireSessions(user)
	out, code = runCLI(t, bin, nil, "", "--vrchat", "--vrchat-session-file", session, t.TempDir())
	if code == 0 || strings.Count(strings.TrimSpace(out), "\n") != 0 || !strings.Contains(out, "filesmount login vrchat") {
		t.Errorf("expired session: exit %d, output %q", code, out)
	}
	if strings.Contains(out, sf.Cookies.Auth) {
		t.Error("the cookie appears in the output")
	}
	if srv.Logins(user) != logins {
		t.Error("the daemon logged in by itself")
	}

	// A wrong code fails the login.
	out, code = runCLI(t, bin, nil, "se cret:pw\n000000\n",
		"login", "vrchat", "--url", srv.URL(), "--user", "creator", "--session-file", filepath.Join(t.TempDir(), "s.json"))
	if code == 0 || !strings.Contains(out, "not accepted") {
		t.Errorf("wrong code: exit %d, %q", code, out)
	}
}
