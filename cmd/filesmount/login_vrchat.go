package main

import (
	"bufio"
	"context"
	"encoding/json"
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

// secondFactor asks for the code VRChat wants: an e-mailed code, or an
// authenticator (TOTP) code, where a recovery code is also accepted.
func secondFactor(ctx context.Context, c *vrchat.Client, in *bufio.Reader, methods []string) error {
	if slices.Contains(methods, "emailOtp") && !slices.Contains(methods, "totp") {
		code, err := readLine(in, "Code e-mailed to you by VRChat: ")
		if err != nil {
			return err
		}
		return c.Verify2FA(ctx, "emailOtp", code)
	}
	code, err := readLine(in, "Two-factor code from your authenticator app (or a recovery code): ")
	if err != nil {
		return err
	}
	if sixDigits.MatchString(code) || !slices.Contains(methods, "otp") {
		return c.Verify2FA(ctx, "totp", code)
	}
	return c.Verify2FA(ctx, "otp", code)
}
