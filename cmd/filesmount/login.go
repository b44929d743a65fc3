package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/filesmount/filesmount/internal/secretfile"
	"github.com/filesmount/filesmount/remote/cbrain"
)

func runLogin(args []string) error {
	switch {
	case len(args) > 0 && args[0] == "cbrain":
		return loginCBRAIN(args[1:])
	case len(args) > 0 && args[0] == "vrchat":
		return loginVRChat(args[1:])
	}
	return usageError{"usage: filesmount login cbrain --url URL [--user LOGIN] | filesmount login vrchat [--user NAME]"}
}

func loginCBRAIN(args []string) error {
	f := pflag.NewFlagSet("filesmount login cbrain", pflag.ContinueOnError)
	url := f.String("url", "", "CBRAIN portal URL")
	user := f.String("user", "", "login name (asked if not given)")
	tokenFile := f.String("token-file", "", "where to save the token (default: <config dir>/filesmount/cbrain-token.json)")
	insecure := f.Bool("allow-insecure-http", false, "accept a plain http:// URL that is not a loopback address (the password travels unencrypted)")
	if err := parseFlags(f, args); err != nil {
		return err
	}
	if *url == "" {
		return usageError{"login cbrain: --url is required"}
	}
	if err := checkRemoteURL("login cbrain", *url, *insecure); err != nil {
		return err
	}
	path, err := cbrainTokenPath(*tokenFile)
	if err != nil {
		return err
	}
	in := bufio.NewReader(os.Stdin)
	login := *user
	if login == "" {
		if login, err = readLine(in, "CBRAIN login: "); err != nil {
			return err
		}
	}
	password, err := readPassword(in, "CBRAIN password: ")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := cbrain.Login(ctx, *url, login, password, nil)
	if err != nil {
		return err
	}
	// The portal bound the token to the address the login came from: the
	// mount must leave from it too (remote/cbrain/pindial.go).
	tf := cbrain.TokenFile{URL: *url, Token: s.Token}
	bound := ""
	if s.LocalAddr.IsValid() {
		tf.LocalAddr = s.LocalAddr.String()
		bound = fmt.Sprintf(" It is bound to this machine's address %s: mounts using it leave from that address.", tf.LocalAddr)
	}
	raw, _ := json.Marshal(tf)
	if err := secretfile.Write(path, raw); err != nil {
		return fmt.Errorf("saving token: %w", err)
	}
	fmt.Fprintf(os.Stderr, "Logged in as user %d; token saved to %s (mode 0600). It expires after a day without use.%s\n", s.UserID, path, bound)
	return nil
}

// readPassword reads a password without echo from a terminal, or a line
// from a pipe (for scripts and tests).
func readPassword(in *bufio.Reader, prompt string) (string, error) {
	fmt.Fprint(os.Stderr, prompt)
	if term.IsTerminal(int(os.Stdin.Fd())) {
		pw, err := term.ReadPassword(int(os.Stdin.Fd()))
		fmt.Fprintln(os.Stderr)
		return string(pw), err
	}
	line, err := in.ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("reading password: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func readLine(in *bufio.Reader, prompt string) (string, error) {
	fmt.Fprint(os.Stderr, prompt)
	line, err := in.ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("reading %s: %w", strings.TrimSuffix(prompt, ": "), err)
	}
	return strings.TrimSpace(line), nil
}
