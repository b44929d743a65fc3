package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/filesmount/filesmount/remote/vrchat"
	"github.com/filesmount/filesmount/remote/vrchat/vrchattest"
)

// `filesmount login vrchat` under each plausible answer to a wrong code:
// a wrong code is reported and asked for again, up to 3 times, then exit
// 1 with nothing saved; a remembered device (the saved twoFactorAuth
// cookie) skips the second factor on the next login.
func TestVRChatLoginCodesAndRememberedDevice(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	for _, answer := range []int{vrchattest.WrongCode400, vrchattest.WrongCode401, vrchattest.WrongCodeNotVerified} {
		t.Run(fmt.Sprint(answer), func(t *testing.T) {
			srv, err := vrchattest.New(vrchattest.Options{DataDir: t.TempDir(), WrongCodeAnswer: answer})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			user := srv.AddUser("creator", "pw", "totp", "otp")
			totp, _, _ := srv.TwoFactorCodes(user)
			dir := t.TempDir()
			login := func(session, stdin string) (string, int) {
				return runCLI(t, bin, nil, stdin, "login", "vrchat", "--url", srv.URL(), "--user", "creator", "--session-file", session)
			}

			// Two wrong codes, then the right one.
			session := filepath.Join(dir, "vrchat-session.json")
			out, code := login(session, "pw\n000000\n111111\n"+totp+"\n")
			if code != 0 || strings.Count(out, "not accepted") != 2 || !strings.Contains(out, "1 of 3 tries left") {
				t.Fatalf("two wrong codes, then the right one: exit %d\n%s", code, out)
			}
			raw, _ := os.ReadFile(session)
			var sf vrchat.SessionFile
			if json.Unmarshal(raw, &sf) != nil || sf.Cookies.TwoFactorAuth == "" {
				t.Fatalf("session file %q", raw)
			}

			// The remembered device skips 2FA: no code is asked for.
			logins := srv.Logins(user)
			out, code = login(session, "pw\n")
			if code != 0 || strings.Contains(out, "code") {
				t.Fatalf("login from the remembered device: exit %d\n%s", code, out)
			}
			if srv.Logins(user) != logins+1 {
				t.Errorf("%d logins, want 1", srv.Logins(user)-logins)
			}
			raw, _ = os.ReadFile(session)
			var sf2 vrchat.SessionFile
			if json.Unmarshal(raw, &sf2) != nil || sf2.Cookies.Auth == "" || sf2.Cookies.Auth == sf.Cookies.Auth || sf2.Cookies.TwoFactorAuth != sf.Cookies.TwoFactorAuth {
				t.Errorf("after the remembered login the session file holds %q", raw)
			}
			// Not sent to another host: a session file for another URL is
			// not used, so 2FA is asked for (and fails here for lack of a code).
			other := filepath.Join(dir, "other.json")
			sf2.URL = "https://api.example.net/api/1"
			raw, _ = json.Marshal(sf2)
			os.WriteFile(other, raw, 0o600)
			if out, code = login(other, "pw\n"); code == 0 || !strings.Contains(out, "Two-factor code") {
				t.Errorf("a foreign session file's device was used: exit %d\n%s", code, out)
			}

			// Three wrong codes: exit 1, nothing saved.
			fresh := filepath.Join(dir, "fresh.json")
			out, code = login(fresh, "pw\n000000\n111111\n222222\n"+totp+"\n")
			if code != 1 || !strings.Contains(out, "3 codes were not accepted; nothing was saved") {
				t.Errorf("three wrong codes: exit %d\n%s", code, out)
			}
			if _, err := os.Stat(fresh); !os.IsNotExist(err) {
				t.Errorf("a session was saved after three wrong codes: %v", err)
			}
		})
	}
}
