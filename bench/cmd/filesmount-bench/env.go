//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/filesmount/filesmount/remote/cbrain/cbraintest"
	"github.com/filesmount/filesmount/remote/vrchat"
	"github.com/filesmount/filesmount/remote/vrchat/vrchattest"
)

// userAgent is what the bench sends to the VRChat emulator's API (its WAF
// wants "Name/Version contact").
const userAgent = "filesmount-bench/1 https://github.com/filesmount/filesmount"

// bench holds the emulators, the daemon and the results.
type bench struct {
	c    *config
	rep  *report
	work string // temporary directory: emulator data, cache dir, mountpoints, logs

	cb      *cbraintest.Server
	cbUser  int
	cbToken string
	// cbHeaders and vrHeaders are curl header files (-H @file, mode
	// 0600) with the credentials, which never go in a command line.
	cbHeaders, vrHeaders string
	cbIDs                map[string]int // "Provider/name" -> userfile id
	cbProv               map[string]int // provider name -> id
	cbGroup              int            // the bench user's own group

	vr       *vrchattest.Server
	vrUser   string
	vrCookie vrchat.Cookies
	vrIDs    map[string]string // File name -> id

	daemon *proc
	mnt    string

	index  *indexServer
	rclone *proc
	rcMnt  string

	tmpfsCopy string // /dev/shm copy of the row-3 file
	srcFile   string // row 7 upload source
	srcMD5    []byte

	// results kept for the rclone comparisons
	fm map[string]float64
}

// Names of the seeded objects.
func freshName(i int) string { return fmt.Sprintf("fresh%02d.bin", i) }
func listName(i int) string  { return fmt.Sprintf("f%05d.dat", i) }

const (
	freshSize  = 4 << 20
	listSize   = 1000
	freshFiles = 10 // per repetition
)

func newBench(c *config) (*bench, error) {
	work, err := os.MkdirTemp("", "filesmount-bench-")
	if err != nil {
		return nil, err
	}
	b := &bench{c: c, work: work, rep: newReport(c), cbIDs: map[string]int{}, cbProv: map[string]int{},
		vrIDs: map[string]string{}, fm: map[string]float64{}}
	if err := b.startEmulators(); err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

func (b *bench) startEmulators() error {
	t0 := time.Now()
	var err error
	b.cb, err = cbraintest.New(cbraintest.Options{DataDir: filepath.Join(b.work, "cbrain")})
	if err != nil {
		return fmt.Errorf("CBRAIN emulator: %w", err)
	}
	vdir := filepath.Join(b.work, "vrchat")
	if err := os.MkdirAll(vdir, 0o700); err != nil {
		return err
	}
	b.vr, err = vrchattest.New(vrchattest.Options{DataDir: vdir})
	if err != nil {
		return fmt.Errorf("VRChat emulator: %w", err)
	}
	reps := b.c.reps

	// CBRAIN: providers and userfiles. Big contents are generated on demand.
	admin := b.cb.AddUser("admin", "admin-password", true)
	b.cbUser = b.cb.AddUser("bench", "bench-password", false)
	b.cbToken = b.cb.NewToken(b.cbUser)
	if b.cbHeaders, err = b.headerFile("cbrain-headers", "Accept: application/json", "Authorization: Bearer "+b.cbToken); err != nil {
		return err
	}
	prov := func(name string) int {
		id := b.cb.AddProvider(name, admin, cbraintest.ProviderOptions{Description: "bench"})
		b.cbProv[name] = id
		return id
	}
	add := func(p, name string, seed, size int64) {
		id := b.cb.AddFile(cbraintest.FileSpec{Name: name, ProviderID: b.cbProv[p], OwnerID: b.cbUser,
			Source: cbraintest.DeterministicContent(seed, size), Size: size})
		b.cbIDs[p+"/"+name] = id
	}
	// One big file per row: each repetition runs on a freshly started
	// daemon (and mount), so every read is cold.
	prov("BenchSeq")
	add("BenchSeq", "seq.bin", 101, b.c.size)
	prov("BenchReread")
	add("BenchReread", "reread.bin", 120, b.c.rereadSize)
	prov("BenchFresh")
	for i := 1; i <= reps*freshFiles; i++ {
		add("BenchFresh", freshName(i), int64(1000+i), freshSize)
	}
	for l := 1; l <= reps; l++ {
		p := fmt.Sprintf("List%d", l)
		prov(p)
		for i := 0; i < b.c.listEntries; i++ {
			add(p, listName(i), int64(l*100000+i), listSize)
		}
	}
	prov("BenchUpload")

	// VRChat: one File per big object (its version 1), generated on demand;
	// AddVersion computes each MD5, so they are made in parallel.
	b.vrUser = b.vr.AddUser("bench", "bench-password")
	auth, twoFA := b.vr.NewSession(b.vrUser)
	b.vrCookie = vrchat.Cookies{Auth: auth, TwoFactorAuth: twoFA}
	if b.vrHeaders, err = b.headerFile("vrchat-headers", "Cookie: auth="+auth+"; twoFactorAuth="+twoFA); err != nil {
		return err
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	addVR := func(name string, versions []vrchattest.VersionSpec) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			id := b.vr.AddFile(vrchattest.FileSpec{OwnerID: b.vrUser, Name: name, MimeType: "application/octet-stream",
				Extension: ".bin", Versions: versions})
			mu.Lock()
			b.vrIDs[name] = id
			mu.Unlock()
		}()
	}
	gen := func(seed, size int64) []vrchattest.VersionSpec {
		return []vrchattest.VersionSpec{{Source: vrchattest.DeterministicContent(seed, size), Size: size}}
	}
	addVR("Seq", gen(201, b.c.size))
	addVR("Rand", gen(211, b.c.size))
	addVR("Reread", gen(220, b.c.rereadSize))
	var fresh []vrchattest.VersionSpec
	for i := 1; i <= reps*freshFiles; i++ {
		fresh = append(fresh, gen(int64(2000+i), freshSize)...)
	}
	addVR("Fresh", fresh)
	addVR("Upload", []vrchattest.VersionSpec{{Content: []byte("first version\n")}})
	addVR("CurlUpload", []vrchattest.VersionSpec{{Content: []byte("first version\n")}})
	wg.Wait()
	logf("emulators ready in %s: CBRAIN %s, VRChat %s (objects %s)", time.Since(t0).Round(time.Millisecond),
		b.cb.URL(), b.vr.URL(), b.vr.S3URL())
	return nil
}

// ---- the daemon ----

// proc is a child process with its log.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

func startProc(name, logPath string, env []string, bin string, args ...string) (*proc, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, err
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		lf.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) tail() string {
	raw, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}

// stop sends SIGTERM (filesmount and rclone unmount on it), then kills
// after timeout and detaches the mountpoint.
func (p *proc) stop(mnt string, timeout time.Duration) {
	if p == nil {
		return
	}
	if !p.exited() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(timeout):
			logf("%s did not stop within %s; killing it", p.name, timeout)
			p.cmd.Process.Kill()
			<-p.done
		}
	}
	if mnt != "" && isMounted(mnt) {
		exec.Command("fusermount3", "-u", "-z", mnt).Run()
		if isMounted(mnt) {
			syscall.Unmount(mnt, syscall.MNT_DETACH)
		}
	}
}

func isMounted(dir string) bool {
	raw, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	abs, _ := filepath.Abs(dir)
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && f[4] == abs {
			return true
		}
	}
	return false
}

// waitMounted waits until all paths can be stat'ed on a FUSE mount at mnt.
func waitMounted(p *proc, mnt string, paths ...string) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if p.exited() {
			return fmt.Errorf("%s exited: %v\n%s", p.name, p.err, p.tail())
		}
		if isMounted(mnt) {
			ok := true
			for _, q := range paths {
				if _, err := os.Stat(filepath.Join(mnt, q)); err != nil {
					ok = false
				}
			}
			if ok {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s: %s not mounted after 60 s\n%s", p.name, mnt, p.tail())
}

func (b *bench) startDaemon() error {
	b.mnt = filepath.Join(b.work, "mnt")
	if err := os.MkdirAll(b.mnt, 0o755); err != nil {
		return err
	}
	sess := filepath.Join(b.work, "vrchat-session.json")
	raw, _ := json.Marshal(vrchat.SessionFile{URL: b.vr.URL(), UserID: b.vrUser, Username: "bench", Cookies: b.vrCookie})
	if err := os.WriteFile(sess, raw, 0o600); err != nil {
		return err
	}
	args := []string{"--cbrain-url", b.cb.URL(), "--vrchat", "--vrchat-session-file", sess, "--vrchat-url", b.vr.URL(),
		"--cache-size", b.c.cacheSize, "--cache-dir", filepath.Join(b.work, "cache"), b.mnt}
	p, err := startProc("filesmount", filepath.Join(b.work, "filesmount.log"), append([]string{"CBRAIN_API_TOKEN=" + b.cbToken}, b.c.daemonEnv...), b.c.daemon, args...)
	if err != nil {
		return err
	}
	b.daemon = p
	if err := waitMounted(p, b.mnt, "cbrain", "vrchat"); err != nil {
		p.stop(b.mnt, 5*time.Second)
		b.daemon = nil
		return err
	}
	logf("filesmount mounted at %s (pid %d, --cache-size %s)", b.mnt, p.pid(), b.c.cacheSize)
	return nil
}

// restartDaemon starts a new daemon: empty block cache and spool, and a
// new mount, so the kernel holds no page of it either.
func (b *bench) restartDaemon() error {
	b.stopDaemon()
	return b.startDaemon()
}

func (b *bench) stopDaemon() {
	if b.daemon != nil {
		b.daemon.stop(b.mnt, 60*time.Second)
		b.daemon = nil
	}
}

func (b *bench) close() {
	if b.rclone != nil {
		b.rclone.stop(b.rcMnt, 15*time.Second)
		b.rclone = nil
	}
	b.stopDaemon()
	if b.index != nil {
		b.index.close()
	}
	if b.cb != nil {
		b.cb.Close()
	}
	if b.vr != nil {
		b.vr.Close()
	}
	for _, f := range []string{b.tmpfsCopy, b.srcFile} {
		if f != "" {
			os.Remove(f)
		}
	}
	if b.c.keep {
		logf("work directory kept: %s", b.work)
		return
	}
	if b.mnt != "" && isMounted(b.mnt) || b.rcMnt != "" && isMounted(b.rcMnt) {
		logf("a mount is still attached; leaving %s", b.work)
		return
	}
	os.RemoveAll(b.work)
}

// ---- emulator helpers ----

// snap is an emulator's counters at one moment: content bytes served,
// requests, and requests per route.
type snap struct {
	bytes, reqs int64
	routes      map[string]int64
}

func (b *bench) cbSnap() snap {
	s := b.cb.Stats()
	return snap{s.ContentBytes, s.Requests, s.ByRoute}
}

func (b *bench) vrSnap() snap {
	s := b.vr.Stats()
	return snap{s.DownloadBytes, s.Requests, s.ByRoute}
}

func routeDiff(after, before map[string]int64) map[string]int64 {
	d := map[string]int64{}
	for k, v := range after {
		if n := v - before[k]; n != 0 {
			d[k] = n
		}
	}
	return d
}

// vrAPI makes an API request to the VRChat emulator with the session.
func (b *bench) vrAPI(method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, b.vr.URL()+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.AddCookie(&http.Cookie{Name: "auth", Value: b.vrCookie.Auth})
	req.AddCookie(&http.Cookie{Name: "twoFactorAuth", Value: b.vrCookie.TwoFactorAuth})
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return client.Do(req)
}

// vrLocation resolves a version's pre-signed storage URL (the 302 of
// GET /file/{id}/{v}).
func (b *bench) vrLocation(fileID string, v int) (string, error) {
	resp, err := b.vrAPI("GET", fmt.Sprintf("/file/%s/%d", fileID, v), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusFound {
		return "", fmt.Errorf("GET /file/%s/%d: %s", fileID, v, resp.Status)
	}
	return resp.Header.Get("Location"), nil
}

// ---- shell helpers ----

func runCmd(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

func timeCmd(timeout time.Duration, name string, args ...string) (time.Duration, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	t0 := time.Now()
	out, err := runCmd(ctx, name, args...)
	return time.Since(t0), out, err
}

// readAll reads a file sequentially with 1 MiB reads.
func readAll(path string) (int64, time.Duration, error) {
	buf := make([]byte, 1<<20)
	t0 := time.Now()
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	var n int64
	for {
		k, err := f.Read(buf)
		n += int64(k)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, time.Since(t0), err
		}
	}
	return n, time.Since(t0), nil
}

func dropCaches() error {
	syscall.Sync()
	return os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0o200)
}

// writeSource writes size deterministic bytes to path and returns their MD5.
func writeSource(path string, seed, size int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	h := md5.New()
	if _, err := io.Copy(io.MultiWriter(f, h), io.NewSectionReader(cbraintest.DeterministicContent(seed, size), 0, size)); err != nil {
		f.Close()
		return nil, err
	}
	return h.Sum(nil), f.Close()
}

// ---- RSS ----

// rssWatch records a process's peak resident memory: VmHWM after resetting
// it (clear_refs 5), and VmRSS sampled every 10 ms as a fallback.
type rssWatch struct {
	pid  int
	stop chan struct{}
	done chan struct{}
	peak int64
	hwm  bool
}

func watchRSS(pid int) *rssWatch {
	w := &rssWatch{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	w.hwm = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0o200) == nil
	go func() {
		defer close(w.done)
		for {
			if r := procStatus(pid, "VmRSS"); r > w.peak {
				w.peak = r
			}
			select {
			case <-w.stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	return w
}

// end returns the peak in bytes.
func (w *rssWatch) end() int64 {
	close(w.stop)
	<-w.done
	if w.hwm {
		if h := procStatus(w.pid, "VmHWM"); h > w.peak {
			w.peak = h
		}
	}
	return w.peak
}

func procStatus(pid int, field string) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// cpuSeconds is a process's user and system CPU time so far.
func cpuSeconds(pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return math.NaN()
	}
	s := string(raw)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	f := strings.Fields(s)
	if len(f) < 13 {
		return math.NaN()
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

// headerFile writes curl header lines to a private file in the work
// directory and returns its path.
func (b *bench) headerFile(name string, lines ...string) (string, error) {
	p := filepath.Join(b.work, name)
	return p, os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
}
