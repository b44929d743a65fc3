package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/filesmount/filesmount/remote/cbrain/cbraintest"
)

// startDaemon runs filesmount on a CBRAIN emulator and waits for the mount.
func startDaemon(t *testing.T, bin, url, token, cacheDir, mnt string) (*exec.Cmd, *lockedBuffer) {
	t.Helper()
	return startDaemonArgs(t, bin, token, "--cbrain-url", url, "--cache-dir", cacheDir, mnt)
}

// startDaemonArgs runs filesmount with args (the CBRAIN token in its
// environment, as a user would) and waits until it reports the mount.
func startDaemonArgs(t *testing.T, bin, token string, args ...string) (*exec.Cmd, *lockedBuffer) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "CBRAIN_API_TOKEN="+token, "HOME="+t.TempDir())
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "mounted") {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("daemon did not mount:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cmd, out
}

// crashSetup is what the crash tests share: the binary, a demo portal whose
// uploads take 2 s to process (time to kill the daemon during one), a
// cache directory that outlives the daemon, and a mountpoint detached at
// the end.
func crashSetup(t *testing.T) (bin string, srv *cbraintest.Server, token, cacheDir, mnt string) {
	t.Helper()
	requireRootFUSE(t)
	bin = buildBinary(t)
	srv, err := cbraintest.New(cbraintest.Options{DataDir: t.TempDir(), UploadDelay: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if _, token, err = cbraintest.SeedDemo(srv); err != nil {
		t.Fatal(err)
	}
	cacheDir = t.TempDir()
	mnt = filepath.Join(t.TempDir(), "mnt")
	os.Mkdir(mnt, 0o755)
	t.Cleanup(func() {
		if isMounted(mnt) {
			detachMount(mnt)
		}
	})
	return bin, srv, token, cacheDir, mnt
}

// TestKilledDaemonUploadCompletesAfterRestart: the daemon is SIGKILLed
// while a close is waiting for the portal to finish an upload; the next
// start finds the journal, recognises the upload that already landed
// (no second POST) and completes it.
func TestKilledDaemonUploadCompletesAfterRestart(t *testing.T) {
	bin, srv, token, cacheDir, mnt := crashSetup(t)
	data := bytes.Repeat([]byte("must not be lost\n"), 5000)
	src := filepath.Join(t.TempDir(), "precious.txt")
	os.WriteFile(src, data, 0o644)

	daemon, _ := startDaemon(t, bin, srv.URL(), token, cacheDir, mnt)
	polls := srv.Stats().ByRoute["GET /userfiles/:id"]
	cp := exec.Command("cp", src, filepath.Join(mnt, "cbrain", "MainStore", "precious.txt"))
	cp.Dir = os.TempDir()
	if err := cp.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the daemon polls the new record: the portal has then
	// taken the whole POST (counting the POST alone raced with sending
	// its body) and is still processing it (UploadDelay).
	deadline := time.Now().Add(20 * time.Second)
	for st := srv.Stats(); st.ByRoute["POST /userfiles"] == 0 || st.ByRoute["GET /userfiles/:id"] == polls; st = srv.Stats() {
		if time.Now().After(deadline) {
			t.Fatal("the upload never reached the portal")
		}
		time.Sleep(10 * time.Millisecond)
	}
	daemon.Process.Kill() // mid-upload: the portal has the POST, the size is not set yet
	daemon.Wait()
	cp.Wait()

	daemon, out := startDaemon(t, bin, srv.URL(), token, cacheDir, mnt)
	defer func() {
		daemon.Process.Signal(syscall.SIGTERM)
		daemon.Wait()
	}()
	deadline = time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "uploaded") {
		if time.Now().After(deadline) {
			t.Fatalf("the pending upload was not completed after restart:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	os.Stat(filepath.Join(mnt, "cbrain", "MainStore", ".filesmount-refresh"))
	got, err := os.ReadFile(filepath.Join(mnt, "cbrain", "MainStore", "precious.txt"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after restart: %v, %d bytes (want %d)\n%s", err, len(got), len(data), out.String())
	}
	if n := srv.Stats().ByRoute["POST /userfiles"]; n != 1 {
		t.Errorf("%d POSTs: the restarted daemon uploaded again instead of finishing the first upload", n)
	}
	if entries, _ := os.ReadDir(filepath.Join(cacheDir, "journal")); len(entries) != 0 {
		t.Errorf("journal not emptied: %v", entries)
	}
}
