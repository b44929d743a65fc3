package main

import (
	"bytes"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestCheckRemoteURL(t *testing.T) {
	ok := []string{
		"https://portal.cbrain.mcgill.ca", "https://api.vrchat.cloud/api/1", "http://127.0.0.1:3000",
		"http://127.1.2.3/x", "http://localhost:8080", "http://LOCALHOST", "http://[::1]:80/api", "http://[::ffff:127.0.0.1]/",
	}
	for _, u := range ok {
		if err := checkRemoteURL("cbrain", u, false); err != nil {
			t.Errorf("%s refused: %v", u, err)
		}
	}
	insecure := []string{"http://portal.example.org", "http://10.0.0.1", "http://128.0.0.1", "http://localhost.evil.org",
		"http://[::2]/", "HTTP://portal.example.org", "http://0.0.0.0:80", "http://[fe80::1%25lo]/"}
	for _, u := range insecure {
		err := checkRemoteURL("cbrain", u, false)
		if err == nil || !strings.Contains(err.Error(), "--allow-insecure-http") || !strings.Contains(err.Error(), "unencrypted") {
			t.Errorf("%s: err = %v, want a refusal naming --allow-insecure-http", u, err)
		}
		if err := checkRemoteURL("cbrain", u, true); err != nil {
			t.Errorf("%s with --allow-insecure-http: %v", u, err)
		}
	}
	for _, u := range []string{"https://user:pw@portal.example.org", "https://portal.example.org/?cbrain_api_token=abc",
		"https://portal.example.org/#frag", "http://tok@127.0.0.1/"} {
		err := checkRemoteURL("cbrain", u, true)
		if err == nil {
			t.Errorf("%s accepted", u)
		} else if strings.Contains(err.Error(), "pw") || strings.Contains(err.Error(), "abc") || strings.Contains(err.Error(), "tok@") {
			t.Errorf("%s: the refusal repeats the secret: %v", u, err)
		}
	}
}

func TestSameOrigin(t *testing.T) {
	if !sameOrigin("https://api.vrchat.cloud/api/1", "https://API.vrchat.cloud/api/2/") {
		t.Error("same host refused")
	}
	for _, other := range []string{"https://evil.example/api/1", "http://api.vrchat.cloud/api/1", "https://api.vrchat.cloud:444/api/1"} {
		if sameOrigin("https://api.vrchat.cloud/api/1", other) {
			t.Errorf("%s taken for the same origin", other)
		}
	}
}

// TestNoFlagTakesASecret: secrets come from files (or the environment),
// never from the command line, where every user can read them.
func TestNoFlagTakesASecret(t *testing.T) {
	var o options
	sets := map[string]*pflag.FlagSet{"mount": pflag.NewFlagSet("mount", pflag.ContinueOnError)}
	o.register(sets["mount"])
	for name, set := range sets {
		set.VisitAll(func(f *pflag.Flag) {
			n := strings.ToLower(f.Name)
			for _, word := range []string{"token", "password", "passwd", "cookie", "secret", "session", "auth", "key"} {
				if strings.Contains(n, word) && !strings.HasSuffix(n, "-file") {
					t.Errorf("%s: flag --%s looks like it takes a secret", name, f.Name)
				}
			}
		})
	}
	for _, src := range []string{"login.go", "login_vrchat.go"} {
		raw, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		for _, word := range []string{`"password"`, `"token"`, `"cookie"`, `"code"`, `"otp"`} {
			if bytes.Contains(raw, []byte("f.String("+word)) {
				t.Errorf("%s defines a %s flag", src, word)
			}
		}
	}
}

func TestPrepareCacheDir(t *testing.T) {
	var logs bytes.Buffer
	logger := log.New(&logs, "", 0)
	base := t.TempDir()
	fresh := filepath.Join(base, "a", "b")
	if err := prepareCacheDir(fresh, logger); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(fresh); fi.Mode().Perm() != 0o700 {
		t.Errorf("new cache dir mode %o, want 700", fi.Mode().Perm())
	}
	if err := prepareCacheDir(fresh, logger); err != nil || logs.Len() != 0 {
		t.Errorf("existing private dir: %v, log %q", err, logs.String())
	}
	open := filepath.Join(base, "open")
	os.Mkdir(open, 0o755)
	os.Chmod(open, 0o755)
	if err := prepareCacheDir(open, logger); err != nil {
		t.Fatalf("0755 cache dir of mine: %v", err)
	}
	if fi, _ := os.Stat(open); fi.Mode().Perm() != 0o700 {
		t.Errorf("0755 cache dir left at %o, want 700", fi.Mode().Perm())
	}
	if !strings.Contains(logs.String(), "changed it to 0700") || strings.Count(logs.String(), "\n") != 1 {
		t.Errorf("log %q, want one line saying the mode was changed", logs.String())
	}
	shared := filepath.Join(base, "shared")
	os.Mkdir(shared, 0o777)
	os.Chmod(shared, 0o777|os.ModeSticky)
	if err := prepareCacheDir(shared, logger); err == nil || !strings.Contains(err.Error(), "shared folder") {
		t.Errorf("sticky shared dir: %v", err)
	}
	if fi, _ := os.Stat(shared); fi.Mode().Perm() != 0o777 {
		t.Errorf("the shared dir was changed to %o", fi.Mode().Perm())
	}
	file := filepath.Join(base, "file")
	os.WriteFile(file, nil, 0o600)
	if err := prepareCacheDir(file, logger); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("a file as cache dir: %v", err)
	}
	if os.Geteuid() == 0 {
		theirs := filepath.Join(base, "theirs")
		os.Mkdir(theirs, 0o755)
		os.Chown(theirs, 4242, 4242)
		if err := prepareCacheDir(theirs, logger); err == nil || !strings.Contains(err.Error(), "belongs to user id 4242") {
			t.Errorf("another user's cache dir: %v", err)
		}
	}
}

func TestPrivateMountOptions(t *testing.T) {
	opts, other := privateMountOptions([]string{"ro", "allow_other", "noatime"}, false)
	if !other || !slices.Equal(opts, []string{"ro", "noatime"}) {
		t.Errorf("-o allow_other: %v, %v; want it taken as --allow-other (with default_permissions)", opts, other)
	}
	opts, other = privateMountOptions([]string{"ro"}, false)
	if other || !slices.Equal(opts, []string{"ro"}) {
		t.Errorf("default: %v, %v; want private", opts, other)
	}
}

func TestReportPanic(t *testing.T) {
	var b bytes.Buffer
	reportPanic(&b, "boom", []byte("goroutine 1 [running]:\nmain.main()\n"))
	if !strings.HasPrefix(b.String(), "filesmount: internal error: boom\n") || !strings.Contains(b.String(), "goroutine 1") {
		t.Errorf("panic report %q", b.String())
	}
}

func TestCacheDirIsLockedByOneDaemon(t *testing.T) {
	dir := t.TempDir()
	release, err := lockCacheDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lockCacheDir(dir); err == nil || !strings.Contains(err.Error(), "in use by another filesmount") {
		t.Errorf("second lock: %v", err)
	}
	release()
	release2, err := lockCacheDir(dir)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	release2()
}
