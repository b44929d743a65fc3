//go:build linux

package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/filesmount/filesmount/remote/vrchat/vrchattest"
)

func lsNames(t *testing.T, dir string) string {
	t.Helper()
	os.Stat(filepath.Join(dir, ".filesmount-refresh"))
	return strings.Join(strings.Fields(run(t, "ls", dir)), " ")
}

func TestVRChatNewFileAndVersions(t *testing.T) {
	env := mountVRChatWith(t, vrchattest.Options{MultipartThreshold: 2 << 20, MinPartSize: 1 << 20, QueuedPolls: 2}, nil)
	src := t.TempDir()
	v1, v2 := vrchattest.PNG(32, 32, 1), vrchattest.PNG(48, 48, 2)
	os.WriteFile(filepath.Join(src, "one.png"), v1, 0o644)
	os.WriteFile(filepath.Join(src, "two.png"), v2, 0o644)

	// mkdir, then the first file creates the File and its version 1.
	pic := filepath.Join(env.dir, "My picture")
	run(t, "mkdir", pic)
	run(t, "cp", filepath.Join(src, "one.png"), pic)
	if got := lsNames(t, pic); got != "1.png latest.png" {
		t.Fatalf("after the first upload: %q", got)
	}
	run(t, "cmp", filepath.Join(src, "one.png"), filepath.Join(pic, "1.png"))
	// Another file in the directory is a new version.
	run(t, "cp", filepath.Join(src, "two.png"), pic)
	if got := lsNames(t, pic); got != "1.png 2.png latest.png" {
		t.Fatalf("after the second upload: %q", got)
	}
	run(t, "cmp", filepath.Join(src, "two.png"), filepath.Join(pic, "latest.png"))
	if n := env.srv.Stats().ByRoute["POST /file"]; n != 1 {
		t.Errorf("%d Files created, want 1", n)
	}

	// Larger than the multipart threshold: parts without Content-MD5, ETags, finish.
	big := randomBytes(5<<20+12345, 4)
	os.WriteFile(filepath.Join(src, "world.vrcw"), big, 0o644)
	world := filepath.Join(env.dir, "Big world")
	run(t, "mkdir", world)
	run(t, "cp", filepath.Join(src, "world.vrcw"), world)
	run(t, "cmp", filepath.Join(src, "world.vrcw"), filepath.Join(world, "1.vrcw"))
	if n := env.srv.Stats().ByRoute["PUT s3 part"]; n < 5 {
		t.Errorf("multipart upload used %d parts", n)
	}
	// rsync's temporary name becomes a version when renamed.
	os.WriteFile(filepath.Join(src, "world.vrcw"), big[:4<<20], 0o644)
	run(t, "rsync", filepath.Join(src, "world.vrcw"), world+"/")
	if got := lsNames(t, world); got != "1.vrcw 2.vrcw latest.vrcw" {
		t.Errorf("after rsync: %q", got)
	}
	if got, _ := os.ReadFile(filepath.Join(world, "latest.vrcw")); !bytes.Equal(got, big[:4<<20]) {
		t.Error("rsync'd version differs")
	}

	// A wrong extension is refused with a reason.
	os.WriteFile(filepath.Join(src, "photo.jpg"), []byte("jpeg"), 0o644)
	out, err := command("cp", filepath.Join(src, "photo.jpg"), pic)
	if err == nil || !strings.Contains(out, "Invalid argument") || !strings.Contains(env.logs.String(), ".png") {
		t.Errorf("wrong extension: %v %q\n%s", err, out, env.logs.String())
	}

	// Deleting: only the newest version; then rm -r removes the File.
	out, err = command("rm", filepath.Join(pic, "1.png"))
	if err == nil || !strings.Contains(out, "Operation not permitted") || !strings.Contains(env.logs.String(), "newest") {
		t.Errorf("rm of an old version: %v %q", err, out)
	}
	run(t, "rm", filepath.Join(pic, "2.png"))
	if got := lsNames(t, pic); got != "1.png latest.png" {
		t.Errorf("after rm 2.png: %q", got)
	}
	// -f: rm -r alone may report that the second name of the last
	// version is gone (SEMANTICS.md, "rm -r of a File").
	run(t, "rm", "-rf", pic)
	if _, err := os.Stat(pic); !os.IsNotExist(err) {
		t.Errorf("rm -r left the File: %v", err)
	}
	if n := env.srv.Stats().ByRoute["DELETE /file/{id}"]; n != 1 {
		t.Errorf("%d File deletes", n)
	}
	// Renaming is refused with a reason.
	out, err = command("mv", world, filepath.Join(env.dir, "Renamed"))
	if err == nil || !strings.Contains(env.logs.String(), "cannot be renamed") {
		t.Errorf("mv of a File: %v %q", err, out)
	}
	if st := env.srv.Stats(); st.CookiesSeenOnS3 != 0 {
		t.Errorf("%d storage requests carried cookies", st.CookiesSeenOnS3)
	}
}
