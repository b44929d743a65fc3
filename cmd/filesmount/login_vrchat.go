package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"time"

	"github.com/spf13/pflag"

	"github.com/filesmount/filesmount/internal/secretfile"
	"github.com/filesmount/filesmount/remote/vrchat"
)

var sixDigits = regexp.MustCompile(`^[0-9]{6}$`)

// loginVRChat logs in once (Basic auth, then the second factor VRChat
// asks for) and saves the session cookies for the daemon to reuse.
func loginVRChat(args []string) error {
	f := pflag.NewFlagSet("filesmount login vrchat", pflag.ContinueOnError)
	url := f.String("url", vrchat.DefaultURL, "VRChat API URL")
	user := f.String("user", "", "username or e-mail (asked if not given)")
	contact := f.String("vrchat-contact", "", "contact sent in the User-Agent (default "+defaultContact+")")
	sessionFile := f.String("session-file", "", "where to save the session (default: <config dir>/filesmount/vrchat-session.json)")
	insecure := f.Bool("allow-insecure-http", false, "accept a plain http:// URL that is not a loopback address (the password travels unencrypted)")
	if err := parseFlags(f, args); err != nil {
		return err
	}
	if err := checkRemoteURL("login vrchat", *url, *insecure); err != nil {
		return err
	}
	path, err := vrchatSessionPath(*sessionFile)
	if err != nil {
		return err
	}
	client, err := vrchat.NewClient(vrchat.Config{URL: *url, UserAgent: userAgent(*contact)})
	if err != nil {
		return err
	}
	rememberDevice(client, path)
	in := bufio.NewReader(os.Stdin)
	name := *user
	if name == "" {
		if name, err = readLine(in, "VRChat username or e-mail: "); err != nil {
			return err
		}
	}
	password, err := readPassword(in, "VRChat password: ")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	methods, err := client.Login(ctx, name, password)
	if err != nil {
		return err
	}
	if len(methods) > 0 {
		if err := secondFactor(ctx, client, in, methods); err != nil {
			return err
		}
	}
	me, err := client.CurrentUser(ctx)
	if err != nil {
		return err
	}
	raw, _ := json.Marshal(vrchat.SessionFile{URL: client.URL(), UserID: me.ID, Username: me.Username, Cookies: client.Cookies()})
	if err := secretfile.Write(path, raw); err != nil {
		return fmt.Errorf("saving session: %w", err)
	}
	fmt.Fprintf(os.Stderr, "Logged in to VRChat as %s; session saved to %s (mode 0600).\n", me.DisplayName, path)
	return nil
}

// rememberDevice sends, with the login, the twoFactorAuth cookie of the
// session saved earlier at path, so that VRChat, which remembers the
// device by it, skips the second factor (the recorded log-back-in after a
// logout sends exactly that: specification-test
// getcurrentuser-after-logout-to-log-back-in.md). Only to the host that
// issued it; the old auth cookie is not sent (it starts no new session
// if it is still valid, and the user asked to log in). A missing,
// unreadable or foreign file is simply not used.
func rememberDevice(c *vrchat.Client, path string) {
	raw, err := secretfile.Read(path) // refuses a file others could read or replace
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(os.Stderr, "Not using the device remembered in %s: %v\n", path, err)
		}
		return
	}
	var sf vrchat.SessionFile
	if json.Unmarshal(raw, &sf) != nil || sf.Cookies.TwoFactorAuth == "" || !sameOrigin(sf.URL, c.URL()) {
		return
	}
	c.SetCookies(vrchat.Cookies{TwoFactorAuth: sf.Cookies.TwoFactorAuth})
}

// codeAttempts is how many codes a login asks for before giving up.
const codeAttempts = 3

// secondFactor asks for the code VRChat wants: an e-mailed code, or an
// authenticator (TOTP) code, where a recovery code is also accepted. A
// refused code is reported as such and asked for again, up to
// codeAttempts times.
func secondFactor(ctx context.Context, c *vrchat.Client, in *bufio.Reader, methods []string) error {
	prompt := "Two-factor code from your authenticator app (or a recovery code): "
	email := slices.Contains(methods, "emailOtp") && !slices.Contains(methods, "totp")
	if email {
		prompt = "Code e-mailed to you by VRChat: "
	}
	for attempt := 1; ; attempt++ {
		code, err := readLine(in, prompt)
		if err != nil {
			return err
		}
		method := "otp"
		switch {
		case email:
			method = "emailOtp"
		case sixDigits.MatchString(code) || !slices.Contains(methods, "otp"):
			method = "totp"
		}
		err = c.Verify2FA(ctx, method, code)
		if !errors.Is(err, vrchat.ErrWrongCode) {
			return err
		}
		if attempt == codeAttempts {
			return fmt.Errorf("login vrchat: %d codes were not accepted; nothing was saved: %w", codeAttempts, err)
		}
		fmt.Fprintf(os.Stderr, "That code was not accepted (wrong, expired or already used); try again (%d of %d tries left).\n", codeAttempts-attempt, codeAttempts)
	}
}
