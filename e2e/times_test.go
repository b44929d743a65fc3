//go:build linux

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/filesmount/filesmount/remote/cbrain"
	"github.com/filesmount/filesmount/remote/cbrain/cbraintest"
	"github.com/filesmount/filesmount/remote/vrchat/vrchattest"
)

var transferredRe = regexp.MustCompile(`(?m)^Number of regular files transferred: (\d+)$`)

// rsyncStats runs rsync -a --stats with args and returns how many regular
// files it transferred.
func rsyncStats(t *testing.T, args ...string) int {
	t.Helper()
	out := run(t, "rsync", append([]string{"-a", "--stats"}, args...)...)
	m := transferredRe.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("rsync --stats printed no transfer count:\n%s", out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// statField runs stat -c format on path.
func statField(t *testing.T, format, path string) string {
	t.Helper()
	return strings.TrimSpace(run(t, "stat", "-c", format, path))
}

// remountCBRAIN unmounts env's mount and mounts the same portal again
// with the same cache directory, as a restarted daemon does.
func remountCBRAIN(t *testing.T, env *cbrainEnv) {
	t.Helper()
	if err := env.m.server.Unmount(); err != nil {
		t.Fatalf("unmount: %v", err)
	}
	client, err := cbrain.NewClient(cbrain.Config{URL: env.srv.URL(), Token: env.token})
	if err != nil {
		t.Fatal(err)
	}
	client.SyncTimeout = 20 * time.Second
	client.PollInterval = 20 * time.Millisecond
	client.UploadTimeout = 5 * time.Second
	m := mountStores(t, mountOptions{cacheDir: env.m.cacheDir}, cbrain.NewStore(client))
	env.m, env.mnt, env.cache, env.logs = m, m.mnt, m.cache, m.logs
}

// TestTimesRsyncCBRAINRoundTrip: rsync -a into a CBRAIN provider keeps
// the source's times, so a second run (also after a restart of the
// daemon) uploads nothing; copying out twice copies nothing the second
// time; a change of content is uploaded once.
func TestTimesRsyncCBRAINRoundTrip(t *testing.T) {
	requireCommand(t, "rsync")
	env := mountCBRAIN(t, envOptions{cacheDir: t.TempDir()})
	dp := func() string { return filepath.Join(env.mnt, "cbrain", "MainStore") }
	src := t.TempDir()
	content := map[string][]byte{
		"a.txt":   []byte("alpha\n"),
		"b.json":  []byte(`{"b":1}`),
		"big.bin": randomBytes(3<<20+5, 7),
		"c.csv":   []byte("x,y\n1,2\n"),
	}
	base := time.Date(2021, 6, 1, 12, 0, 0, 123456789, time.UTC)
	i := 0
	for name, b := range content {
		p := filepath.Join(src, name)
		os.WriteFile(p, b, 0o644)
		mt := base.Add(time.Duration(i) * time.Hour)
		os.Chtimes(p, mt.Add(time.Minute), mt)
		i++
	}
	wantMtime := func(name string) string {
		t.Helper()
		return statField(t, "%.9Y", filepath.Join(src, name))
	}

	if n := rsyncStats(t, src+"/", dp()+"/"); n != len(content) {
		t.Fatalf("first rsync transferred %d files, want %d", n, len(content))
	}
	for name := range content {
		if got, want := statField(t, "%.9Y", filepath.Join(dp(), name)), wantMtime(name); got != want {
			t.Errorf("%s: mtime %s on the mount, %s in the source", name, got, want)
		}
	}
	env.srv.ResetStats()
	if n := rsyncStats(t, src+"/", dp()+"/"); n != 0 {
		t.Errorf("second rsync transferred %d files, want 0", n)
	}
	if n := env.srv.Stats().ByRoute["POST /userfiles"]; n != 0 {
		t.Errorf("second rsync uploaded %d files", n)
	}

	// touch and cp -p on the mount.
	readme := func() string { return filepath.Join(dp(), "README.txt") }
	run(t, "touch", "-d", "@1580608922.5", readme())
	run(t, "touch", "-a", "-d", "@1500000000", readme()) // atime only: mtime stays
	if got := statField(t, "%.9Y %X", readme()); got != "1580608922.500000000 1500000000" {
		t.Errorf("README.txt after touch -d and touch -a: mtime, atime = %s", got)
	}
	run(t, "cp", "-p", filepath.Join(src, "c.csv"), filepath.Join(dp(), "copy-p.csv"))
	if got, want := statField(t, "%.9Y", filepath.Join(dp(), "copy-p.csv")), wantMtime("c.csv"); got != want {
		t.Errorf("cp -p: mtime %s, want %s", got, want)
	}

	// Copying out twice: the second copies nothing. (The demo's
	// pending_upload.dat has no size yet and cannot be read.)
	dst := t.TempDir()
	if n := rsyncStats(t, "--exclude=pending_upload.dat", dp()+"/", dst+"/"); n < len(content)+5 {
		t.Errorf("copy out transferred only %d files", n)
	}
	if n := rsyncStats(t, "--exclude=pending_upload.dat", dp()+"/", dst+"/"); n != 0 {
		t.Errorf("second copy out transferred %d files, want 0", n)
	}
	if got, want := statField(t, "%.9Y", filepath.Join(dst, "a.txt")), wantMtime("a.txt"); got != want {
		t.Errorf("copied out a.txt: mtime %s, want %s", got, want)
	}

	// A restarted daemon with the same cache directory remembers.
	remountCBRAIN(t, env)
	env.srv.ResetStats()
	if n := rsyncStats(t, src+"/", dp()+"/"); n != 0 {
		t.Errorf("rsync after the restart transferred %d files, want 0", n)
	}
	if n := rsyncStats(t, "--exclude=pending_upload.dat", dp()+"/", dst+"/"); n != 0 {
		t.Errorf("copy out after the restart transferred %d files, want 0", n)
	}
	if n := env.srv.Stats().ByRoute["POST /userfiles"]; n != 0 {
		t.Errorf("%d uploads after the restart", n)
	}
	if got := statField(t, "%Y", readme()); got != "1580608922" {
		t.Errorf("README.txt mtime after the restart: %s", got)
	}
	times := filepath.Join(env.m.cacheDir, "times")
	if fi, err := os.Stat(times); err != nil {
		t.Errorf("the times users set are not saved: %v", err)
	} else if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %v, want 0600", times, fi.Mode())
	}

	// New content at the same size: uploaded once, then nothing again.
	content["a.txt"] = []byte("ALPHA\n")
	os.WriteFile(filepath.Join(src, "a.txt"), content["a.txt"], 0o644)
	os.Chtimes(filepath.Join(src, "a.txt"), base, base.Add(48*time.Hour))
	if n := rsyncStats(t, src+"/", dp()+"/"); n != 1 {
		t.Errorf("rsync after a change transferred %d files, want 1", n)
	}
	if got := refreshed(t, filepath.Join(dp(), "a.txt")); !bytes.Equal(got, content["a.txt"]) {
		t.Errorf("a.txt on the portal: %q", got)
	}
	if n := rsyncStats(t, src+"/", dp()+"/"); n != 0 {
		t.Errorf("rsync after the changed file landed transferred %d files, want 0", n)
	}
}

// TestTimesCBRAINCollectionMembers: members of a collection show the
// portal's own mtimes (the collection listing has them).
func TestTimesCBRAINCollectionMembers(t *testing.T) {
	env := mountCBRAIN(t, envOptions{})
	got := statField(t, "%Y", filepath.Join(env.mnt, "cbrain", "MainStore", "sub-01_anat", "participants.tsv"))
	sec, _ := strconv.ParseInt(got, 10, 64)
	if d := time.Since(time.Unix(sec, 0)); d < -time.Minute || d > time.Hour {
		t.Errorf("member mtime %s: not the emulator's (just written) file time", got)
	}
}

// TestTimesVRChatCopyOutTwice: versions show their created_at, so a
// second rsync -a out of the mount copies nothing.
func TestTimesVRChatCopyOutTwice(t *testing.T) {
	requireCommand(t, "rsync")
	env := mountVRChat(t, func(srv *vrchattest.Server, user string) {
		srv.AddFile(vrchattest.FileSpec{OwnerID: user, Name: "Profile picture", MimeType: "image/png", Extension: "png",
			Versions: []vrchattest.VersionSpec{{Content: vrchattest.PNG(10, 10, 1)}, {Content: vrchattest.PNG(20, 20, 2)}}})
		srv.AddFile(vrchattest.FileSpec{OwnerID: user, Name: "Shot", MimeType: "image/png", Extension: ".png", Tags: []string{"gallery"},
			Versions: []vrchattest.VersionSpec{{Content: vrchattest.PNG(30, 30, 3)}}})
		id := srv.AddFile(vrchattest.FileSpec{OwnerID: user, Name: "Avatar", MimeType: "application/x-avatar", Extension: ".vrca",
			Versions: []vrchattest.VersionSpec{{Content: []byte("bundle one")}}})
		srv.SetAnalysis(id, 1, true)
	})
	dst := t.TempDir()
	if n := rsyncStats(t, env.dir+"/", dst+"/"); n < 8 {
		t.Errorf("copy out transferred only %d files", n)
	}
	if n := rsyncStats(t, env.dir+"/", dst+"/"); n != 0 {
		t.Errorf("second copy out transferred %d files, want 0", n)
	}
	v1 := filepath.Join(env.dir, "Profile picture", "1.png")
	sec, _ := strconv.ParseInt(statField(t, "%Y", v1), 10, 64)
	if d := time.Since(time.Unix(sec, 0)); d < -time.Minute || d > time.Hour {
		t.Errorf("1.png mtime %d is not its created_at (just now)", sec)
	}
	if got, want := statField(t, "%.9Y", filepath.Join(dst, "Profile picture", "1.png")), statField(t, "%.9Y", v1); got != want {
		t.Errorf("copied 1.png: mtime %s, want %s", got, want)
	}
	report := run(t, "cat", filepath.Join(env.dir, "Avatar", "1.analysis.json"))
	if got, _ := os.ReadFile(filepath.Join(dst, "Avatar", "1.analysis.json")); len(got) == 0 || string(got) != report {
		t.Errorf("copied analysis report: %.100q, want %.100q", got, report)
	}
}

// TestAnalysisReportSizes: stat, ls -l, tar and rsync see the true size
// of an analysis report (fetched once at lookup and shared with the
// open); a report VRChat has not produced yet is 0 bytes and fails to
// open with EAGAIN and one log line.
func TestAnalysisReportSizes(t *testing.T) {
	requireCommand(t, "rsync")
	env := mountVRChat(t, func(srv *vrchattest.Server, user string) {
		id := srv.AddFile(vrchattest.FileSpec{OwnerID: user, Name: "Avatar", MimeType: "application/x-avatar", Extension: ".vrca",
			Versions: []vrchattest.VersionSpec{{Content: []byte("bundle one")}, {Content: []byte("bundle two")}}})
		srv.SetAnalysis(id, 1, false)
		srv.SetAnalysis(id, 2, true)
	})
	dir := filepath.Join(env.dir, "Avatar")
	ready := []string{"2.analysis.json", "2.analysis.security.json", "2.analysis.standard.json"}
	env.srv.ResetStats()
	listing := run(t, "ls", "-l", dir)
	reports := map[string]string{}
	for _, name := range ready {
		size := statField(t, "%s", filepath.Join(dir, name))
		body := run(t, "cat", filepath.Join(dir, name))
		if size == "0" || size != strconv.Itoa(len(body)) || !strings.Contains(body, "performanceRating") {
			t.Errorf("%s: stat says %s bytes, cat reads %d: %.80q", name, size, len(body), body)
		}
		if line := lineWith(listing, name); !strings.Contains(line, " "+size+" ") {
			t.Errorf("ls -l shows %q, want size %s", line, size)
		}
		reports[name] = body
	}
	fetches := int64(0)
	for route, n := range env.srv.Stats().ByRoute {
		if strings.HasPrefix(route, "GET /analysis/") {
			fetches += n
		}
	}
	// One fetch per report for ls -l, stat and cat (2.*), one per pending
	// report at lookup (1.*, remembered): 6.
	if fetches != 6 {
		t.Errorf("%d analysis requests, want 6 (one per report): %v", fetches, env.srv.Stats().ByRoute)
	}

	// Not produced yet: 0 bytes, and open fails with EAGAIN, logged once.
	pending := filepath.Join(dir, "1.analysis.json")
	if got := statField(t, "%s", pending); got != "0" {
		t.Errorf("pending report: size %s, want 0", got)
	}
	out, err := command("cat", pending)
	if err == nil || !strings.Contains(out, "Resource temporarily unavailable") {
		t.Errorf("pending report: %v %q, want EAGAIN", err, out)
	}
	if n := strings.Count(env.logs.String(), "1.analysis.json"); n != 1 {
		t.Errorf("%d log lines about the pending report, want 1:\n%s", n, env.logs.String())
	}

	// tar archives the reports with their content.
	archive := filepath.Join(t.TempDir(), "a.tar")
	run(t, "tar", "-C", dir, "-cf", archive, ready[0], ready[1], ready[2], "2.vrca")
	x := t.TempDir()
	run(t, "tar", "-C", x, "-xf", archive)
	for name, want := range reports {
		if got, _ := os.ReadFile(filepath.Join(x, name)); string(got) != want {
			t.Errorf("tar: %s holds %d bytes, want %d", name, len(got), len(want))
		}
	}
	// So does rsync -a (the reports, 1.vrca, 2.vrca, latest.vrca), once.
	dst := t.TempDir()
	if n := rsyncStats(t, "--exclude=1.analysis*", dir+"/", dst+"/"); n != 6 {
		t.Errorf("rsync transferred %d files, want 6", n)
	}
	if n := rsyncStats(t, "--exclude=1.analysis*", dir+"/", dst+"/"); n != 0 {
		t.Errorf("second rsync transferred %d files, want 0", n)
	}
	for name, want := range reports {
		if got, _ := os.ReadFile(filepath.Join(dst, name)); string(got) != want {
			t.Errorf("rsync: %s holds %d bytes, want %d", name, len(got), len(want))
		}
	}
}

// TestNlinkLatestVersion: latest<ext> and the version it follows are one
// inode with two names, so du counts it once.
func TestNlinkLatestVersion(t *testing.T) {
	versions := [][]byte{randomBytes(5000, 1), randomBytes(70_000, 2), randomBytes(1234, 3)}
	env := mountVRChat(t, func(srv *vrchattest.Server, user string) {
		var vs []vrchattest.VersionSpec
		for _, v := range versions {
			vs = append(vs, vrchattest.VersionSpec{Content: v})
		}
		srv.AddFile(vrchattest.FileSpec{OwnerID: user, Name: "World", MimeType: "application/x-world", Extension: ".vrcw", Versions: vs})
	})
	dir := filepath.Join(env.dir, "World")
	latest, newest := statField(t, "%h %i", filepath.Join(dir, "latest.vrcw")), statField(t, "%h %i", filepath.Join(dir, "3.vrcw"))
	if !strings.HasPrefix(latest, "2 ") || latest != newest {
		t.Errorf("latest.vrcw: nlink, inode = %s; 3.vrcw: %s; want nlink 2 and the same inode", latest, newest)
	}
	if got := statField(t, "%h", filepath.Join(dir, "1.vrcw")); got != "1" {
		t.Errorf("1.vrcw nlink = %s, want 1", got)
	}
	var bytesSum, blocks int64
	for _, v := range versions {
		bytesSum += int64(len(v))
		blocks += (int64(len(v)) + 511) / 512
	}
	if got := strings.Fields(run(t, "du", "-s", "-B1", dir))[0]; got != fmt.Sprint(blocks*512) {
		t.Errorf("du -s -B1 = %s, want %d (each version once)", got, blocks*512)
	}
	if got := strings.Fields(run(t, "du", "-s", "-b", dir))[0]; got != fmt.Sprint(bytesSum) {
		t.Errorf("du -sb = %s, want %d", got, bytesSum)
	}
}

// TestModesAsDocumented: the modes SEMANTICS.md states. Writable mount:
// 0644 files and 0755 directories, but 0444/0555 for what the remote
// marks read-only; a --read-only mount: 0444/0555; the mount root 0555.
func TestModesAsDocumented(t *testing.T) {
	seed := func(t *testing.T, srv *cbraintest.Server, user int) {
		admin := srv.AddUser("keeper", "pw", true)
		ro := srv.AddProvider("Frozen", admin, cbraintest.ProviderOptions{ReadOnly: true})
		open := srv.AddProvider("Open", admin, cbraintest.ProviderOptions{})
		srv.AddFile(cbraintest.FileSpec{Name: "locked.txt", ProviderID: open, OwnerID: user, Immutable: true, Content: []byte("x")})
		srv.AddFile(cbraintest.FileSpec{Name: "frozen.txt", ProviderID: ro, OwnerID: user, Content: []byte("y")})
	}
	rw := mountCBRAIN(t, envOptions{seed: seed})
	ro := mountCBRAIN(t, envOptions{seed: seed, readOnly: true})
	for _, tc := range []struct {
		mnt, path, rw, ro string
	}{
		{"", "", "555", "555"},
		{"", "cbrain", "755", "555"},
		{"", "cbrain/MainStore", "755", "555"},
		{"", "cbrain/MainStore/README.txt", "644", "444"},
		{"", "cbrain/MainStore/sub-01_anat", "755", "555"},
		{"", "cbrain/Open/locked.txt", "444", "444"},
		{"", "cbrain/Frozen/frozen.txt", "644", "444"},
		{"", "cbrain/Frozen", "555", "555"},
	} {
		if got := statField(t, "%a", filepath.Join(rw.mnt, tc.path)); got != tc.rw {
			t.Errorf("writable mount: %s is %s, want %s", tc.path, got, tc.rw)
		}
		if got := statField(t, "%a", filepath.Join(ro.mnt, tc.path)); got != tc.ro {
			t.Errorf("read-only mount: %s is %s, want %s", tc.path, got, tc.ro)
		}
	}

	env := mountVRChat(t, func(srv *vrchattest.Server, user string) {
		id := srv.AddFile(vrchattest.FileSpec{OwnerID: user, Name: "Avatar", MimeType: "application/x-avatar", Extension: ".vrca",
			Versions: []vrchattest.VersionSpec{{Content: []byte("bundle")}}})
		srv.SetAnalysis(id, 1, true)
	})
	for path, want := range map[string]string{"tags": "555", "Avatar": "755", "Avatar/1.vrca": "644", "Avatar/1.analysis.json": "444"} {
		if got := statField(t, "%a", filepath.Join(env.dir, path)); got != want {
			t.Errorf("vrchat/%s is %s, want %s", path, got, want)
		}
	}
	report := filepath.Join(env.dir, "Avatar", "1.analysis.json")
	if out, err := command("sh", "-c", "echo x > '"+report+"'"); err == nil || !strings.Contains(out, "Permission denied") {
		t.Errorf("writing an analysis report: %v %q, want EACCES", err, out)
	}
	if out, err := command("rm", "-f", report); err == nil || !strings.Contains(out, "Read-only file system") {
		t.Errorf("removing an analysis report: %v %q, want EROFS", err, out)
	}
}
