//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

func human(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	default:
		return fmt.Sprintf("%d KiB", n>>10)
	}
}

// loadAvg is the 1-minute load average: the bench cannot stop other
// processes, so it reports how busy the machine was.
func loadAvg() float64 {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return math.NaN()
	}
	var la float64
	fmt.Sscan(string(raw), &la)
	return la
}

func mbps(n int64, d time.Duration) float64 { return float64(n) / d.Seconds() / 1e6 }

// guard runs one row, turning a panic into an ERROR line.
func (b *bench) guard(row, label string, f func() error) {
	defer func() {
		if r := recover(); r != nil {
			b.rep.fail(row, label, fmt.Errorf("panic: %v\n%s", r, debug.Stack()))
		}
	}()
	t0 := time.Now()
	la0 := loadAvg()
	logf("row %s: %s (load average %.2f)", row, label, la0)
	if err := f(); err != nil {
		b.rep.fail(row, label, err)
	}
	la1 := loadAvg()
	b.rep.Load = append(b.rep.Load, fmt.Sprintf("row %s: %.2f -> %.2f", row, la0, la1))
	b.rep.MaxLoad = math.Max(b.rep.MaxLoad, math.Max(la0, la1))
	logf("row %s done in %s (load average %.2f)", row, time.Since(t0).Round(100*time.Millisecond), la1)
}

func (b *bench) run() {
	c := b.c
	rss := map[string][]float64{}
	if err := b.startDaemon(); err != nil {
		b.rep.fail("-", "starting filesmount", err)
	} else {
		if c.rows["1"] {
			b.guard("1", "VRChat cold sequential read", func() error { return b.row1(rss) })
		}
		if c.rows["2"] {
			b.guard("2", "CBRAIN cold sequential read", func() error { return b.row2(rss) })
		}
		if c.rows["3"] {
			b.guard("3", "re-read of an unchanged file", b.row3)
		}
		if c.rows["4"] {
			b.guard("4", "ls -l of a large directory", b.row4)
		}
		if c.rows["5"] {
			b.guard("5", "random 4 KiB reads", b.row5)
		}
		if c.rows["6"] {
			b.guard("6", "time to first byte of a fresh file", b.row6)
		}
		if c.rows["7"] {
			b.guard("7", "cp into each remote", func() error { return b.row7(rss) })
		}
		b.row8(rss)
		b.stopDaemon()
	}
	switch {
	case c.rclone == "off":
		b.rep.na("9", "rclone mount peer column", "disabled (-rclone off)")
	case !rcloneAvailable():
		b.rep.na("9", "rclone: not available", "install Debian's rclone package")
	default:
		if err := b.startRclone(); err != nil {
			b.rep.fail("9", "rclone: not available", err)
			break
		}
		if c.rows["1"] {
			b.guard("9.1", "rclone cold sequential read", b.row9seq)
		}
		if c.rows["3"] {
			b.guard("9.3", "rclone re-read", b.row9reread)
		}
		if c.rows["4"] {
			b.guard("9.4", "rclone ls -l", b.row9list)
		}
		if c.rows["5"] {
			b.guard("9.5", "rclone random reads", b.row9rand)
		}
		if c.rows["6"] {
			b.guard("9.6", "rclone time to first byte", b.row9fresh)
		}
		b.stopRclone()
	}
}

// ---- rows 1 and 2: cold sequential reads ----

func (b *bench) curlVRChat(fileID string, v int) (time.Duration, error) {
	// Through the API with the cookies, as `curl -L` would; the storage
	// download alone is timed.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	loc, err := runCmd(ctx, "curl", "-s", "-S", "-o", "/dev/null", "-w", "%{redirect_url}", "-A", userAgent,
		"-H", "@"+b.vrHeaders, fmt.Sprintf("%s/file/%s/%d", b.vr.URL(), fileID, v))
	if err != nil {
		return 0, err
	}
	if !strings.HasPrefix(loc, "http") {
		return 0, fmt.Errorf("no redirect from GET /file/%s/%d: %q", fileID, v, loc)
	}
	d, _, err := timeCmd(5*time.Minute, "curl", "-s", "-S", "-f", "-o", "/dev/null", loc)
	return d, err
}

func (b *bench) curlCBRAIN(id int) (time.Duration, error) {
	d, _, err := timeCmd(5*time.Minute, "curl", "-s", "-S", "-f", "-o", "/dev/null", "-H", "@"+b.cbHeaders,
		fmt.Sprintf("%s/userfiles/%d/content", b.cb.URL(), id))
	return d, err
}

// readResult is one whole read of a file through the mount, with what it
// cost the daemon and the emulator.
type readResult struct {
	mbps, fetched, cpu, rss float64 // throughput, bytes fetched per byte read, daemon CPU s, daemon peak RSS
	before, after           snap
}

// coldRead reads path whole (it must be b.c.size bytes) while watching the
// daemon's CPU and memory and the emulator's counters (snapshot).
func (b *bench) coldRead(path string, snapshot func() snap) (readResult, error) {
	var r readResult
	r.before = snapshot()
	w := watchRSS(b.daemon.pid())
	c0 := cpuSeconds(b.daemon.pid())
	n, d, err := readAll(path)
	r.cpu = cpuSeconds(b.daemon.pid()) - c0
	r.rss = float64(w.end())
	if err != nil {
		return r, err
	}
	if n != b.c.size {
		return r, fmt.Errorf("read %d bytes of %s, want %d", n, path, b.c.size)
	}
	r.after = snapshot()
	r.mbps = mbps(n, d)
	r.fetched = float64(r.after.bytes-r.before.bytes) / float64(n)
	return r, nil
}

func (b *bench) row1(rss map[string][]float64) error {
	var mount, curl, fetched, cpu, reqs []float64
	for i := 1; i <= b.c.reps; i++ {
		if err := b.restartDaemon(); err != nil {
			return err
		}
		id := b.vrIDs["Seq"]
		path := filepath.Join(b.mnt, "vrchat", "Seq", "1.bin")
		if _, err := os.Stat(path); err != nil { // listings are not part of the read
			return err
		}
		d, err := b.curlVRChat(id, 1)
		if err != nil {
			return err
		}
		curl = append(curl, mbps(b.c.size, d))
		r, err := b.coldRead(path, b.vrSnap)
		if err != nil {
			return err
		}
		mount, fetched, cpu = append(mount, r.mbps), append(fetched, r.fetched), append(cpu, r.cpu)
		rss["1"] = append(rss["1"], r.rss)
		reqs = append(reqs, float64(r.after.routes["GET s3"]-r.before.routes["GET s3"]))
		logf("  VRChat %s: mount %.0f MB/s, curl %.0f MB/s, %.3f B fetched/B, routes %v, daemon CPU %.2f s", path, r.mbps, curl[len(curl)-1], r.fetched, routeDiff(r.after.routes, r.before.routes), r.cpu)
	}
	r := b.rep.add(&Result{Row: "1", Label: "VRChat " + human(b.c.size) + " cold seq read (Range path)", Unit: "MB/s", Samples: mount,
		Baseline: "curl", BaselineSamples: curl, CheckedUnit: "x curl", Target: ">= 0.8", compare: "ratio",
		Extra: map[string]any{"daemon_cpu_seconds": cpu, "storage_gets": reqs}})
	b.fm["1"] = r.Median
	b.rep.add(&Result{Row: "1", Label: "VRChat bytes fetched per byte read", Unit: "B/B", Samples: fetched, Target: "<= 1.05"})
	b.fm["1curl"] = r.BaselineMedian
	return nil
}

func (b *bench) row2(rss map[string][]float64) error {
	var mount, curl, fetched, cpu []float64
	for i := 1; i <= b.c.reps; i++ {
		if err := b.restartDaemon(); err != nil {
			return err
		}
		id := b.cbIDs["BenchSeq/seq.bin"]
		path := filepath.Join(b.mnt, "cbrain", "BenchSeq", "seq.bin")
		if _, err := os.Stat(path); err != nil {
			return err
		}
		d, err := b.curlCBRAIN(id)
		if err != nil {
			return err
		}
		curl = append(curl, mbps(b.c.size, d))
		r, err := b.coldRead(path, b.cbSnap)
		if err != nil {
			return err
		}
		mount, fetched, cpu = append(mount, r.mbps), append(fetched, r.fetched), append(cpu, r.cpu)
		rss["2"] = append(rss["2"], r.rss)
		logf("  CBRAIN %s: mount %.0f MB/s, curl %.0f MB/s, %.3f B fetched/B, routes %v, daemon CPU %.2f s", path, r.mbps, curl[len(curl)-1], r.fetched, routeDiff(r.after.routes, r.before.routes), r.cpu)
	}
	b.rep.add(&Result{Row: "2", Label: "CBRAIN " + human(b.c.size) + " cold seq read (no-Range path)", Unit: "MB/s", Samples: mount,
		Baseline: "curl", BaselineSamples: curl, CheckedUnit: "x curl", Target: ">= 0.8", compare: "ratio",
		Extra: map[string]any{"daemon_cpu_seconds": cpu}})
	b.rep.add(&Result{Row: "2", Label: "CBRAIN bytes fetched per byte read", Unit: "B/B", Samples: fetched, Target: "<= 1.05"})
	return nil
}

// ---- row 3: re-reads ----

// tmpfsSamples makes the /dev/shm copy once and reads it reps times.
func (b *bench) tmpfsSamples() ([]float64, error) {
	if b.tmpfsCopy == "" {
		b.tmpfsCopy = fmt.Sprintf("/dev/shm/filesmount-bench-%d.bin", os.Getpid())
		if _, err := writeSource(b.tmpfsCopy, 120, b.c.rereadSize); err != nil {
			return nil, fmt.Errorf("tmpfs copy: %w", err)
		}
	}
	var out []float64
	for i := 0; i < b.c.reps; i++ {
		n, d, err := readAll(b.tmpfsCopy)
		if err != nil {
			return nil, err
		}
		out = append(out, mbps(n, d))
	}
	return out, nil
}

// rereadSeries reads path once cold, then reps times from the page cache,
// then reps times after drop_caches; fetched reports bytes fetched since
// the previous call.
func (b *bench) rereadSeries(path string, fetched func() int64) (pc, drop []float64, pcBytes, dropBytes int64, dropErr error, err error) {
	if _, _, err = readAll(path); err != nil {
		return
	}
	fetched()
	for i := 0; i < b.c.reps; i++ {
		n, d, e := readAll(path)
		if e != nil {
			err = e
			return
		}
		pc = append(pc, mbps(n, d))
	}
	pcBytes = fetched()
	for i := 0; i < b.c.reps; i++ {
		if e := dropCaches(); e != nil {
			dropErr = e
			return
		}
		fetched() // nothing should have moved, but keep the window tight
		n, d, e := readAll(path)
		if e != nil {
			err = e
			return
		}
		dropBytes += fetched()
		drop = append(drop, mbps(n, d))
	}
	return
}

func (b *bench) row3() error {
	tmpfs, err := b.tmpfsSamples()
	if err != nil {
		return err
	}
	type target struct{ name, path string }
	for _, t := range []target{
		{"VRChat", filepath.Join(b.mnt, "vrchat", "Reread", "1.bin")},
		{"CBRAIN", filepath.Join(b.mnt, "cbrain", "BenchReread", "reread.bin")},
	} {
		var fetched func() int64
		if t.name == "VRChat" {
			last := b.vrSnap().bytes
			fetched = func() int64 { n := b.vrSnap().bytes; d := n - last; last = n; return d }
		} else {
			last := b.cbSnap().bytes
			fetched = func() int64 { n := b.cbSnap().bytes; d := n - last; last = n; return d }
		}
		pc, drop, pcBytes, dropBytes, dropErr, err := b.rereadSeries(t.path, fetched)
		if err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		more, _ := b.tmpfsSamples()
		tmpfsAll := append(append([]float64(nil), tmpfs...), more...)
		r := b.rep.add(&Result{Row: "3", Label: t.name + " " + human(b.c.rereadSize) + " re-read from page cache", Unit: "MB/s", Samples: pc,
			Baseline: "tmpfs", BaselineSamples: tmpfsAll, CheckedUnit: "x tmpfs", Target: ">= 0.5", compare: "ratio"})
		if t.name == "VRChat" {
			b.fm["3pc"] = r.Median
		}
		if dropErr != nil {
			b.rep.na("3", t.name+" re-read after drop_caches", "needs root: "+dropErr.Error())
		} else {
			r := b.rep.add(&Result{Row: "3", Label: t.name + " re-read after drop_caches (daemon cache)", Unit: "MB/s", Samples: drop,
				Baseline: "tmpfs", BaselineSamples: tmpfsAll, CheckedUnit: "x tmpfs", Target: ">= 0.25", compare: "ratio"})
			if t.name == "VRChat" {
				b.fm["3drop"] = r.Median
			}
		}
		b.rep.add(&Result{Row: "3", Label: t.name + " bytes fetched during the re-reads", Unit: "B", Median: float64(pcBytes + dropBytes),
			Samples: []float64{float64(pcBytes + dropBytes)}, Target: "== 0",
			Extra: map[string]any{"page_cache_bytes": pcBytes, "after_drop_bytes": dropBytes}})
		logf("  %s re-read: page cache %v MB/s, after drop %v MB/s, tmpfs %v MB/s; fetched %d + %d bytes", t.name, fmtList(pc), fmtList(drop), fmtList(tmpfsAll), pcBytes, dropBytes)
	}
	return nil
}

func fmtList(xs []float64) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmtNum(x)
	}
	return "[" + strings.Join(s, " ") + "]"
}

// ---- row 4: ls -l of a large directory ----

// lsL runs `ls -l dir` and checks the number of entries.
func lsL(dir string, want int) (time.Duration, error) {
	d, out, err := timeCmd(2*time.Minute, "env", "LC_ALL=C", "ls", "-l", dir)
	if err != nil {
		return d, err
	}
	if got := strings.Count(out, "\n") - 1; got != want { // minus the "total" line
		return d, fmt.Errorf("ls -l %s listed %d entries, want %d", dir, got, want)
	}
	return d, nil
}

func perEntry(routes map[string]int64) int64 {
	var n int64
	for k, v := range routes {
		if strings.Contains(k, ":id") {
			n += v
		}
	}
	return n
}

func (b *bench) row4() error {
	n := b.c.listEntries
	pagesPerListing := int64(n/1000 + 1)
	dir := func(i int) string { return filepath.Join(b.mnt, "cbrain", fmt.Sprintf("List%d", i)) }
	if _, err := os.Stat(filepath.Join(b.mnt, "cbrain", "BenchSeq")); err != nil { // the provider list is not part of it
		return err
	}
	var cold, coldReqs []float64
	var coldRoutes []map[string]int64
	first := b.cbSnap()
	for i := 1; i <= b.c.reps; i++ {
		s0 := b.cbSnap()
		d, err := lsL(dir(i), n)
		if err != nil {
			return err
		}
		s1 := b.cbSnap()
		cold = append(cold, d.Seconds())
		coldReqs = append(coldReqs, float64(s1.reqs-s0.reqs))
		coldRoutes = append(coldRoutes, routeDiff(s1.routes, s0.routes))
	}
	// Warm, within the kernel's attribute TTL: ls twice, time the second.
	var warm, ttl []float64
	s0 := b.cbSnap()
	for i := 0; i < b.c.reps; i++ {
		if _, err := lsL(dir(1), n); err != nil {
			return err
		}
		d, err := lsL(dir(1), n)
		if err != nil {
			return err
		}
		warm = append(warm, d.Seconds())
	}
	s1 := b.cbSnap()
	// After the attribute TTL (1 s) expired: the kernel asks the daemon again.
	for i := 0; i < b.c.reps; i++ {
		time.Sleep(1300 * time.Millisecond)
		d, err := lsL(dir(1), n)
		if err != nil {
			return err
		}
		ttl = append(ttl, d.Seconds())
	}
	s2 := b.cbSnap()
	warmRoutes, ttlRoutes := routeDiff(s1.routes, s0.routes), routeDiff(s2.routes, s1.routes)
	all := routeDiff(s2.routes, first.routes)

	label := fmt.Sprintf("ls -l of %d CBRAIN userfiles", n)
	b.rep.add(&Result{Row: "4", Label: label + ", cold", Unit: "s", Samples: cold,
		Extra: map[string]any{"requests": coldReqs, "routes": coldRoutes}})
	b.rep.add(&Result{Row: "4", Label: "  cold: requests per ls", Unit: "req", Samples: coldReqs,
		Note: fmt.Sprintf("a listing is %d pages", pagesPerListing)})
	b.rep.add(&Result{Row: "4", Label: "  warm (within the 1 s attribute TTL)", Unit: "s", Samples: warm, Target: "<= 0.3",
		Extra: map[string]any{"routes": warmRoutes}})
	b.rep.add(&Result{Row: "4", Label: "  warm after the attribute TTL expired", Unit: "s", Samples: ttl, Target: "<= 0.3",
		Extra: map[string]any{"routes": ttlRoutes}})
	// List1 was listed cold, then 2*reps+reps times within the 60 s TTL.
	pagesList1 := coldRoutes[0]["GET /userfiles"] + warmRoutes["GET /userfiles"] + ttlRoutes["GET /userfiles"]
	listings := float64(pagesList1) / float64(pagesPerListing)
	b.rep.add(&Result{Row: "4", Label: "  listings of one directory per TTL", Unit: "listings", Median: listings, Samples: []float64{listings},
		Target: "<= 1", Extra: map[string]any{"GET /userfiles pages": pagesList1, "ls runs": 1 + 3*b.c.reps}})
	pe := float64(perEntry(all))
	b.rep.add(&Result{Row: "4", Label: "  per-entry requests (all ls -l runs)", Unit: "req", Median: pe, Samples: []float64{pe}, Target: "== 0",
		Extra: map[string]any{"routes": all}})
	logf("  cold %v s (%v requests), warm %v s, after TTL %v s; routes %v", fmtList(cold), fmtList(coldReqs), fmtList(warm), fmtList(ttl), all)
	return nil
}

// ---- row 5: random reads ----

type randResult struct {
	iops, bytesRead float64
	tool            string
}

func (b *bench) randomReads(path string, size int64) (randResult, error) {
	if _, err := exec.LookPath("fio"); err == nil && !b.c.noFio {
		ctx, cancel := context.WithTimeout(context.Background(), b.c.fioRuntime+2*time.Minute)
		defer cancel()
		out, err := runCmd(ctx, "fio", "--name=randread", "--filename="+path, "--readonly", "--rw=randread", "--bs=4k",
			"--size="+strconv.FormatInt(size, 10), "--ioengine=psync", "--iodepth=1", "--numjobs=1", "--time_based",
			fmt.Sprintf("--runtime=%d", int(b.c.fioRuntime.Seconds())), "--invalidate=1", "--randrepeat=0", "--output-format=json")
		if err != nil {
			return randResult{}, err
		}
		var j struct {
			Jobs []struct {
				Read struct {
					IOPS    float64 `json:"iops"`
					IOBytes float64 `json:"io_bytes"`
				} `json:"read"`
			} `json:"jobs"`
		}
		if i := strings.IndexByte(out, '{'); i > 0 {
			out = out[i:] // fio may print notes first
		}
		if err := json.Unmarshal([]byte(out), &j); err != nil || len(j.Jobs) == 0 {
			return randResult{}, fmt.Errorf("fio output: %v: %.200s", err, out)
		}
		return randResult{j.Jobs[0].Read.IOPS, j.Jobs[0].Read.IOBytes, "fio"}, nil
	}
	// The Go loop: 4 KiB preads at random aligned offsets, one at a time.
	f, err := os.Open(path)
	if err != nil {
		return randResult{}, err
	}
	defer f.Close()
	buf := make([]byte, 4096)
	blocks := size / 4096
	t0 := time.Now()
	var ops int64
	for time.Since(t0) < b.c.fioRuntime {
		if _, err := f.ReadAt(buf, rand.Int64N(blocks)*4096); err != nil && !errors.Is(err, io.EOF) {
			return randResult{}, err
		}
		ops++
	}
	return randResult{float64(ops) / time.Since(t0).Seconds(), float64(ops * 4096), "go loop"}, nil
}

func (b *bench) row5() error {
	var iops, fetched []float64
	tool := ""
	for i := 1; i <= b.c.reps; i++ {
		if err := b.restartDaemon(); err != nil {
			return err
		}
		path := filepath.Join(b.mnt, "vrchat", "Rand", "1.bin")
		if _, err := os.Stat(path); err != nil {
			return err
		}
		s0 := b.vrSnap()
		r, err := b.randomReads(path, b.c.size)
		if err != nil {
			return err
		}
		s1 := b.vrSnap()
		tool = r.tool
		iops = append(iops, r.iops)
		fetched = append(fetched, float64(s1.bytes-s0.bytes)/r.bytesRead)
		logf("  %s: %.0f IOPS, %.1f B fetched/B read (%d storage GETs)", path, r.iops, fetched[len(fetched)-1], s1.routes["GET s3"]-s0.routes["GET s3"])
	}
	b.rep.add(&Result{Row: "5", Label: "VRChat random 4 KiB reads over " + human(b.c.size) + " (" + tool + ")", Unit: "IOPS", Samples: iops})
	r := b.rep.add(&Result{Row: "5", Label: "  bytes fetched per byte read", Unit: "B/B", Samples: fetched, Target: "<= 64"})
	b.fm["5"] = r.Median
	return nil
}

// ---- row 6: time to first byte ----

// ttfb opens each path and reads 4 KiB; it returns milliseconds.
func ttfb(paths []string) ([]float64, error) {
	buf := make([]byte, 4096)
	var out []float64
	for _, p := range paths {
		t0 := time.Now()
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		n, err := io.ReadFull(f, buf)
		d := time.Since(t0)
		f.Close()
		if err != nil || n != len(buf) {
			return nil, fmt.Errorf("read %s: %d bytes, %v", p, n, err)
		}
		out = append(out, float64(d.Microseconds())/1000)
	}
	return out, nil
}

func (b *bench) row6() error {
	for _, remote := range []string{"VRChat", "CBRAIN"} {
		var dir string
		var paths []string
		for i := 1; i <= b.c.reps*freshFiles; i++ {
			if remote == "VRChat" {
				dir = filepath.Join(b.mnt, "vrchat", "Fresh")
				paths = append(paths, filepath.Join(dir, fmt.Sprintf("%d.bin", i)))
			} else {
				dir = filepath.Join(b.mnt, "cbrain", "BenchFresh")
				paths = append(paths, filepath.Join(dir, freshName(i)))
			}
		}
		if _, err := os.ReadDir(dir); err != nil { // the listing is not part of it
			return err
		}
		ms, err := ttfb(paths)
		if err != nil {
			return err
		}
		b.rep.add(&Result{Row: "6", Label: remote + " open + 4 KiB read of a fresh file, median", Unit: "ms", Samples: ms, Target: "<= 3"})
		p90 := percentile(ms, 90)
		b.rep.add(&Result{Row: "6", Label: "  " + remote + " p90", Unit: "ms", Median: p90, Samples: []float64{p90}})
		if remote == "VRChat" {
			b.fm["6"] = median(ms)
		}
		logf("  %s TTFB ms %v", remote, fmtList(ms))
	}
	return nil
}

// ---- row 7: uploads ----

const partSize = 10 << 20 // what filesmount and the VRChat SDK use

func (b *bench) row7(rss map[string][]float64) error {
	size := b.c.size
	b.srcFile = filepath.Join(os.TempDir(), fmt.Sprintf("filesmount-bench-src-%d.bin", os.Getpid()))
	var err error
	if b.srcMD5, err = writeSource(b.srcFile, 301, size); err != nil {
		return err
	}
	upDir := filepath.Join(b.mnt, "cbrain", "BenchUpload")
	vrDir := filepath.Join(b.mnt, "vrchat", "Upload")
	for _, d := range []string{upDir, vrDir} {
		if _, err := os.ReadDir(d); err != nil {
			return err
		}
	}
	var cbCp, cbCurl, vrCp, vrCurl, vrCurlFinish, cbCPU, vrCPU []float64
	for i := 1; i <= b.c.reps; i++ {
		// CBRAIN: cp through the mount (close returns once the portal has it) vs curl POST /userfiles.
		w := watchRSS(b.daemon.pid())
		c0 := cpuSeconds(b.daemon.pid())
		d, _, err := timeCmd(10*time.Minute, "cp", b.srcFile, filepath.Join(upDir, fmt.Sprintf("cp%d.bin", i)))
		cbCPU = append(cbCPU, cpuSeconds(b.daemon.pid())-c0)
		rss["7 CBRAIN"] = append(rss["7 CBRAIN"], float64(w.end()))
		if err != nil {
			return fmt.Errorf("%w\n%s", err, b.daemon.tail())
		}
		cbCp = append(cbCp, mbps(size, d))
		d, out, err := timeCmd(10*time.Minute, "curl", "-s", "-S", "-o", "/dev/null", "-w", "%{http_code}",
			"-H", "@"+b.cbHeaders,
			"-F", fmt.Sprintf("upload_file=@%s;filename=curl%d.bin", b.srcFile, i),
			"-F", fmt.Sprintf("data_provider_id=%d", b.cbProv["BenchUpload"]), "-F", "userfile[group_id]=0",
			b.cb.URL()+"/userfiles")
		if err != nil {
			return err
		}
		if !strings.HasPrefix(out, "2") {
			return fmt.Errorf("curl POST /userfiles: HTTP %s", out)
		}
		cbCurl = append(cbCurl, mbps(size, d))
		logf("  CBRAIN upload: cp %.0f MB/s (daemon CPU %.1f s), curl %.0f MB/s", cbCp[len(cbCp)-1], cbCPU[len(cbCPU)-1], cbCurl[len(cbCurl)-1])
		b.cleanupCBRAIN(upDir, i)

		// VRChat: cp (a new version of File "Upload") vs curl PUTs of the same parts.
		w = watchRSS(b.daemon.pid())
		c0 = cpuSeconds(b.daemon.pid())
		d, _, err = timeCmd(10*time.Minute, "cp", b.srcFile, filepath.Join(vrDir, fmt.Sprintf("cp%d.bin", i)))
		vrCPU = append(vrCPU, cpuSeconds(b.daemon.pid())-c0)
		rss["7 VRChat"] = append(rss["7 VRChat"], float64(w.end()))
		if err != nil {
			return fmt.Errorf("%w\n%s", err, b.daemon.tail())
		}
		vrCp = append(vrCp, mbps(size, d))
		puts, finish, err := b.curlVRChatUpload()
		if err != nil {
			return err
		}
		vrCurl = append(vrCurl, mbps(size, puts))
		vrCurlFinish = append(vrCurlFinish, mbps(size, puts+finish))
		logf("  VRChat upload: cp %.0f MB/s (daemon CPU %.1f s), curl %.0f MB/s (%.0f MB/s with the emulator's finish, %.1f s)",
			vrCp[len(vrCp)-1], vrCPU[len(vrCPU)-1], vrCurl[len(vrCurl)-1], vrCurlFinish[len(vrCurlFinish)-1], finish.Seconds())
		os.Stat(filepath.Join(vrDir, ".filesmount-refresh"))
		if err := os.Remove(filepath.Join(vrDir, "latest.bin")); err != nil {
			logf("  cleanup: rm latest.bin: %v", err)
		}
	}
	b.rep.add(&Result{Row: "7", Label: "cp " + human(size) + " into CBRAIN", Unit: "MB/s", Samples: cbCp,
		Baseline: "curl", BaselineSamples: cbCurl, CheckedUnit: "x curl", Target: ">= 0.7", compare: "ratio",
		Extra: map[string]any{"daemon_cpu_seconds": cbCPU}})
	b.rep.add(&Result{Row: "7", Label: "cp " + human(size) + " into VRChat (new version)", Unit: "MB/s", Samples: vrCp,
		Baseline: "curl", BaselineSamples: vrCurl, CheckedUnit: "x curl", Target: ">= 0.7", compare: "ratio",
		Extra: map[string]any{"daemon_cpu_seconds": vrCPU}})
	// cp also waits for the upload's finish, in which the emulator
	// assembles the parts and checks the MD5 (AWS completes a multipart
	// upload without reading it); the checked baseline above is the PUTs
	// alone, as the issue specifies. This row shows the other comparison.
	b.rep.add(&Result{Row: "7", Label: "  VRChat cp vs curl PUTs + finish", Unit: "MB/s", Samples: vrCp,
		Baseline: "curl+fin", BaselineSamples: vrCurlFinish, CheckedUnit: "x curl+fin", compare: "ratio"})
	return nil
}

// cleanupCBRAIN removes the uploaded userfiles (through the mount) so that
// the emulator's disk use stays bounded.
func (b *bench) cleanupCBRAIN(dir string, i int) {
	os.Stat(filepath.Join(dir, ".filesmount-refresh"))
	for _, n := range []string{fmt.Sprintf("cp%d.bin", i), fmt.Sprintf("curl%d.bin", i)} {
		if err := os.Remove(filepath.Join(dir, n)); err != nil {
			logf("  cleanup: rm %s: %v", n, err)
		}
	}
}

// curlVRChatUpload declares a new version of File "CurlUpload" with the
// source's MD5 and size, gets the pre-signed part URLs (not timed), PUTs
// the parts with curl (timed: puts), finishes the upload (timed apart:
// finish; the emulator assembles the parts and checks the MD5 there) and
// deletes the version again.
func (b *bench) curlVRChatUpload() (puts, finish time.Duration, err error) {
	id := b.vrIDs["CurlUpload"]
	sig := md5.Sum([]byte("sig"))
	resp, err0 := b.vrAPI("POST", "/file/"+id, map[string]any{
		"fileMd5": base64.StdEncoding.EncodeToString(b.srcMD5), "fileSizeInBytes": b.c.size,
		"signatureMd5": base64.StdEncoding.EncodeToString(sig[:]), "signatureSizeInBytes": 3})
	if err0 != nil {
		return 0, 0, err0
	}
	var f struct {
		Versions []struct {
			Version int `json:"version"`
			File    *struct {
				Category string `json:"category"`
			} `json:"file"`
		} `json:"versions"`
	}
	err = json.NewDecoder(resp.Body).Decode(&f)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || len(f.Versions) == 0 {
		return 0, 0, fmt.Errorf("POST /file/%s: %s %v", id, resp.Status, err)
	}
	v := f.Versions[len(f.Versions)-1].Version
	defer func() {
		if resp, err := b.vrAPI("DELETE", fmt.Sprintf("/file/%s/%d", id, v), nil); err == nil {
			resp.Body.Close()
		}
	}()
	multipart := f.Versions[len(f.Versions)-1].File != nil && f.Versions[len(f.Versions)-1].File.Category == "multipart"
	type part struct {
		url      string
		off, len int64
	}
	var parts []part
	if multipart {
		n := max(b.c.size/partSize, 1)
		for k := int64(0); k < n; k++ {
			l := int64(partSize)
			if k == n-1 {
				l = b.c.size - k*partSize
			}
			parts = append(parts, part{off: k * partSize, len: l})
		}
	} else {
		parts = []part{{off: 0, len: b.c.size}}
	}
	for k := range parts {
		resp, err := b.vrAPI("PUT", fmt.Sprintf("/file/%s/%d/file/start?partNumber=%d", id, v, k+1), nil)
		if err != nil {
			return 0, 0, err
		}
		var u struct {
			URL string `json:"url"`
		}
		err = json.NewDecoder(resp.Body).Decode(&u)
		resp.Body.Close()
		if err != nil || u.URL == "" {
			return 0, 0, fmt.Errorf("start part %d: %s %v", k+1, resp.Status, err)
		}
		parts[k].url = u.URL
	}
	src, err := os.Open(b.srcFile)
	if err != nil {
		return 0, 0, err
	}
	defer src.Close()
	t0 := time.Now()
	var etags []string
	for _, p := range parts {
		args := []string{"-s", "-S", "-f", "-o", "/dev/null", "-w", "%header{etag}", "-X", "PUT", "-T", "-", "-H", "Expect:", "-H", "Transfer-Encoding:",
			"-H", "Content-Length: " + strconv.FormatInt(p.len, 10)}
		if !multipart {
			args = append(args, "-H", "Content-MD5: "+base64.StdEncoding.EncodeToString(b.srcMD5),
				"-H", "Content-Type: application/octet-stream")
		}
		cmd := exec.Command("curl", append(args, p.url)...)
		cmd.Stdin = io.NewSectionReader(src, p.off, p.len)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return 0, 0, fmt.Errorf("curl PUT part: %v: %s", err, stderr.String())
		}
		etags = append(etags, strings.Trim(strings.TrimSpace(string(out)), `"'`))
	}
	puts = time.Since(t0)
	var in any = map[string][]string{"etags": etags}
	if !multipart {
		in = map[string]string{"maxParts": "0", "nextPartNumber": "0"}
	}
	t1 := time.Now()
	resp, err = b.vrAPI("PUT", fmt.Sprintf("/file/%s/%d/file/finish", id, v), in)
	if err != nil {
		return 0, 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return 0, 0, fmt.Errorf("finish of the curl upload: %s", resp.Status)
	}
	return puts, time.Since(t1), nil
}

// ---- row 8: memory ----

func (b *bench) row8(rss map[string][]float64) {
	budget, err := parseSize(b.c.cacheSize)
	if err != nil {
		b.rep.na("8", "peak RSS", "bad -cache-size")
		return
	}
	limit := float64(budget>>20 + 64)
	for _, k := range []string{"1", "2", "7 CBRAIN", "7 VRChat"} {
		xs := rss[k]
		if len(xs) == 0 {
			continue
		}
		mib := make([]float64, len(xs))
		peak := 0.0
		for i, x := range xs {
			mib[i] = x / (1 << 20)
			peak = math.Max(peak, mib[i])
		}
		b.rep.add(&Result{Row: "8", Label: fmt.Sprintf("daemon peak RSS during row %s (--cache-size %s)", k, b.c.cacheSize), Unit: "MiB",
			Median: peak, Samples: mib, Target: fmt.Sprintf("<= %.0f", limit), Note: "max of runs"})
	}
}
