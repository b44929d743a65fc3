package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/filesmount/filesmount/internal/secretfile"
	"github.com/filesmount/filesmount/remote/cbrain"
	"github.com/filesmount/filesmount/remote/cbrain/cbraintest"
	"github.com/filesmount/filesmount/remote/vrchat"
	"github.com/filesmount/filesmount/remote/vrchat/vrchattest"
)

// secretLog collects everything the binary printed, and the secrets that
// must never be in it.
type secretLog struct {
	outputs []string
	secrets map[string]string // value -> what it is
}

func (l *secretLog) secret(what, value string) {
	if value == "" {
		panic("empty secret " + what)
	}
	l.secrets[value] = what
}

func (l *secretLog) add(step, out string) { l.outputs = append(l.outputs, "--- "+step+"\n"+out) }

func (l *secretLog) check(t *testing.T) {
	t.Helper()
	all := strings.Join(l.outputs, "\n")
	for value, what := range l.secrets {
		if strings.Contains(all, value) {
			// Do not print the output: it would put the secret in the test log.
			t.Errorf("the %s appears in the output of filesmount", what)
		}
	}
	// Cookie values of the VRChat emulator all look like this.
	if regexp.MustCompile(`authcookie_[0-9a-f]{8}-`).MatchString(all) {
		t.Error("a VRChat auth cookie appears in the output of filesmount")
	}
}

func writeTokenFile(t *testing.T, url, token string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cbrain-token.json")
	raw, _ := json.Marshal(cbrain.TokenFile{URL: url, Token: token})
	if err := secretfile.Write(path, raw); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeSessionFile(t *testing.T, url string, k vrchat.Cookies) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "vrchat-session.json")
	raw, _ := json.Marshal(vrchat.SessionFile{URL: url, UserID: "usr_x", Username: "x", Cookies: k})
	if err := secretfile.Write(path, raw); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestNoSecretInOutput runs the binary through logins, start-up failures,
// a mount and the demo, all with --debug where it applies, and checks that
// no token, cookie or password is ever printed, that credential files are
// 0600, that no secret is in the daemon's command line, and that the
// mount is private (no allow_other).
func TestNoSecretInOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	log := &secretLog{secrets: map[string]string{}}
	defer log.check(t)

	cb, err := cbraintest.New(cbraintest.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	_, demoToken, err := cbraintest.SeedDemo(cb)
	if err != nil {
		t.Fatal(err)
	}
	log.secret("CBRAIN demo token", demoToken)
	const cbPassword = "cbrain-Pass-w0rd-7741"
	alice := cb.AddUser("alice", cbPassword, false)
	log.secret("CBRAIN password", cbPassword)

	vr, err := vrchattest.New(vrchattest.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer vr.Close()
	const vrPassword = "vrchat-Pass-w0rd-9913"
	creator := vr.AddUser("creator", vrPassword, "totp", "otp")
	totp, _, _ := vr.TwoFactorCodes(creator)
	log.secret("VRChat password", vrPassword)

	// Logins: the files they write are 0600 and hold the secrets.
	tokenFile := filepath.Join(t.TempDir(), "conf", "cbrain-token.json")
	out, code := runCLI(t, bin, nil, cbPassword+"\n", "login", "cbrain", "--url", cb.URL(), "--user", "alice", "--token-file", tokenFile)
	log.add("login cbrain", out)
	if code != 0 {
		t.Fatalf("login cbrain: exit %d", code)
	}
	var tf cbrain.TokenFile
	raw, err := secretfile.Read(tokenFile)
	if err != nil || json.Unmarshal(raw, &tf) != nil || tf.Token == "" {
		t.Fatalf("token file: %v", err)
	}
	log.secret("CBRAIN token from login", tf.Token)
	sessionFile := filepath.Join(t.TempDir(), "conf", "vrchat-session.json")
	out, code = runCLI(t, bin, nil, vrPassword+"\n"+totp+"\n", "login", "vrchat", "--url", vr.URL(), "--user", "creator", "--session-file", sessionFile)
	log.add("login vrchat", out)
	if code != 0 {
		t.Fatalf("login vrchat: exit %d", code)
	}
	var sf vrchat.SessionFile
	raw, err = secretfile.Read(sessionFile)
	if err != nil || json.Unmarshal(raw, &sf) != nil || sf.Cookies.Auth == "" || sf.Cookies.TwoFactorAuth == "" {
		t.Fatalf("session file: %v", err)
	}
	log.secret("VRChat auth cookie", sf.Cookies.Auth)
	log.secret("VRChat twoFactorAuth cookie", sf.Cookies.TwoFactorAuth)
	for _, p := range []string{tokenFile, sessionFile} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", p, fi.Mode(), err)
		}
	}

	// Logins over plain http:// to another host are refused before any
	// password is asked for.
	out, code = runCLI(t, bin, nil, cbPassword+"\n", "login", "cbrain", "--url", "http://portal.example.org", "--user", "alice")
	log.add("login cbrain over http", out)
	if code == 0 || !strings.Contains(out, "--allow-insecure-http") || strings.Contains(out, "password:") {
		t.Errorf("login over http: exit %d, %q", code, out)
	}

	// Start-up failures, each one line without the secret.
	expiredToken := cb.NewToken(alice)
	cb.ExpireToken(expiredToken)
	log.secret("expired CBRAIN token", expiredToken)
	other := vr.AddUser("other", "other-pass-5521")
	oa, o2 := vr.NewSession(other)
	vr.ExpireSessions(other)
	log.secret("expired VRChat cookie", oa)
	log.secret("expired VRChat 2FA cookie", o2)
	openFile := writeTokenFile(t, cb.URL(), demoToken)
	os.Chmod(openFile, 0o644)
	linkFile := filepath.Join(t.TempDir(), "link.json")
	os.Symlink(tokenFile, linkFile)
	mnt := t.TempDir()
	failures := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"expired token", nil, []string{"--cbrain-token-file", writeTokenFile(t, cb.URL(), expiredToken)}, "rejected the token"},
		{"token for another portal", nil, []string{"--cbrain-url", "http://127.0.0.1:1", "--cbrain-token-file", tokenFile}, "is for"},
		{"readable token file", nil, []string{"--cbrain-token-file", openFile}, "chmod 600"},
		{"symlinked token file", nil, []string{"--cbrain-token-file", linkFile}, "symbolic link"},
		{"unreachable portal", []string{"CBRAIN_API_TOKEN=" + demoToken}, []string{"--cbrain-url", "http://127.0.0.1:1"}, "connection refused"},
		{"plain http to another host", []string{"CBRAIN_API_TOKEN=" + demoToken}, []string{"--cbrain-url", "http://portal.example.org"}, "--allow-insecure-http"},
		{"credentials in the URL", []string{"CBRAIN_API_TOKEN=" + demoToken}, []string{"--cbrain-url", "https://u:" + demoToken + "@portal.example.org"}, "must not contain"},
		{"expired session", nil, []string{"--vrchat", "--vrchat-session-file", writeSessionFile(t, vr.URL(), vrchat.Cookies{Auth: oa, TwoFactorAuth: o2})}, "filesmount login vrchat"},
		{"session for another host", nil, []string{"--vrchat", "--vrchat-session-file", sessionFile, "--vrchat-url", "https://evil.example/api/1"}, "is for"},
		{"vrchat over plain http", nil, []string{"--vrchat", "--vrchat-session-file", writeSessionFile(t, "http://vrchat.example/api/1", sf.Cookies)}, "--allow-insecure-http"},
		{"shared cache dir", []string{"CBRAIN_API_TOKEN=" + demoToken}, []string{"--cbrain-url", cb.URL(), "--cache-dir", sharedDir(t)}, "shared folder"},
	}
	for _, f := range failures {
		args := append([]string{"--debug"}, f.args...)
		out, code := runCLI(t, bin, f.env, "", append(args, mnt)...)
		log.add(f.name, out)
		if code == 0 || !strings.Contains(out, f.want) {
			t.Errorf("%s: exit %d, want a failure saying %q; output:\n%s", f.name, code, f.want, redact(out, log))
		}
	}
	out, code = runCLI(t, bin, nil, "", "cbrain", "sync", "--debug", "--cbrain-token-file", tokenFile,
		filepath.Join(mnt, "cbrain", "MainStore", "nope.txt"))
	log.add("cbrain sync", out)
	if code == 0 {
		t.Errorf("cbrain sync of a missing file: exit 0")
	}

	if !canMount() {
		t.Log("mount steps skipped: needs root and /dev/fuse")
		return
	}

	// A real mount with --debug, reading through both remotes.
	vrUser, err := vrchattest.SeedDemo(vr)
	if err != nil {
		t.Fatal(err)
	}
	da, d2 := vr.NewSession(vrUser)
	log.secret("VRChat demo auth cookie", da)
	log.secret("VRChat demo 2FA cookie", d2)
	mountDir := filepath.Join(t.TempDir(), "mnt")
	os.Mkdir(mountDir, 0o755)
	cmd := exec.Command(bin, "--debug", "--cbrain-token-file", writeTokenFile(t, cb.URL(), demoToken),
		"--vrchat", "--vrchat-session-file", writeSessionFile(t, vr.URL(), vrchat.Cookies{Auth: da, TwoFactorAuth: d2}),
		"--cache-dir", t.TempDir(), mountDir)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	mountOut := startAndWait(t, cmd, mountDir, log)
	checkDaemon(t, cmd.Process.Pid, mountDir, log)
	browse(t, mountDir)
	stopDaemon(t, cmd)
	log.add("mount --debug", mountOut.String())

	// The demo, briefly, with --debug.
	demoDir := filepath.Join(t.TempDir(), "demo")
	cmd = exec.Command(bin, "demo", "--debug", demoDir)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	demoOut := startAndWait(t, cmd, demoDir, log)
	m := regexp.MustCompile(`--cbrain-token-file (\S+)`).FindStringSubmatch(demoOut.String())
	if m == nil {
		t.Fatal("the demo does not name its token file")
	}
	if fi, err := os.Stat(m[1]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("demo token file %s: %v, %v; want mode 0600", m[1], fi, err)
	}
	raw, err = secretfile.Read(m[1])
	if err != nil || json.Unmarshal(raw, &tf) != nil || tf.Token == "" {
		t.Fatalf("demo token file: %v", err)
	}
	log.secret("demo's CBRAIN token", tf.Token)
	checkDaemon(t, cmd.Process.Pid, demoDir, log)
	browse(t, demoDir)
	stopDaemon(t, cmd)
	log.add("demo --debug", demoOut.String())
}

func sharedDir(t *testing.T) string {
	d := filepath.Join(t.TempDir(), "cache")
	os.Mkdir(d, 0o777)
	os.Chmod(d, 0o777|os.ModeSticky)
	return d
}

// redact hides the secrets in out, for an error message.
func redact(out string, l *secretLog) string {
	for v, what := range l.secrets {
		out = strings.ReplaceAll(out, v, "<"+what+">")
	}
	return out
}

func canMount() bool {
	_, err := os.Stat("/dev/fuse")
	return err == nil && os.Geteuid() == 0
}

func startAndWait(t *testing.T, cmd *exec.Cmd, dir string, l *secretLog) *lockedBuffer {
	t.Helper()
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if isMounted(dir) {
			detachMount(dir)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "mounted") {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("%s did not mount within 30 s:\n%s", cmd.Args[1], redact(out.String(), l))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return out
}

// checkDaemon: no secret on the daemon's command line, and a private mount.
func checkDaemon(t *testing.T, pid int, dir string, l *secretLog) {
	t.Helper()
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	l.add("cmdline", strings.ReplaceAll(string(cmdline), "\x00", " "))
	mounts, _ := os.ReadFile("/proc/mounts")
	found := false
	for _, line := range strings.Split(string(mounts), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[1] != dir {
			continue
		}
		found = true
		if opts := strings.Split(f[3], ","); containsOpt(opts, "allow_other") {
			t.Errorf("%s is mounted with allow_other by default: %s", dir, f[3])
		}
	}
	if !found {
		t.Errorf("%s not in /proc/mounts", dir)
	}
}

func containsOpt(opts []string, o string) bool {
	for _, x := range opts {
		if x == o {
			return true
		}
	}
	return false
}

// browse reads some of everything, so that --debug has requests to log.
func browse(t *testing.T, dir string) {
	t.Helper()
	n := 0
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && n < 20 && !strings.Contains(p, ".analysis") {
			if _, err := os.ReadFile(p); err == nil {
				n++
			}
		}
		return nil
	})
	if n == 0 {
		t.Errorf("nothing readable under %s", dir)
	}
}

func stopDaemon(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("%s: exit after SIGTERM: %v", cmd.Args[1], err)
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Errorf("%s: no exit 30 s after SIGTERM", cmd.Args[1])
	}
}
