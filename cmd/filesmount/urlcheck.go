package main

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// insecureFlag is the flag that lets plain http:// reach a host other than
// this machine.
const insecureFlag = "--allow-insecure-http"

// checkRemoteURL refuses a remote base URL that would expose credentials:
// plain http:// to anything but a loopback address (tokens, cookies and
// passwords would cross the network unencrypted) unless allowInsecure,
// and user info, a query or a fragment, which would put a secret on the
// command line and are never needed in a base URL. Other problems are
// left to the clients, which say what they expect.
func checkRemoteURL(what, raw string, allowInsecure bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return nil // the client reports it
	}
	if u.User != nil {
		return fmt.Errorf("%s: the URL must not contain a user name or password (they would show on the command line and in logs); use 'filesmount login' instead", what)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return fmt.Errorf("%s: the URL %s://%s%s must not have a query or fragment: give the base URL only", what, u.Scheme, u.Host, u.Path)
	}
	if !strings.EqualFold(u.Scheme, "http") || allowInsecure || isLoopback(u.Hostname()) {
		return nil
	}
	return fmt.Errorf("%s: refusing plain http:// for %s: your credentials would be sent unencrypted over the network; "+
		"use https://, or pass %s if you really mean it (http:// is accepted without it only for loopback addresses)",
		what, u.Host, insecureFlag)
}

// isLoopback reports whether host is this machine: "localhost",
// 127.0.0.0/8 or ::1 (IPv4-mapped forms included).
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Zone() == "" && a.Unmap().IsLoopback()
}

// sameOrigin reports whether two URLs have the same scheme and host (and
// port), so that credentials issued for one may be sent to the other.
func sameOrigin(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && strings.EqualFold(ua.Scheme, ub.Scheme) && strings.EqualFold(ua.Host, ub.Host)
}
