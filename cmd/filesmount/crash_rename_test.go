package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestKilledDaemonAfterRenameRecoversUnderTheNewName: the daemon is
// SIGKILLed after a rename and before the data it moved was uploaded. The
// next start must recover the data under the new name (finishing the
// upload, or in the recovery folder), never under the old one.
//
//   - moved: a file uploaded once (fsync) and still open is written,
//     renamed by the portal, and written again; the kill finds it open,
//     so its data goes to recovery/<new name>;
//   - uploading: a file written and closed under a temporary name is
//     renamed, which uploads it; the kill comes while the portal
//     processes that upload, and the restart finishes it under the new
//     name.
func TestKilledDaemonAfterRenameRecoversUnderTheNewName(t *testing.T) {
	bin, srv, token, cacheDir, mnt := crashSetup(t)
	main := filepath.Join(mnt, "cbrain", "MainStore")
	daemon, out := startDaemon(t, bin, srv.URL(), token, cacheDir, mnt)

	// moved: open, written, renamed while open, written again.
	open, err := os.OpenFile(filepath.Join(main, "draft.txt"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	open.WriteString("uploaded, ")
	if err := open.Sync(); err != nil { // uploaded under draft.txt; still open
		t.Fatal(err)
	}
	open.WriteString("written before the rename\n")
	if err := os.Rename(filepath.Join(main, "draft.txt"), filepath.Join(main, "final.txt")); err != nil {
		t.Fatal(err)
	}
	open.WriteString("and after it\n")

	// uploading: rsync-style temporary file, closed, then renamed; the
	// rename uploads it (2 s of portal processing) and the kill lands
	// while that runs.
	tmp := filepath.Join(main, ".report.txt.Ab12Cd")
	if err := os.WriteFile(tmp, []byte("report\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	polls := srv.Stats().ByRoute["GET /userfiles/:id"]
	renamed := make(chan error, 1)
	go func() { renamed <- os.Rename(tmp, filepath.Join(main, "report.txt")) }()
	deadline := time.Now().Add(20 * time.Second)
	for st := srv.Stats(); st.ByRoute["POST /userfiles"] == 0 || st.ByRoute["GET /userfiles/:id"] == polls; st = srv.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("the upload at the rename never reached the portal:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	daemon.Process.Kill()
	daemon.Wait()
	<-renamed
	open.Close() // fails: the daemon is gone

	daemon, out = startDaemon(t, bin, srv.URL(), token, cacheDir, mnt)
	defer func() {
		daemon.Process.Signal(syscall.SIGTERM)
		daemon.Wait()
	}()
	deadline = time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "report.txt uploaded") || !strings.Contains(out.String(), "final.txt was not uploaded") {
		if time.Now().After(deadline) {
			t.Fatalf("the journal was not handled after restart:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	os.Stat(filepath.Join(main, ".filesmount-refresh"))
	if got, err := os.ReadFile(filepath.Join(main, "report.txt")); err != nil || string(got) != "report\n" {
		t.Errorf("report.txt after restart: %q %v\n%s", got, err, out.String())
	}
	kept, err := os.ReadFile(filepath.Join(cacheDir, "recovery", "cbrain", "MainStore", "final.txt"))
	if want := "uploaded, written before the rename\nand after it\n"; err != nil || !bytes.Equal(kept, []byte(want)) {
		t.Errorf("recovery/cbrain/MainStore/final.txt: %q %v, want %q\n%s", kept, err, want, out.String())
	}
	for _, old := range []string{"draft.txt", ".report.txt.Ab12Cd"} {
		if _, err := os.Stat(filepath.Join(main, old)); !os.IsNotExist(err) {
			t.Errorf("%s exists after restart (%v)", old, err)
		}
		if _, err := os.Stat(filepath.Join(cacheDir, "recovery", "cbrain", "MainStore", old)); !os.IsNotExist(err) {
			t.Errorf("data recovered under the old name %s (%v)", old, err)
		}
	}
	if strings.Contains(out.String(), "draft.txt") {
		t.Errorf("the restart mentions the old name:\n%s", out.String())
	}
}
