package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// requireRootFUSE: these tests mount from a child process with mount(2).
func requireRootFUSE(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("mount test skipped with -short")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil || os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but cannot mount: /dev/fuse %v, euid %d", err, os.Geteuid())
		}
		t.Skip("needs root and /dev/fuse")
	}
}

func isMounted(dir string) bool {
	raw, _ := os.ReadFile("/proc/mounts")
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[1] == dir {
			return true
		}
	}
	return false
}

// lockedBuffer is written by exec's copying goroutine and read by the test.
type lockedBuffer struct {
	mu sync.Mutex // protects b
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startDemo(t *testing.T, bin, mnt string) (*exec.Cmd, *lockedBuffer) {
	t.Helper()
	return startDaemonArgs(t, bin, "", "demo", "--cache-dir", t.TempDir(), mnt)
}

// TestSignalsAndStaleMount: SIGKILL leaves a stale mount ("transport
// endpoint is not connected"); the next start cleans it up; SIGTERM
// unmounts cleanly and exits 0.
func TestSignalsAndStaleMount(t *testing.T) {
	requireRootFUSE(t)
	bin := buildBinary(t)
	mnt := filepath.Join(t.TempDir(), "mnt")
	t.Cleanup(func() {
		if isMounted(mnt) {
			detachMount(mnt)
		}
	})

	cmd, _ := startDemo(t, bin, mnt)
	if _, err := os.Stat(filepath.Join(mnt, "cbrain", "MainStore", "README.txt")); err != nil {
		t.Fatalf("demo mount not browsable: %v", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if _, err := os.Stat(mnt); err == nil || !strings.Contains(err.Error(), "not connected") {
		t.Fatalf("after SIGKILL: stat %v, want a stale mount", err)
	}

	cmd, out := startDemo(t, bin, mnt)
	if _, err := os.ReadFile(filepath.Join(mnt, "cbrain", "MainStore", "README.txt")); err != nil {
		t.Fatalf("after restart over a stale mount: %v\n%s", err, out.String())
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", err, out.String())
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("no exit 20 s after SIGTERM:\n%s", out.String())
	}
	if isMounted(mnt) {
		t.Errorf("still mounted after SIGTERM")
	}
	if !strings.Contains(out.String(), "unmounted") {
		t.Errorf("no unmount message:\n%s", out.String())
	}
}
