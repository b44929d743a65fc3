//go:build linux

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/filesmount/filesmount/internal/faults"
	"github.com/filesmount/filesmount/remote/vrchat/vrchattest"
)

// sh runs a shell command line with the mount paths in its environment,
// as a user would type it, and fails the test if it fails.
func sh(t *testing.T, dir, line string) string {
	t.Helper()
	out, err := command("sh", "-c", "cd "+shellQuote(dir)+" && "+line)
	if err != nil {
		t.Fatalf("sh -c %q: %v\n%s", line, err, out)
	}
	return out
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// remoteNames lists dir after making the mount ask the remote again.
func remoteNames(t *testing.T, dir string) []string {
	t.Helper()
	os.Stat(filepath.Join(dir, ".filesmount-refresh"))
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestRenameThenWriteActsOnTheNewName replays the everyday commands that
// lost data: a write that follows a rename within the kernel's attribute
// timeout must land under the new name, and nothing may stay behind under
// the old or a temporary one.
func TestRenameThenWriteActsOnTheNewName(t *testing.T) {
	env := mountCBRAIN(t, envOptions{})
	main := filepath.Join(env.mnt, "cbrain", "MainStore")
	arch := filepath.Join(env.mnt, "cbrain", "ArchiveSSH")
	cases := []struct {
		name     string
		dir      string
		line     string
		want     map[string]string // path relative to the provider dir -> content
		wantGone []string
	}{
		{"sed -i then append", main, "echo one > r.txt; sed -i 's/one/two/' r.txt; echo three >> r.txt",
			map[string]string{"r.txt": "two\nthree\n"}, nil},
		{"mv then append", main, "echo a > a.txt; mv a.txt b.txt; echo more >> b.txt",
			map[string]string{"b.txt": "a\nmore\n"}, []string{"a.txt"}},
		{"mv across providers then append", main, "echo f > f.txt; mv f.txt ../ArchiveSSH/; echo x >> ../ArchiveSSH/f.txt",
			map[string]string{"../ArchiveSSH/f.txt": "f\nx\n"}, []string{"f.txt"}},
		{"mv over an existing file then truncate and write", main, "echo old > o.txt; echo new > n.txt; mv n.txt o.txt; echo newer > o.txt",
			map[string]string{"o.txt": "newer\n"}, []string{"n.txt"}},
		{"two renames then append", main, "echo 1 > c1.txt; mv c1.txt c2.txt; mv c2.txt c3.txt; echo 2 >> c3.txt; mv c3.txt c4.txt",
			map[string]string{"c4.txt": "1\n2\n"}, []string{"c1.txt", "c2.txt", "c3.txt"}},
		{"rename then unlink", main, "echo 1 > u1.txt; mv u1.txt u2.txt; rm u2.txt",
			nil, []string{"u1.txt", "u2.txt"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sh(t, tc.dir, tc.line)
			for rel, want := range tc.want {
				p := filepath.Join(tc.dir, rel)
				if got := string(refreshed(t, p)); got != want {
					t.Errorf("%s holds %q, want %q", rel, got, want)
				}
			}
			for _, rel := range tc.wantGone {
				os.Stat(filepath.Join(filepath.Dir(filepath.Join(tc.dir, rel)), ".filesmount-refresh"))
				if _, err := os.Stat(filepath.Join(tc.dir, rel)); !os.IsNotExist(err) {
					t.Errorf("%s still exists after the sequence (%v)", rel, err)
				}
			}
			for _, d := range []string{main, arch} {
				for _, n := range remoteNames(t, d) {
					if strings.HasPrefix(n, "sed") || strings.Contains(n, "filesmount-") {
						t.Errorf("a temporary file stayed behind: %s/%s", filepath.Base(d), n)
					}
				}
			}
		})
	}
}

// TestHandlesFollowRenamesAndOutliveUnlinks keeps descriptors open across
// renames and unlinks: writes through a renamed file's descriptor land
// under the new name; a descriptor on an unlinked or replaced file keeps
// its own content, which never reaches the remote.
func TestHandlesFollowRenamesAndOutliveUnlinks(t *testing.T) {
	env := mountCBRAIN(t, envOptions{})
	main := filepath.Join(env.mnt, "cbrain", "MainStore")
	arch := filepath.Join(env.mnt, "cbrain", "ArchiveSSH")
	defer func() {
		if t.Failed() {
			t.Logf("daemon log:\n%s", env.logs.String())
		}
	}()

	// Written, renamed across providers while open, written again.
	f, err := os.OpenFile(filepath.Join(main, "h1.txt"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("first ")
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(main, "h1.txt"), filepath.Join(arch, "h2.txt")); err != nil {
		t.Fatal(err)
	}
	f.WriteString("second")
	if err := f.Close(); err != nil {
		t.Fatalf("close after the rename: %v", err)
	}
	if got := string(refreshed(t, filepath.Join(arch, "h2.txt"))); got != "first second" {
		t.Errorf("h2.txt holds %q", got)
	}

	// Unlinked while open: the descriptor still reads and writes its content.
	sh(t, main, "echo keep > u.txt")
	g, err := os.OpenFile(filepath.Join(main, "u.txt"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(main, "u.txt")); err != nil {
		t.Fatal(err)
	}
	if _, err := g.WriteAt([]byte("KEEP"), 0); err != nil {
		t.Errorf("write to an unlinked file: %v", err)
	}
	buf := make([]byte, 5)
	if _, err := g.ReadAt(buf, 0); err != nil || string(buf) != "KEEP\n" {
		t.Errorf("read of an unlinked file: %q %v", buf, err)
	}
	if err := g.Close(); err != nil {
		t.Errorf("close of an unlinked file: %v", err)
	}

	// Replaced by a rename while open and written: the writes vanish
	// with it, as on a local disk.
	sh(t, main, "echo old > r.txt; echo new > n.txt")
	h, err := os.OpenFile(filepath.Join(main, "r.txt"), os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	h.WriteString("appended to old\n")
	sh(t, main, "mv n.txt r.txt")
	h.WriteString("more to old\n")
	if err := h.Close(); err != nil {
		t.Errorf("close of a replaced file: %v", err)
	}
	if got := string(refreshed(t, filepath.Join(main, "r.txt"))); got != "new\n" {
		t.Errorf("r.txt holds %q, want the renamed file's content", got)
	}
	for _, d := range []string{main, arch} {
		for _, n := range remoteNames(t, d) {
			if n == "u.txt" || n == "h1.txt" || n == "n.txt" {
				t.Errorf("%s/%s exists on the remote", filepath.Base(d), n)
			}
		}
	}
	nothingStaged(t, env.m)
}

// TestVRChatEmptyFilesAndSedEdits: touch uploads nothing (an empty
// version would become latest); sed -i on a version makes a new version.
func TestVRChatEmptyFilesAndSedEdits(t *testing.T) {
	env := mountVRChat(t, func(srv *vrchattest.Server, user string) {
		srv.AddFile(vrchattest.FileSpec{OwnerID: user, Name: "Notes", MimeType: "text/plain", Extension: ".txt",
			Versions: []vrchattest.VersionSpec{{Content: []byte("one\n")}, {Content: []byte("two\n")}}})
	})
	notes := filepath.Join(env.dir, "Notes")
	before := env.srv.Stats().ByRoute["POST /file/{id}"]
	sh(t, notes, "touch new.txt")
	if got := lsNames(t, notes); got != "1.txt 2.txt latest.txt new.txt" {
		t.Errorf("after touch: %q", got)
	}
	if got := run(t, "cat", filepath.Join(notes, "latest.txt")); got != "two\n" {
		t.Errorf("latest.txt after touch: %q", got)
	}
	if n := env.srv.Stats().ByRoute["POST /file/{id}"]; n != before {
		t.Errorf("touch created %d version(s)", n-before)
	}
	// Content written into it makes the version.
	sh(t, notes, "echo three >> new.txt")
	if got := lsNames(t, notes); got != "1.txt 2.txt 3.txt latest.txt" {
		t.Errorf("after writing into the touched file: %q", got)
	}
	if got := run(t, "cat", filepath.Join(notes, "latest.txt")); got != "three\n" {
		t.Errorf("latest.txt: %q", got)
	}
	// sed -i writes a temporary file and renames it over the version.
	sh(t, notes, "sed -i 's/three/four/' 3.txt")
	if got := lsNames(t, notes); got != "1.txt 2.txt 3.txt 4.txt latest.txt" {
		t.Errorf("after sed -i: %q", got)
	}
	if got := run(t, "cat", filepath.Join(notes, "latest.txt")); got != "four\n" {
		t.Errorf("latest.txt after sed -i: %q", got)
	}
	if got := run(t, "cat", filepath.Join(notes, "3.txt")); got != "three\n" {
		t.Errorf("3.txt changed: %q", got)
	}
	// A version that was uploaded cannot be renamed, every time.
	for i := 0; i < 2; i++ {
		out, err := command("mv", filepath.Join(notes, "4.txt"), filepath.Join(notes, "x.txt"))
		if err == nil || !strings.Contains(out, "Operation not supported") {
			t.Errorf("mv of a version: %v %q", err, out)
		}
	}
}

// TestShellRedirectionUploadsOnce: `echo x > f` closes a descriptor (the
// shell's dup2) before writing; that empty close must not cost an upload
// of its own. `touch` still creates the empty file on the remote.
func TestShellRedirectionUploadsOnce(t *testing.T) {
	env := mountCBRAIN(t, envOptions{})
	main := filepath.Join(env.mnt, "cbrain", "MainStore")
	posts := func() int64 { return env.srv.Stats().ByRoute["POST /userfiles"] }
	before := posts()
	sh(t, main, "echo hello > once.txt")
	if n := posts() - before; n != 1 {
		t.Errorf("echo > once.txt made %d uploads, want 1", n)
	}
	if got := string(refreshed(t, filepath.Join(main, "once.txt"))); got != "hello\n" {
		t.Errorf("once.txt holds %q", got)
	}
	sh(t, main, "touch empty.txt")
	waitFor(t, "the empty file on the remote", func() bool {
		for _, n := range remoteNames(t, main) {
			if n == "empty.txt" {
				return posts()-before == 2
			}
		}
		return false
	})
	nothingStaged(t, env.m)
}

// TestSedInPlaceUploadsOnce: sed -i's temporary file is not uploaded
// before its rename: one upload for the edit, nothing left behind.
func TestSedInPlaceUploadsOnce(t *testing.T) {
	env := mountCBRAIN(t, envOptions{})
	main := filepath.Join(env.mnt, "cbrain", "MainStore")
	sh(t, main, "echo one > s.txt")
	posts := env.srv.Stats().ByRoute["POST /userfiles"]
	sh(t, main, "sed -i 's/one/two/' s.txt")
	if n := env.srv.Stats().ByRoute["POST /userfiles"] - posts; n != 1 {
		t.Errorf("sed -i made %d uploads, want 1", n)
	}
	if got := string(refreshed(t, filepath.Join(main, "s.txt"))); got != "two\n" {
		t.Errorf("s.txt holds %q", got)
	}
	// sed -i on a program's temporary file, which the portal cannot hold.
	sh(t, main, "printf 'ab\\n' > .t.dat.Xy12Ab; sed -i 's/ab/Q/' .t.dat.Xy12Ab; mv .t.dat.Xy12Ab t.dat")
	if got := string(refreshed(t, filepath.Join(main, "t.dat"))); got != "Q\n" {
		t.Errorf("t.dat holds %q", got)
	}
	for _, n := range remoteNames(t, main) {
		if strings.HasPrefix(n, "sed") || strings.HasPrefix(n, ".") {
			t.Errorf("a temporary file stayed behind: %s", n)
		}
	}
	nothingStaged(t, env.m)
}

// TestRenameWhileUploading: a rename that arrives while the file's close
// is still waiting for the portal waits for that upload, then renames the
// object; a write that follows lands under the new name.
func TestRenameWhileUploading(t *testing.T) {
	env := mountCBRAIN(t, envOptions{uploadDelay: 700 * time.Millisecond})
	main := filepath.Join(env.mnt, "cbrain", "MainStore")
	src := filepath.Join(t.TempDir(), "src.txt")
	os.WriteFile(src, []byte("uploading\n"), 0o644)
	cp := exec.Command("cp", src, filepath.Join(main, "up.txt"))
	if err := cp.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the upload to reach the portal", func() bool { return env.srv.Stats().ByRoute["POST /userfiles"] > 0 })
	sh(t, main, "mv up.txt up2.txt; echo more >> up2.txt")
	if err := cp.Wait(); err != nil {
		t.Fatalf("cp: %v", err)
	}
	if got := string(refreshed(t, filepath.Join(main, "up2.txt"))); got != "uploading\nmore\n" {
		t.Errorf("up2.txt holds %q", got)
	}
	for _, n := range remoteNames(t, main) {
		if n == "up.txt" || strings.Contains(n, "filesmount-") {
			t.Errorf("%s is on the remote", n)
		}
	}
}

// TestVRChatWriteOntoVersionKeepsIt: appending to 1.txt makes a new
// version; 1.txt itself keeps its bytes and size at once, even while the
// kernel still holds the writer's pages and its release is on the way.
func TestVRChatWriteOntoVersionKeepsIt(t *testing.T) {
	env := mountVRChat(t, func(srv *vrchattest.Server, user string) {
		srv.AddFile(vrchattest.FileSpec{OwnerID: user, Name: "Notes", MimeType: "text/plain", Extension: ".txt",
			Versions: []vrchattest.VersionSpec{{Content: []byte("one\n")}, {Content: []byte("two\n")}}})
	})
	notes := filepath.Join(env.dir, "Notes")
	for i := 0; i < 10; i++ {
		if got, err := os.ReadFile(filepath.Join(notes, "1.txt")); err != nil || string(got) != "one\n" {
			t.Fatalf("round %d: 1.txt holds %q (%v)", i, got, err)
		}
		f, err := os.OpenFile(filepath.Join(notes, "1.txt"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(f, "appended %d\n", i)
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(filepath.Join(notes, "1.txt")); err != nil || fi.Size() != 4 {
			t.Errorf("round %d: 1.txt's size right after the append: %v %v", i, fi.Size(), err)
		}
		want := fmt.Sprintf("one\nappended %d\n", i)
		if got, err := os.ReadFile(filepath.Join(notes, "latest.txt")); err != nil || string(got) != want {
			t.Errorf("round %d: latest.txt holds %q (%v), want %q", i, got, err, want)
		}
	}
}

// TestFailedRenameUploadChangesNothing: the upload that a rename of a
// local file makes fails; the rename then fails as a whole (the file keeps
// its name, the file it would have replaced stays and takes later writes),
// and the data is in the recovery folder, as the log says.
func TestFailedRenameUploadChangesNothing(t *testing.T) {
	inj := faults.New(1)
	env := mountVRChatWith(t, vrchattest.Options{Faults: inj}, func(srv *vrchattest.Server, user string) {
		srv.AddFile(vrchattest.FileSpec{OwnerID: user, Name: "Alpha", Extension: ".png", MimeType: "image/png",
			Versions: []vrchattest.VersionSpec{{Content: []byte("alpha one\n")}, {Content: []byte("alpha two\nabx\n")}}})
	})
	dir := filepath.Join(env.dir, "Alpha")
	latest := filepath.Join(dir, "latest.png")
	inj.Add(faults.Rule{Kind: faults.Status, Status: 500, Route: "POST /file/", Count: 1})
	tmp := filepath.Join(dir, "sedrDyPy5")
	if err := os.WriteFile(tmp, []byte("edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, latest); err == nil {
		t.Fatal("the rename succeeded although its upload failed")
	}
	if got := lsNames(t, dir); got != "1.png 2.png latest.png sedrDyPy5" {
		t.Errorf("after the failed rename: %q", got)
	}
	if got, _ := os.ReadFile(latest); string(got) != "alpha two\nabx\n" {
		t.Errorf("latest.png after the failed rename: %q", got)
	}
	if kept, err := os.ReadFile(filepath.Join(env.m.cacheDir, "recovery", "vrchat", "Alpha", "latest.png")); err != nil || string(kept) != "edited\n" {
		t.Errorf("recovery copy: %q %v", kept, err)
	}
	sh(t, dir, "printf ccaab | dd of=latest.png bs=1 seek=9 conv=notrunc status=none")
	if got, _ := os.ReadFile(latest); string(got) != "alpha twoccaab" {
		t.Errorf("latest.png after a write into it: %q (the write was lost)", got)
	}
	if got := lsNames(t, dir); got != "1.png 2.png 3.png latest.png sedrDyPy5" {
		t.Errorf("after the write: %q", got)
	}
}

// TestVRChatOpeningAnOldVersionLeavesLatestAlone: opening an old version
// for writing without writing (touch) must not make latest<ext> show that
// version again. Found by the model soak (seed 554791615): the node of
// version 1, first looked up as latest.txt, was listed as local under that
// name as soon as it was opened.
func TestVRChatOpeningAnOldVersionLeavesLatestAlone(t *testing.T) {
	env := mountVRChat(t, func(srv *vrchattest.Server, user string) {
		srv.AddFile(vrchattest.FileSpec{OwnerID: user, Name: "Beta", MimeType: "text/plain", Extension: ".txt",
			Versions: []vrchattest.VersionSpec{{Content: []byte("one\n")}}})
	})
	beta := filepath.Join(env.dir, "Beta")
	if got := run(t, "cat", filepath.Join(beta, "latest.txt")); got != "one\n" {
		t.Fatalf("latest.txt: %q", got)
	}
	sh(t, beta, "echo two >> 1.txt")
	f, err := os.OpenFile(filepath.Join(beta, "1.txt"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, name := range []string{"latest.txt", "2.txt"} {
		if got := run(t, "cat", filepath.Join(beta, name)); got != "one\ntwo\n" {
			t.Errorf("%s while 1.txt is open for writing: %q", name, got)
		}
	}
	if got := run(t, "cat", filepath.Join(beta, "1.txt")); got != "one\n" {
		t.Errorf("1.txt while open for writing: %q", got)
	}
	if err := f.Close(); err != nil {
		t.Errorf("close of the unwritten descriptor: %v", err)
	}
	if got := run(t, "cat", filepath.Join(beta, "latest.txt")); got != "one\ntwo\n" {
		t.Errorf("latest.txt after close: %q", got)
	}
}
