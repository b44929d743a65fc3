//go:build linux

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/filesmount/filesmount/remote/vrchat/vrchattest"
)

// seedAssets adds a world, an avatar, a unitypackage and an image.
func seedAssets(srv *vrchattest.Server, user string) {
	srv.AddFile(vrchattest.FileSpec{OwnerID: user, Name: "Hub", MimeType: "application/x-world", Extension: ".vrcw",
		Versions: []vrchattest.VersionSpec{{Content: []byte("world bundle")}}})
	srv.AddFile(vrchattest.FileSpec{OwnerID: user, Name: "Me", MimeType: "application/x-avatar", Extension: ".vrca",
		Versions: []vrchattest.VersionSpec{{Content: []byte("avatar bundle")}}})
	srv.AddFile(vrchattest.FileSpec{OwnerID: user, Name: "Kit", MimeType: "application/gzip", Extension: ".unitypackage",
		Versions: []vrchattest.VersionSpec{{Content: []byte("package")}}})
	srv.AddFile(vrchattest.FileSpec{OwnerID: user, Name: "Pic", MimeType: "image/png", Extension: ".png",
		Versions: []vrchattest.VersionSpec{{Content: vrchattest.PNG(8, 8, 3)}}})
}

// logLines returns the daemon's log lines that contain s.
func logLines(logs, s string) []string {
	var out []string
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}

// A download VRChat refuses while the session is valid: `cat` gets
// "Permission denied", the daemon logs one line naming the kind of File and
// saying VRChat does not serve it to a user session (never "log in
// again"), and everything else keeps working. Every way the emulator can
// refuse (401 or 403, at the download or at its redirect, each download
// mode).
func TestVRChatRefusedDownloadIsPermissionDenied(t *testing.T) {
	type variant struct {
		mode       vrchattest.DownloadMode
		status     int
		atRedirect bool
	}
	var variants []variant
	for _, mode := range []vrchattest.DownloadMode{vrchattest.DownloadToStorage, vrchattest.DownloadOnAPIHost, vrchattest.DownloadDirect} {
		for _, status := range []int{401, 403} {
			for _, atRedirect := range []bool{false, true} {
				if mode != vrchattest.DownloadDirect || !atRedirect {
					variants = append(variants, variant{mode, status, atRedirect})
				}
			}
		}
	}
	for _, v := range variants {
		t.Run(fmt.Sprintf("%s/%d/at-redirect=%v", v.mode, v.status, v.atRedirect), func(t *testing.T) {
			env := mountVRChatWith(t, vrchattest.Options{Download: v.mode, AssetRefusal: v.status, AssetRefusedAtRedirect: v.atRedirect}, seedAssets)
			// Listed with what is known of them, refused or not.
			out := run(t, "ls", "-l", filepath.Join(env.dir, "Hub"))
			if !strings.Contains(out, fmt.Sprint(len("world bundle"))+" ") || !strings.Contains(out, "latest.vrcw") {
				t.Errorf("ls -l Hub:\n%s", out)
			}
			out, err := command("cat", filepath.Join(env.dir, "Hub", "latest.vrcw"))
			if err == nil || !strings.Contains(out, "Permission denied") {
				t.Fatalf("cat of a refused world: err %v, output %q; want EACCES", err, out)
			}
			lines := logLines(env.logs.String(), "does not serve")
			if len(lines) != 1 || !strings.Contains(lines[0], "world") || !strings.Contains(lines[0], "EACCES") {
				t.Errorf("want one log line naming the world:\n%s", env.logs.String())
			}
			if strings.Contains(env.logs.String(), "filesmount login") {
				t.Errorf("the log sends the user to log in again:\n%s", env.logs.String())
			}
			// The other kinds are named too.
			for _, f := range []struct{ dir, name, kind string }{{"Me", "latest.vrca", "avatar"}, {"Kit", "1.unitypackage", "unitypackage"}} {
				if out, err := command("cat", filepath.Join(env.dir, f.dir, f.name)); err == nil || !strings.Contains(out, "Permission denied") {
					t.Errorf("cat %s: err %v, output %q", f.name, err, out)
				}
				if lines := logLines(env.logs.String(), "this "+f.kind+" to a user session"); len(lines) != 1 {
					t.Errorf("%d log lines naming the %s:\n%s", len(lines), f.kind, env.logs.String())
				}
			}
			// The image still reads, and nobody logged in.
			got, err := os.ReadFile(filepath.Join(env.dir, "Pic", "latest.png"))
			if err != nil || !bytes.Equal(got, vrchattest.PNG(8, 8, 3)) {
				t.Errorf("the image: %d bytes, %v", len(got), err)
			}
			st := env.srv.Stats()
			if n := st.ByRoute["GET /auth/user"]; n != 1 {
				t.Errorf("%d session checks, want 1", n)
			}
			if n := env.srv.Logins(env.user); n != 0 {
				t.Errorf("%d logins", n)
			}
			if st.CookiesSeenOnS3 != 0 {
				t.Errorf("%d storage requests carried cookies", st.CookiesSeenOnS3)
			}
		})
	}
}

// "Session expired, log in again" only when the API confirms it: a read
// after the session was revoked tells the user to log in, and the daemon
// does not log in by itself.
func TestVRChatExpiredSessionOnRead(t *testing.T) {
	env := mountVRChat(t, seedAssets)
	run(t, "ls", "-l", filepath.Join(env.dir, "Pic")) // listed while the session was good
	env.srv.ExpireSessions(env.user)
	out, err := command("cat", filepath.Join(env.dir, "Pic", "latest.png"))
	if err == nil || !strings.Contains(out, "Permission denied") {
		t.Fatalf("cat after the session expired: err %v, output %q; want EACCES", err, out)
	}
	lines := logLines(env.logs.String(), "run `filesmount login vrchat`")
	if len(lines) != 1 || !strings.Contains(lines[0], "/auth/user refuses the session too") || strings.Contains(lines[0], "does not serve") {
		t.Errorf("want one line saying the session expired:\n%s", env.logs.String())
	}
	if n := env.srv.Logins(env.user); n != 0 {
		t.Errorf("%d logins", n)
	}
}
