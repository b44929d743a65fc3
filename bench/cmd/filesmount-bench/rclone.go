//go:build linux

package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"
)

// Row 9: rows 1, 3, 4, 5 and 6 through `rclone mount` of the HTTP index.
// The bytes fetched are the VRChat storage's (the index redirects there);
// the requests of row 4 are the index server's.

// vsFilesmount records a comparison "filesmount is at least x times
// better": checked = filesmount / rclone (or rclone / filesmount when
// lower is better).
func (b *bench) vsFilesmount(r *Result, fm float64, higherIsBetter bool, target string) {
	if fm == 0 || math.IsNaN(fm) {
		r.Status, r.Note = "N/A", "no filesmount result to compare"
		r.Checked = math.NaN()
		return
	}
	r.Baseline, r.BaselineMedian = "filesmount", fm
	r.compare, r.CheckedUnit, r.Target = "inverse", "fm/rclone", target
	if !higherIsBetter {
		r.compare, r.CheckedUnit = "ratio", "rclone/fm"
	}
}

func (b *bench) addVs(r *Result, fm float64, higherIsBetter bool, target string) {
	b.vsFilesmount(r, fm, higherIsBetter, target)
	b.rep.add(r)
}

func (b *bench) row9seq() error {
	var mbs, fetched []float64
	for i := 1; i <= b.c.reps; i++ {
		if err := b.restartRclone(); err != nil {
			return err
		}
		path := filepath.Join(b.rcMnt, "vrchat", "seq.bin")
		if _, err := os.Stat(path); err != nil {
			return err
		}
		s0 := b.vrSnap()
		n, d, err := readAll(path)
		if err != nil {
			return err
		}
		if n != b.c.size {
			return fmt.Errorf("read %d bytes of %s, want %d", n, path, b.c.size)
		}
		s1 := b.vrSnap()
		mbs = append(mbs, mbps(n, d))
		fetched = append(fetched, float64(s1.bytes-s0.bytes)/float64(n))
		logf("  rclone %s: %.0f MB/s, %.3f B fetched/B, %d storage GETs", path, mbps(n, d), fetched[len(fetched)-1], s1.routes["GET s3"]-s0.routes["GET s3"])
	}
	b.addVs(&Result{Row: "9.1", Label: "rclone: VRChat " + human(b.c.size) + " cold seq read", Unit: "MB/s", Samples: mbs,
		Extra: map[string]any{"vs_curl": median(mbs) / b.fm["1curl"]}}, b.fm["1"], true, ">= 2")
	b.rep.add(&Result{Row: "9.1", Label: "  rclone bytes fetched per byte read", Unit: "B/B", Samples: fetched})
	return nil
}

func (b *bench) row9reread() error {
	path := filepath.Join(b.rcMnt, "vrchat", "reread.bin")
	last := b.vrSnap().bytes
	fetched := func() int64 { n := b.vrSnap().bytes; d := n - last; last = n; return d }
	pc, drop, pcBytes, dropBytes, dropErr, err := b.rereadSeries(path, fetched)
	if err != nil {
		return err
	}
	tmpfs, _ := b.tmpfsSamples()
	b.addVs(&Result{Row: "9.3", Label: "rclone: " + human(b.c.rereadSize) + " re-read from page cache", Unit: "MB/s", Samples: pc,
		Extra: map[string]any{"tmpfs_mbps": tmpfs}}, b.fm["3pc"], true, ">= 2")
	if dropErr != nil {
		b.rep.na("9.3", "rclone: re-read after drop_caches", "needs root")
	} else {
		b.addVs(&Result{Row: "9.3", Label: "rclone: re-read after drop_caches", Unit: "MB/s", Samples: drop}, b.fm["3drop"], true, ">= 2")
	}
	b.rep.add(&Result{Row: "9.3", Label: "  rclone bytes fetched during the re-reads", Unit: "B", Median: float64(pcBytes + dropBytes),
		Samples: []float64{float64(pcBytes + dropBytes)}, Extra: map[string]any{"page_cache_bytes": pcBytes, "after_drop_bytes": dropBytes}})
	logf("  rclone re-read: page cache %v MB/s, after drop %v MB/s; fetched %d + %d bytes", fmtList(pc), fmtList(drop), pcBytes, dropBytes)
	return nil
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

func (b *bench) row9list() error {
	n := b.c.listEntries
	dir := func(i int) string { return filepath.Join(b.rcMnt, fmt.Sprintf("list%d", i)) }
	var cold, coldReqs, warm, ttl []float64
	first := b.index.snapshot()
	for i := 1; i <= b.c.reps; i++ {
		s0 := b.index.snapshot()
		d, err := lsL(dir(i), n)
		if err != nil {
			return err
		}
		cold = append(cold, d.Seconds())
		coldReqs = append(coldReqs, float64(sum(routeDiff(b.index.snapshot(), s0))))
	}
	s0 := b.index.snapshot()
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
	s1 := b.index.snapshot()
	for i := 0; i < b.c.reps; i++ {
		time.Sleep(1300 * time.Millisecond)
		d, err := lsL(dir(1), n)
		if err != nil {
			return err
		}
		ttl = append(ttl, d.Seconds())
	}
	s2 := b.index.snapshot()
	b.rep.add(&Result{Row: "9.4", Label: fmt.Sprintf("rclone: ls -l of %d entries, cold", n), Unit: "s", Samples: cold,
		Extra: map[string]any{"routes": routeDiff(s0, first)}})
	b.rep.add(&Result{Row: "9.4", Label: "  rclone cold: requests per ls", Unit: "req", Samples: coldReqs})
	b.rep.add(&Result{Row: "9.4", Label: "  rclone warm (within attribute TTL)", Unit: "s", Samples: warm,
		Extra: map[string]any{"routes": routeDiff(s1, s0)}})
	b.rep.add(&Result{Row: "9.4", Label: "  rclone warm after attribute TTL", Unit: "s", Samples: ttl,
		Extra: map[string]any{"routes": routeDiff(s2, s1)}})
	logf("  rclone ls: cold %v s (%v req), warm %v s, after TTL %v s; routes %v", fmtList(cold), fmtList(coldReqs), fmtList(warm), fmtList(ttl), routeDiff(s2, first))
	return nil
}

func (b *bench) row9rand() error {
	var iops, fetched []float64
	for i := 1; i <= b.c.reps; i++ {
		if err := b.restartRclone(); err != nil {
			return err
		}
		path := filepath.Join(b.rcMnt, "vrchat", "rand.bin")
		if _, err := os.Stat(path); err != nil {
			return err
		}
		s0 := b.vrSnap()
		r, err := b.randomReads(path, b.c.size)
		if err != nil {
			return err
		}
		s1 := b.vrSnap()
		iops = append(iops, r.iops)
		fetched = append(fetched, float64(s1.bytes-s0.bytes)/r.bytesRead)
		logf("  rclone %s: %.0f IOPS, %.1f B fetched/B read (%d storage GETs)", path, r.iops, fetched[len(fetched)-1], s1.routes["GET s3"]-s0.routes["GET s3"])
	}
	b.rep.add(&Result{Row: "9.5", Label: "rclone: random 4 KiB reads", Unit: "IOPS", Samples: iops})
	// filesmount must fetch fewer bytes: rclone/filesmount > 1.
	b.addVs(&Result{Row: "9.5", Label: "  rclone bytes fetched per byte read", Unit: "B/B", Samples: fetched}, b.fm["5"], false, "> 1")
	return nil
}

func (b *bench) row9fresh() error {
	dir := filepath.Join(b.rcMnt, "fresh")
	if _, err := os.ReadDir(dir); err != nil {
		return err
	}
	var paths []string
	for i := 1; i <= b.c.reps*freshFiles; i++ {
		paths = append(paths, filepath.Join(dir, freshName(i)))
	}
	ms, err := ttfb(paths)
	if err != nil {
		return err
	}
	b.rep.add(&Result{Row: "9.6", Label: "rclone: open + 4 KiB read of a fresh file, median", Unit: "ms", Samples: ms,
		Extra: map[string]any{"filesmount_vrchat_median_ms": b.fm["6"]}})
	p90 := percentile(ms, 90)
	b.rep.add(&Result{Row: "9.6", Label: "  rclone p90", Unit: "ms", Median: p90, Samples: []float64{p90}})
	logf("  rclone TTFB ms %v", fmtList(ms))
	return nil
}
