//go:build linux

package e2e

import (
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/filesmount/filesmount/remote/vrchat"
	"github.com/filesmount/filesmount/remote/vrchat/vrchattest"
)

// vrchatEnv is an emulated VRChat account mounted at mnt/vrchat.
type vrchatEnv struct {
	m    *mounted
	srv  *vrchattest.Server
	user string
	dir  string // mnt/vrchat
	logs *syncWriter
}

// testThrottle paces the test clients far faster than VRChat's 5
// requests/s: the model tests list every directory after every step. The
// real pace and the back-off after a 429 are tested in remote/vrchat
// (throttle_test.go, throttle_emu_test.go).
var testThrottle = vrchat.ThrottleOptions{Rate: 2000, Burst: 200}

func mountVRChat(t *testing.T, seed func(srv *vrchattest.Server, user string)) *vrchatEnv {
	return mountVRChatWith(t, vrchattest.Options{}, seed)
}

// mountVRChatWith uses small multipart parts and fast polling, so that
// the upload protocol's paths run in seconds.
func mountVRChatWith(t *testing.T, o vrchattest.Options, seed func(srv *vrchattest.Server, user string)) *vrchatEnv {
	t.Helper()
	requireFUSE(t)
	o.DataDir = t.TempDir()
	if o.MinPartSize == 0 {
		o.MinPartSize = 1 << 20 // the client below uses 1 MiB parts
	}
	srv, err := vrchattest.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	user := srv.AddUser("creator", "pw")
	if seed != nil {
		seed(srv, user)
	}
	auth, twoFA := srv.NewSession(user)
	client, err := vrchat.NewClient(vrchat.Config{URL: srv.URL(), UserAgent: "filesmount/test e2e@filesmount.test",
		Cookies:  vrchat.Cookies{Auth: auth, TwoFactorAuth: twoFA},
		Upload:   vrchat.UploadOptions{PartSize: 1 << 20, PollInterval: 20 * time.Millisecond, PollMaxInterval: 100 * time.Millisecond},
		Throttle: testThrottle})
	if err != nil {
		t.Fatal(err)
	}
	m := mountStores(t, mountOptions{metadataTTL: time.Minute}, vrchat.NewStore(client))
	return &vrchatEnv{srv: srv, user: user, dir: filepath.Join(m.mnt, "vrchat"), logs: m.logs, m: m}
}

func TestVRChatTreeAndVersions(t *testing.T) {
	v1, v2, v3 := vrchattest.PNG(10, 10, 1), vrchattest.PNG(20, 20, 2), vrchattest.PNG(30, 30, 3)
	env := mountVRChat(t, func(srv *vrchattest.Server, user string) {
		srv.AddFile(vrchattest.FileSpec{OwnerID: user, Name: "Profile picture", MimeType: "image/png", Extension: "png",
			Versions: []vrchattest.VersionSpec{{Content: v1}, {Content: v2}, {Content: v3}}})
		srv.AddFile(vrchattest.FileSpec{OwnerID: user, Name: "Twin", MimeType: "image/png", Extension: ".png",
			Versions: []vrchattest.VersionSpec{{Content: v1}}})
		srv.AddFile(vrchattest.FileSpec{OwnerID: user, Name: "Twin", MimeType: "image/png", Extension: ".png",
			Versions: []vrchattest.VersionSpec{{Content: v2}}})
		srv.AddFile(vrchattest.FileSpec{OwnerID: user, Name: "WIP", MimeType: "application/x-world", Extension: ".vrcw",
			Versions: []vrchattest.VersionSpec{{Content: []byte("done")}, {Content: []byte("uploading"), Status: "waiting"}}})
		srv.AddFile(vrchattest.FileSpec{OwnerID: user, Name: "Shot", MimeType: "image/png", Extension: ".png", Tags: []string{"gallery"},
			Versions: []vrchattest.VersionSpec{{Content: v3, NoMD5: true}}})
	})
	pic := filepath.Join(env.dir, "Profile picture")

	// Versions newest first after latest, as the directory lists them
	// (ls -f keeps the filesystem's order).
	if got := strings.Fields(run(t, "ls", "-f", pic)); strings.Join(got, " ") != "latest.png 3.png 2.png 1.png" {
		t.Errorf("ls -f: %v", got)
	}
	out := run(t, "ls", "-l", pic)
	if !strings.Contains(out, fmt.Sprint(len(v3))+" ") {
		t.Errorf("ls -l lacks the size of 3.png:\n%s", out)
	}
	dst := t.TempDir()
	run(t, "cp", filepath.Join(pic, "2.png"), filepath.Join(pic, "latest.png"), dst)
	for name, want := range map[string][]byte{"2.png": v2, "latest.png": v3} {
		if got, _ := os.ReadFile(filepath.Join(dst, name)); !bytes.Equal(got, want) {
			t.Errorf("cp %s: wrong content", name)
		}
	}
	os.WriteFile(filepath.Join(dst, "ref1"), v1, 0o644)
	run(t, "cmp", filepath.Join(pic, "1.png"), filepath.Join(dst, "ref1"))

	// Both Files named "Twin" are visible.
	names := run(t, "ls", env.dir)
	if strings.Count(names, "Twin") != 2 {
		t.Errorf("two Files named Twin: %q", names)
	}
	// Only the complete version of a File whose newest upload is unfinished.
	if got := strings.Fields(run(t, "ls", filepath.Join(env.dir, "WIP"))); strings.Join(got, " ") != "1.vrcw latest.vrcw" {
		t.Errorf("WIP shows %v", got)
	}
	if got := run(t, "cat", filepath.Join(env.dir, "WIP", "latest.vrcw")); got != "done" {
		t.Errorf("WIP latest = %q", got)
	}
	// Tag view.
	if got := strings.TrimSpace(run(t, "ls", filepath.Join(env.dir, "tags", "gallery"))); got != "Shot" {
		t.Errorf("tags/gallery = %q", got)
	}
	if got, _ := os.ReadFile(filepath.Join(env.dir, "tags", "gallery", "Shot", "1.png")); !bytes.Equal(got, v3) {
		t.Error("tags/gallery/Shot/1.png has wrong content")
	}

	if st := env.srv.Stats(); st.CookiesSeenOnS3 != 0 {
		t.Errorf("%d storage requests carried cookies", st.CookiesSeenOnS3)
	}
}

func TestVRChatLatestFollowsNewVersion(t *testing.T) {
	var fileID string
	v1, v2 := vrchattest.PNG(10, 10, 1), vrchattest.PNG(20, 20, 2)
	requireFUSE(t)
	srv, err := vrchattest.New(vrchattest.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	user := srv.AddUser("creator", "pw")
	fileID = srv.AddFile(vrchattest.FileSpec{OwnerID: user, Name: "Pic", MimeType: "image/png", Extension: "png",
		Versions: []vrchattest.VersionSpec{{Content: v1}}})
	auth, twoFA := srv.NewSession(user)
	client, _ := vrchat.NewClient(vrchat.Config{URL: srv.URL(), UserAgent: "filesmount/test e2e@filesmount.test",
		Cookies: vrchat.Cookies{Auth: auth, TwoFactorAuth: twoFA}})
	m := mountStores(t, mountOptions{metadataTTL: 500 * time.Millisecond}, vrchat.NewStore(client)) // short TTL: see the new version soon
	latest := filepath.Join(m.mnt, "vrchat", "Pic", "latest.png")
	if got, _ := os.ReadFile(latest); !bytes.Equal(got, v1) {
		t.Fatal("latest.png is not version 1")
	}
	srv.AddVersion(fileID, vrchattest.VersionSpec{Content: v2})
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, _ := os.ReadFile(latest)
		if bytes.Equal(got, v2) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("latest.png never became version 2")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got := strings.Fields(run(t, "ls", filepath.Join(m.mnt, "vrchat", "Pic"))); strings.Join(got, " ") != "1.png 2.png latest.png" {
		t.Errorf("after the new version: %v", got)
	}
}

func TestVRChatMD5MismatchIsEIO(t *testing.T) {
	env := mountVRChat(t, func(srv *vrchattest.Server, user string) {
		srv.AddFile(vrchattest.FileSpec{OwnerID: user, Name: "Broken", MimeType: "image/png", Extension: "png",
			Versions: []vrchattest.VersionSpec{{Content: vrchattest.PNG(50, 50, 9), BadMD5: true}}})
	})
	out, err := command("cat", filepath.Join(env.dir, "Broken", "1.png"))
	if err == nil || !strings.Contains(out, "Input/output error") {
		t.Errorf("reading a version with a wrong MD5: err %v, output %.100q; want EIO", err, out)
	}
	if !strings.Contains(env.logs.String(), "MD5 mismatch") {
		t.Errorf("no log line about the mismatch:\n%s", env.logs.String())
	}
}

func TestVRChatAnalysisFiles(t *testing.T) {
	env := mountVRChat(t, func(srv *vrchattest.Server, user string) {
		id := srv.AddFile(vrchattest.FileSpec{OwnerID: user, Name: "Avatar", MimeType: "application/x-avatar", Extension: ".vrca",
			Versions: []vrchattest.VersionSpec{{Content: []byte("bundle one")}, {Content: []byte("bundle two")}}})
		srv.SetAnalysis(id, 1, false)
		srv.SetAnalysis(id, 2, true)
	})
	dir := filepath.Join(env.dir, "Avatar")
	listing := run(t, "ls", dir)
	for _, want := range []string{"2.vrca", "2.analysis.json", "2.analysis.security.json", "2.analysis.standard.json", "1.analysis.json"} {
		if !strings.Contains(listing, want) {
			t.Errorf("ls lacks %s:\n%s", want, listing)
		}
	}
	for _, name := range []string{"2.analysis.json", "2.analysis.security.json", "2.analysis.standard.json"} {
		got := run(t, "cat", filepath.Join(dir, name))
		if !strings.Contains(got, "performanceRating") && !strings.Contains(got, "avatarStats") {
			t.Errorf("%s: %.200q", name, got)
		}
	}
	// Not analysed yet: a clear error, never empty data.
	out, err := command("cat", filepath.Join(dir, "1.analysis.json"))
	if err == nil || !strings.Contains(out, "Resource temporarily unavailable") {
		t.Errorf("pending analysis: err %v, output %q; want EAGAIN", err, out)
	}
}

func TestVRChatLargeVersionReads(t *testing.T) {
	const size = 40<<20 + 777
	env := mountVRChat(t, func(srv *vrchattest.Server, user string) {
		srv.AddFile(vrchattest.FileSpec{OwnerID: user, Name: "World", MimeType: "application/x-world", Extension: ".vrcw",
			Versions: []vrchattest.VersionSpec{{Source: vrchattest.DeterministicContent(5, size), Size: size}}})
	})
	want := make([]byte, size)
	vrchattest.DeterministicContent(5, size).ReadAt(want, 0)
	path := filepath.Join(env.dir, "World", "1.vrcw")
	ref := filepath.Join(t.TempDir(), "ref")
	os.WriteFile(ref, want, 0o644)

	env.srv.ResetStats()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out, err := command("cmp", path, ref); err != nil {
				errs <- fmt.Errorf("cmp: %v %s", err, out)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st := env.srv.Stats()
	if st.DownloadBytes > size*105/100 {
		t.Errorf("4 concurrent sequential readers fetched %d bytes for a %d-byte version", st.DownloadBytes, size)
	}
	if st.CookiesSeenOnS3 != 0 {
		t.Errorf("%d storage requests carried cookies", st.CookiesSeenOnS3)
	}
	t.Logf("4 readers: %d requests, %d bytes fetched (%.3f); routes %v", st.Requests, st.DownloadBytes, float64(st.DownloadBytes)/size, st.ByRoute)

	// Re-read: the page cache is kept for an immutable version.
	env.srv.ResetStats()
	run(t, "cmp", path, ref)
	if st := env.srv.Stats(); st.DownloadBytes != 0 {
		t.Errorf("re-read fetched %d bytes", st.DownloadBytes)
	}

	// Random reads compared byte for byte.
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rng := rand.New(rand.NewSource(9))
	for i := 0; i < 200; i++ {
		off := rng.Int63n(size)
		buf := make([]byte, 1+rng.Intn(100_000))
		n, err := f.ReadAt(buf, off)
		if err != nil && err != io.EOF {
			t.Fatal(err)
		}
		if !bytes.Equal(buf[:n], want[off:off+int64(n)]) || int64(n) != min(int64(len(buf)), size-off) {
			t.Fatalf("ReadAt(%d, %d): mismatch", off, len(buf))
		}
	}
}

// TestVRChatListing1000Files: listing 1,000 Files pages /files by 100 and
// makes no request per File or version.
func TestVRChatListing1000Files(t *testing.T) {
	env := mountVRChat(t, func(srv *vrchattest.Server, user string) {
		for i := 0; i < 1000; i++ {
			srv.AddFile(vrchattest.FileSpec{OwnerID: user, Name: fmt.Sprintf("img-%04d", i), MimeType: "image/png", Extension: ".png",
				Versions: []vrchattest.VersionSpec{{Content: []byte{byte(i)}}}})
		}
	})
	env.srv.ResetStats()
	out := run(t, "ls", "-l", env.dir)
	if n := strings.Count(out, "img-"); n != 1000 {
		t.Fatalf("ls -l shows %d Files", n)
	}
	st := env.srv.Stats()
	if n := st.ByRoute["GET /files"]; n > 11 {
		t.Errorf("%d /files requests for 1000 Files", n)
	}
	if st.Requests != st.ByRoute["GET /files"] {
		t.Errorf("other requests while listing: %v", st.ByRoute)
	}
	t.Logf("ls -l of 1000 Files: %v", st.ByRoute)
}
