//go:build linux

package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/filesmount/filesmount/remote/vrchat/vrchattest"
)

// waitForFile waits (bounded) for an asynchronous effect: a file at path.
func waitForFile(t *testing.T, path string) []byte {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never appeared: %v", path, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// VRChat failing to process an entry of an upload (status "error") fails
// the close with EIO and one log line; the data is kept, byte for byte,
// in the recovery folder, and copying it back in lands as a new version
// (the errored one is replaced). Under each plausible version-level
// status after a finish.
func TestVRChatUploadEntryErrorKeepsData(t *testing.T) {
	for _, status := range []string{vrchattest.VersionComplete, vrchattest.VersionQueued, vrchattest.VersionWaiting} {
		t.Run(status, func(t *testing.T) {
			env := mountVRChatWith(t, vrchattest.Options{VersionStatusAfterFinish: status}, nil)
			src := filepath.Join(t.TempDir(), "shot.png")
			data := vrchattest.PNG(40, 40, 7)
			os.WriteFile(src, data, 0o644)
			dir := filepath.Join(env.dir, "Shots")
			run(t, "mkdir", dir)

			env.srv.SetEntryError("signature")
			out, err := command("cp", src, dir)
			if err == nil || !strings.Contains(out, "Input/output error") {
				t.Fatalf("cp with an errored entry: %v %q, want EIO at close", err, out)
			}
			logs := env.logs.String()
			var lines []string
			for _, l := range strings.Split(logs, "\n") {
				if strings.Contains(l, "VRChat failed to process the signature") {
					lines = append(lines, l)
				}
			}
			if len(lines) != 1 || !strings.Contains(lines[0], "(EIO)") {
				t.Errorf("want one EIO line naming the errored entry, got %q\n%s", lines, logs)
			}
			kept := filepath.Join(env.m.cacheDir, "recovery", "vrchat", "Shots", "shot.png")
			if got := waitForFile(t, kept); !bytes.Equal(got, data) {
				t.Fatalf("recovery copy differs: %d bytes, want %d", len(got), len(data))
			}

			env.srv.SetEntryError("")
			run(t, "cp", kept, dir)
			if got := lsNames(t, dir); got != "1.png latest.png" {
				t.Errorf("after copying the kept data back: %q", got)
			}
			run(t, "cmp", src, filepath.Join(dir, "1.png"))
		})
	}
}
