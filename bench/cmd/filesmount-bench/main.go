//go:build linux

// Command filesmount-bench measures filesmount (bin/filesmount, run as a
// separate process) against the loopback CBRAIN and VRChat emulators that
// it runs itself, compares it with curl on the same URLs, with a tmpfs copy
// and, when installed, with `rclone mount` of an HTTP index of the same
// objects. It prints a table, and writes results.json and results.png.
//
// See bench/README.md. Run it with `make -f Makefile.bench bench`.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

type config struct {
	daemon      string
	outDir      string
	reps        int
	size        int64 // the big files (rows 1, 2, 5, 7)
	rereadSize  int64 // row 3
	listEntries int
	fioRuntime  time.Duration
	rclone      string // auto, off
	rows        map[string]bool
	keep        bool
	cacheSize   string
	noFio       bool
	daemonEnv   []string
}

func main() {
	var c config
	var rows, size, reread string
	flag.StringVar(&c.daemon, "daemon", "bin/filesmount", "the filesmount binary to measure")
	flag.StringVar(&c.outDir, "out", "bench", "directory for results.json and results.png")
	flag.IntVar(&c.reps, "reps", 3, "repetitions per measurement (the median is reported)")
	flag.StringVar(&size, "size", "1G", "size of the big files (rows 1, 2, 5, 7)")
	flag.StringVar(&reread, "reread-size", "128M", "size of the re-read file of row 3 (fits --cache-size)")
	flag.IntVar(&c.listEntries, "list-entries", 10000, "entries of the directory listed in row 4")
	flag.DurationVar(&c.fioRuntime, "fio-runtime", 8*time.Second, "duration of each random-read run (row 5)")
	flag.StringVar(&c.rclone, "rclone", "auto", "rclone peer column: auto (when installed) or off")
	flag.StringVar(&rows, "rows", "1,2,3,4,5,6,7", "rows to run (8 is derived from 1, 2, 7; 9 is the rclone column)")
	flag.BoolVar(&c.keep, "keep", false, "keep the work directory (emulator data, daemon log)")
	flag.StringVar(&c.cacheSize, "cache-size", "256M", "the daemon's --cache-size")
	flag.BoolVar(&c.noFio, "no-fio", false, "use the Go loop instead of fio for row 5")
	flag.Func("daemon-env", "NAME=VALUE added to the daemon's environment (repeatable), e.g. GODEBUG=gctrace=1 or GOMEMLIMIT=off", func(v string) error {
		if !strings.Contains(v, "=") {
			return fmt.Errorf("want NAME=VALUE")
		}
		c.daemonEnv = append(c.daemonEnv, v)
		return nil
	})
	flag.Parse()
	var err error
	if c.size, err = parseSize(size); err != nil {
		fatalf("-size: %v", err)
	}
	if c.rereadSize, err = parseSize(reread); err != nil {
		fatalf("-reread-size: %v", err)
	}
	c.rows = map[string]bool{}
	for _, r := range strings.Split(rows, ",") {
		c.rows[strings.TrimSpace(r)] = true
	}
	if c.reps < 1 {
		c.reps = 1
	}
	if _, err := exec.LookPath("curl"); err != nil {
		fatalf("curl is required (apt-get install curl)")
	}
	if st, err := os.Stat(c.daemon); err != nil || st.IsDir() {
		fatalf("daemon binary %s not found: run `make build` first", c.daemon)
	}
	if c.daemon, err = filepath.Abs(c.daemon); err != nil {
		fatalf("%v", err)
	}
	start := time.Now()
	b, err := newBench(&c)
	if err != nil {
		fatalf("%v", err)
	}
	b.run()
	b.close()
	b.rep.Elapsed = time.Since(start).Round(time.Second).String()
	b.rep.printTable(os.Stdout)
	if err := b.rep.write(c.outDir); err != nil {
		fmt.Fprintf(os.Stderr, "filesmount-bench: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("\nwrote %s and %s (total %s)\n", filepath.Join(c.outDir, "results.json"), filepath.Join(c.outDir, "results.png"), b.rep.Elapsed)
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "filesmount-bench: "+format+"\n", args...)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(strings.ToUpper(s))
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if strings.HasSuffix(s, u.suf) {
			mult, s = u.m, strings.TrimSuffix(s, u.suf)
			break
		}
	}
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil || n <= 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}
