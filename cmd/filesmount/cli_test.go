package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/filesmount/filesmount/remote/cbrain"
	"github.com/filesmount/filesmount/remote/cbrain/cbraintest"
)

// buildBinary compiles filesmount once for the CLI tests.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "filesmount")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// cliTimeout bounds a run of runCLI: the commands it runs all end by
// themselves, and one that mounts by mistake must fail the test, not hang
// it.
const cliTimeout = time.Minute

// runCLI runs the binary with a private HOME so no real credentials are used.
func runCLI(t *testing.T, bin string, env []string, stdin string, args ...string) (stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	// SIGTERM, so that a daemon that did mount unmounts on its way out.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 20 * time.Second
	home := t.TempDir()
	cmd.Env = append([]string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"), "PATH=" + os.Getenv("PATH")}, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	cmd.Stdout = &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Errorf("filesmount %q did not exit within %v; output:\n%s", args, cliTimeout, errb.String())
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return errb.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return errb.String(), 0
}

func TestStartupFailuresAreOneClearLine(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	srv, err := cbraintest.New(cbraintest.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	const badToken = "0123456789abcdef0123456789abcdef"
	mnt := t.TempDir()

	out, code := runCLI(t, bin, []string{"CBRAIN_API_TOKEN=" + badToken}, "", "--cbrain-url", srv.URL(), mnt)
	if code == 0 || strings.Count(strings.TrimSpace(out), "\n") != 0 || !strings.Contains(out, "rejected the token") {
		t.Errorf("bad token: exit %d, output %q; want one line and a non-zero exit", code, out)
	}
	if strings.Contains(out, badToken) {
		t.Errorf("the token appears in the output: %q", out)
	}

	// A port nothing listens on.
	out, code = runCLI(t, bin, []string{"CBRAIN_API_TOKEN=" + badToken}, "", "--cbrain-url", "http://127.0.0.1:1", mnt)
	if code == 0 || strings.Count(strings.TrimSpace(out), "\n") != 0 || !strings.Contains(out, "connection refused") {
		t.Errorf("unreachable portal: exit %d, output %q", code, out)
	}

	out, code = runCLI(t, bin, nil, "", mnt)
	if code != 2 || !strings.Contains(out, "no remote configured") {
		t.Errorf("nothing configured: exit %d, output %q", code, out)
	}
}

func TestLoginWritesPrivateTokenFile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	srv, err := cbraintest.New(cbraintest.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.AddUser("alice", "s3cret-pw", false)
	tokenFile := filepath.Join(t.TempDir(), "conf", "cbrain-token.json")

	out, code := runCLI(t, bin, nil, "wrong\n", "login", "cbrain", "--url", srv.URL(), "--user", "alice", "--token-file", tokenFile)
	if code == 0 || !strings.Contains(out, "login refused") {
		t.Errorf("wrong password: exit %d, %q", code, out)
	}
	out, code = runCLI(t, bin, nil, "s3cret-pw\n", "login", "cbrain", "--url", srv.URL(), "--user", "alice", "--token-file", tokenFile)
	if code != 0 {
		t.Fatalf("login: exit %d, %q", code, out)
	}
	if strings.Contains(out, "s3cret-pw") {
		t.Error("the password is echoed")
	}
	fi, err := os.Stat(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %o, want 600", fi.Mode().Perm())
	}
	raw, _ := os.ReadFile(tokenFile)
	if !strings.Contains(string(raw), srv.URL()) || strings.Contains(out, string(raw)) {
		t.Errorf("token file %q / output %q", raw, out)
	}
	// The token is bound to the address the login left from; the file
	// records it, and commands using the file leave from it.
	var tf cbrain.TokenFile
	if err := json.Unmarshal(raw, &tf); err != nil || tf.LocalAddr != "127.0.0.1" || !strings.Contains(out, "bound to this machine's address 127.0.0.1") {
		t.Fatalf("local_addr %q (%v), output %q", tf.LocalAddr, err, out)
	}
	alice := 1
	dp := srv.AddProvider("Store", alice, cbraintest.ProviderOptions{})
	srv.AddFile(cbraintest.FileSpec{Name: "a.txt", ProviderID: dp, OwnerID: alice, Content: []byte("a")})
	path := filepath.Join(t.TempDir(), "cbrain", "Store", "a.txt")
	out, code = runCLI(t, bin, nil, "", "cbrain", "sync", "--cbrain-token-file", tokenFile, path)
	if code != 0 || !strings.Contains(out, path+": synced") {
		t.Fatalf("cbrain sync with the token file: exit %d\n%s", code, out)
	}
	if ln, err := net.Listen("tcp", "127.0.0.2:0"); err == nil { // Linux: another local address
		ln.Close()
		tf.LocalAddr = "127.0.0.2"
		moved, _ := json.Marshal(tf)
		other := filepath.Join(t.TempDir(), "moved-token.json")
		if err := os.WriteFile(other, moved, 0o600); err != nil {
			t.Fatal(err)
		}
		out, code = runCLI(t, bin, nil, "", "cbrain", "sync", "--cbrain-token-file", other, path)
		if code == 0 || !strings.Contains(out, "rejected the token") || srv.Stats().TokenIPChanges != 1 {
			t.Fatalf("a command leaving from 127.0.0.2: exit %d, %d tokens deactivated\n%s", code, srv.Stats().TokenIPChanges, out)
		}
	}
}

// TestCBRAINOperationsFromTheShell runs `filesmount cbrain compress` and
// `uncompress` on a path of a mounted provider.
func TestCBRAINOperationsFromTheShell(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	srv, err := cbraintest.New(cbraintest.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	_, token, err := cbraintest.SeedDemo(srv)
	if err != nil {
		t.Fatal(err)
	}
	// The paths need not be mounted: the command resolves them with the portal.
	mnt := t.TempDir()
	path := filepath.Join(mnt, "cbrain", "MainStore", "README.txt")
	env := []string{"CBRAIN_API_TOKEN=" + token}
	out, code := runCLI(t, bin, env, "", "cbrain", "compress", "--cbrain-url", srv.URL(), path)
	if code != 0 || !strings.Contains(out, path+": compressed") {
		t.Fatalf("compress: exit %d\n%s", code, out)
	}
	gz := path + ".gz"
	out, code = runCLI(t, bin, env, "", "cbrain", "uncompress", "--cbrain-url", srv.URL(), gz)
	if code != 0 || !strings.Contains(out, gz+": uncompressed") {
		t.Fatalf("uncompress: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, bin, env, "", "cbrain", "compress", "--cbrain-url", srv.URL(), filepath.Join(mnt, "cbrain", "MainStore", "nope.txt"))
	if code == 0 || !strings.Contains(out, "no userfile named") {
		t.Errorf("unknown file: exit %d\n%s", code, out)
	}
	if strings.Contains(out, token) {
		t.Error("the token appears in the output")
	}
}
