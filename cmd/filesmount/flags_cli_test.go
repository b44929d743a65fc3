package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/filesmount/filesmount/remote/vrchat"
)

// countingRemote answers every request 401 and counts them: a command
// refused before any network call leaves it at zero.
func countingRemote(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// checkRefusal: exit status 2 and exactly one line, naming want, with no
// stack of a panic.
func checkRefusal(t *testing.T, what, out string, code int, want string) {
	t.Helper()
	line := strings.TrimSuffix(out, "\n")
	if code != 2 || strings.Contains(line, "\n") || !strings.HasPrefix(line, "filesmount: ") ||
		!strings.Contains(line, want) || strings.Contains(out, "goroutine") {
		t.Errorf("%q: exit %d, output %q; want exit 2 and one line naming %q", what, code, out, want)
	}
}

// TestBadFlagsAreOneLineBeforeAnyRequest: every bad flag value or
// combination exits 2 with one line naming the flag, before any request
// to the remotes (both point at a server that counts requests) and
// before the cache dir is created.
func TestBadFlagsAreOneLineBeforeAnyRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	srv, requests := countingRemote(t)
	const token = "0123456789abcdef0123456789abcdef"
	env := []string{"CBRAIN_API_TOKEN=" + token}
	session := writeSessionFile(t, srv.URL, vrchat.Cookies{Auth: "authcookie_x", TwoFactorAuth: "tfa_x"})
	cacheDir := filepath.Join(t.TempDir(), "cache")
	mnt := t.TempDir()
	remotes := []string{"--cbrain-url", srv.URL, "--cache-dir", cacheDir, "--vrchat", "--vrchat-session-file", session}

	cases := []struct {
		want string // what the line must name
		args []string
	}{
		{"--block-size", []string{"--block-size", "0"}},
		{"--block-size", []string{"--block-size", "3"}},
		{"--block-size", []string{"--block-size", "96K"}},  // not a power of two
		{"--block-size", []string{"--block-size", "16M"}},  // too large
		{"--block-size", []string{"--block-size", "1.5M"}}, // unparseable
		{"--cache-size", []string{"--cache-size", "1"}},
		{"--cache-size", []string{"--cache-size", "1M"}}, // fewer than 8 blocks of 256K
		{"--cache-size", []string{"--cache-size", "99999999999T"}},
		{"--cache-size", []string{"--cache-size", "-1G"}},
		{"--spool-size", []string{"--spool-size", "lots"}},
		{"--metadata-ttl", []string{"--metadata-ttl", "-5s"}},
		{"--metadata-ttl", []string{"--metadata-ttl", "0"}},
		{"--metadata-ttl", []string{"--metadata-ttl", "5"}}, // no unit
		{"--attr-timeout", []string{"--attr-timeout", "-1s"}},
		{"--attr-timeout", []string{"--attr-timeout", "2m"}}, // longer than --metadata-ttl
		{"--sync-timeout", []string{"--sync-timeout", "0s"}},
		{"--debug", []string{"--debug=maybe"}},
		{"--nope", []string{"--nope"}},
		{"-o noatime", []string{"-o", "noatime"}},
		{"-o fsname=x", []string{"-o", "ro,fsname=x"}},
		{"-o rw", []string{"--read-only", "-o", "rw"}},
		{"--cbrain-url", []string{"--cbrain-url", "ftp://portal.example.org"}},
		{"--cbrain-url", []string{"--cbrain-url", "http://portal.example.org"}},
		{"--cbrain-url", []string{"--cbrain-url", "https://u:" + token + "@portal.example.org"}},
		{"--vrchat-url", []string{"--vrchat-url", "portal.example.org"}},
		{"--vrchat-contact", []string{"--vrchat-contact", "me@example.org\r\nX-Evil: 1"}},
		{"above 0", []string{"--vrchat-rate", "0"}},
		{"above 0", []string{"--vrchat-rate", "-5"}},
		{"--vrchat-rate", []string{"--vrchat-rate", "fast"}},
		{"--cache-dir", []string{"--cache-dir", filepath.Join(mnt, "cache")}}, // inside MOUNTPOINT
		{"--cache-dir", []string{"--cache-dir", ""}},
	}
	if runtime.GOOS == "linux" {
		cases = append(cases, struct {
			want string
			args []string
		}{"--cache-size", []string{"--cache-size", "1000T"}}) // beyond this machine's memory
	}
	for _, c := range cases {
		// The case's flags come last, so they override the remotes'.
		out, code := runCLI(t, bin, env, "", append(append(append([]string{}, remotes...), c.args...), mnt)...)
		checkRefusal(t, strings.Join(c.args, " "), out, code, c.want)
		if strings.Contains(out, token) {
			t.Errorf("%v: the token appears in the output", c.args)
		}
	}
	// Without --vrchat, its settings would be silently ignored.
	out, code := runCLI(t, bin, env, "", "--cbrain-url", srv.URL, "--cache-dir", cacheDir, "--vrchat-url", srv.URL, mnt)
	checkRefusal(t, "--vrchat-url without --vrchat", out, code, "--vrchat-url")

	// The demo takes the same mount flags, and none of the remote ones
	// (it runs its own emulators); it does not make its MOUNTPOINT first.
	demoDir := filepath.Join(t.TempDir(), "demo")
	for _, args := range [][]string{{"--block-size", "0"}, {"--metadata-ttl", "-5s"}, {"--cbrain-url", srv.URL}, {"--faults", "bogus"}} {
		out, code := runCLI(t, bin, nil, "", append(append([]string{"demo"}, args...), demoDir)...)
		checkRefusal(t, "demo "+strings.Join(args, " "), out, code, args[0])
	}
	if _, err := os.Stat(demoDir); err == nil {
		t.Errorf("a refused demo created its MOUNTPOINT %s", demoDir)
	}
	// So do the CBRAIN operations, which contact the portal too.
	out, code = runCLI(t, bin, env, "", "cbrain", "sync", "--cbrain-url", srv.URL, "--sync-timeout", "-1s", filepath.Join(mnt, "x"))
	checkRefusal(t, "cbrain sync --sync-timeout -1s", out, code, "--sync-timeout")

	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests reached the remote before the flags were refused", n)
	}
	if _, err := os.Stat(cacheDir); err == nil {
		t.Errorf("a refused start created the cache dir %s", cacheDir)
	}

	// The same command with good flags does reach the remote (which
	// refuses the token): the counts above would have seen a request.
	out, code = runCLI(t, bin, env, "", append(remotes, mnt)...)
	if code != 1 || requests.Load() == 0 || !strings.Contains(out, "rejected the token") {
		t.Errorf("good flags: exit %d, %d requests, output %q; want the portal asked and exit 1", code, requests.Load(), out)
	}
}
