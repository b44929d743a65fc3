//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

// Result is one line of the table: a measurement, its samples and median,
// an optional baseline, and a target.
type Result struct {
	Row     string    `json:"row"`   // "1", "3", "9.5"...
	Label   string    `json:"label"` // what was measured
	Unit    string    `json:"unit"`
	Median  float64   `json:"median"`
	Samples []float64 `json:"samples"`

	Baseline        string    `json:"baseline,omitempty"` // "curl", "tmpfs", "filesmount"
	BaselineMedian  float64   `json:"baseline_median,omitempty"`
	BaselineSamples []float64 `json:"baseline_samples,omitempty"`

	// Checked is the number compared with the target: Median, or a ratio
	// (Median/BaselineMedian, or its inverse for "x faster than" checks).
	Checked     float64 `json:"checked"`
	CheckedUnit string  `json:"checked_unit,omitempty"`
	Target      string  `json:"target,omitempty"` // e.g. ">= 0.8"
	Status      string  `json:"status"`           // PASS, MISS, INFO, N/A, ERROR
	Note        string  `json:"note,omitempty"`

	Extra map[string]any `json:"extra,omitempty"`

	// compare says what Checked is: "" the median, "ratio"
	// Median/BaselineMedian, "inverse" BaselineMedian/Median.
	compare string
	op      string
	tgt     float64
}

type report struct {
	Started string         `json:"started"`
	Elapsed string         `json:"elapsed"`
	Machine map[string]any `json:"machine"`
	Config  map[string]any `json:"config"`
	Results []*Result      `json:"results"`
	// Load is the 1-minute load average at the start and end of each row.
	Load    []string `json:"load_average_per_row"`
	MaxLoad float64  `json:"max_load_average"`
}

func newReport(c *config) *report {
	return &report{
		Started: time.Now().UTC().Format(time.RFC3339),
		Machine: machineInfo(),
		Config: map[string]any{"reps": c.reps, "big_file_bytes": c.size, "reread_file_bytes": c.rereadSize,
			"list_entries": c.listEntries, "fio_runtime": c.fioRuntime.String(), "cache_size": c.cacheSize,
			"daemon": c.daemon, "metadata_ttl": "60s (default)", "attr_timeout": "1s (default)"},
	}
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// percentile: nearest rank.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	k := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(k, len(s)-1))]
}

// add records a result with samples. target is "" (INFO) or "OP VALUE"
// with OP one of >=, <=, ==, <.
func (r *report) add(res *Result) *Result {
	if res.Samples != nil && res.Median == 0 {
		res.Median = median(res.Samples)
	}
	if res.BaselineSamples != nil && res.BaselineMedian == 0 {
		res.BaselineMedian = median(res.BaselineSamples)
	}
	switch res.compare {
	case "ratio":
		res.Checked = res.Median / res.BaselineMedian
	case "inverse":
		res.Checked = res.BaselineMedian / res.Median
	default:
		res.Checked = res.Median
	}
	if res.Status == "" {
		res.Status = "INFO"
		if res.Target != "" {
			f := strings.Fields(res.Target)
			var v float64
			fmt.Sscan(f[1], &v)
			res.op, res.tgt = f[0], v
			ok := false
			switch res.op {
			case ">=":
				ok = res.Checked >= v
			case "<=":
				ok = res.Checked <= v
			case "==":
				ok = res.Checked == v
			case "<":
				ok = res.Checked < v
			case ">":
				ok = res.Checked > v
			}
			res.Status = map[bool]string{true: "PASS", false: "MISS"}[ok]
			if math.IsNaN(res.Checked) {
				res.Status = "N/A"
			}
		}
	}
	r.Results = append(r.Results, res)
	return res
}

// na records a line that could not be measured.
func (r *report) na(row, label, why string) {
	r.Results = append(r.Results, &Result{Row: row, Label: label, Status: "N/A", Note: why, Checked: math.NaN(), Median: math.NaN()})
}

func (r *report) fail(row, label string, err error) {
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	r.Results = append(r.Results, &Result{Row: row, Label: label, Status: "ERROR", Note: msg, Checked: math.NaN(), Median: math.NaN()})
	logf("row %s %s: %v", row, label, err)
}

func fmtNum(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "-"
	case v == 0:
		return "0"
	case math.Abs(v) >= 1000:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f", v)
	case math.Abs(v) >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

func (r *report) printTable(w io.Writer) {
	const f = "%-4s %-50s %-16s %-18s %-18s %-9s %s\n"
	fmt.Fprintln(w)
	fmt.Fprintf(w, "filesmount bench — %s, %v CPU, %s; median of %v runs\n", r.Machine["cpu"], r.Machine["cpus"], r.Machine["kernel"], r.Config["reps"])
	if cpus, ok := r.Machine["cpus"].(int); ok && r.MaxLoad > float64(cpus) {
		fmt.Fprintf(w, "WARNING: the load average reached %.1f on %d CPUs: other processes competed with the bench; absolute numbers are pessimistic (ratios are measured back to back)\n", r.MaxLoad, cpus)
	}
	fmt.Fprintf(w, f, "row", "measurement", "result", "baseline", "checked", "target", "status")
	fmt.Fprintln(w, strings.Repeat("-", 132))
	for _, x := range r.Results {
		res := fmtNum(x.Median) + " " + x.Unit
		if x.Status == "N/A" || x.Status == "ERROR" {
			res = "-"
		}
		base := ""
		if x.Baseline != "" {
			base = x.Baseline + " " + fmtNum(x.BaselineMedian)
		}
		chk := ""
		if x.CheckedUnit != "" {
			chk = fmtNum(x.Checked) + " " + x.CheckedUnit
		} else if x.Target != "" && x.Status != "N/A" && x.Status != "ERROR" {
			chk = fmtNum(x.Checked)
		}
		status := x.Status
		if x.Note != "" {
			status += "  (" + x.Note + ")"
		}
		fmt.Fprintf(w, f, x.Row, clip(x.Label, 50), clip(res, 16), clip(base, 18), clip(chk, 18), x.Target, status)
	}
	pass, miss := 0, 0
	for _, x := range r.Results {
		switch x.Status {
		case "PASS":
			pass++
		case "MISS":
			miss++
		}
	}
	fmt.Fprintf(w, "%d PASS, %d MISS; elapsed %s\n", pass, miss, r.Elapsed)
}

func clip(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// jsonResult replaces NaN (not valid JSON) by null.
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(f))
}

func (r *report) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	type out struct {
		*Result
		Median  jsonFloat `json:"median"`
		Checked jsonFloat `json:"checked"`
	}
	rs := make([]out, len(r.Results))
	for i, x := range r.Results {
		rs[i] = out{x, jsonFloat(x.Median), jsonFloat(x.Checked)}
	}
	raw, err := json.MarshalIndent(struct {
		*report
		Results []out `json:"results"`
	}{r, rs}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(raw, '\n'), 0o644); err != nil {
		return err
	}
	return writeChart(filepath.Join(dir, "results.png"), r)
}

func machineInfo() map[string]any {
	m := map[string]any{"cpus": runtime.NumCPU(), "go": runtime.Version(), "goarch": runtime.GOARCH}
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(raw), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				m["cpu"] = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		if l := strings.SplitN(string(raw), "\n", 2)[0]; l != "" {
			m["memory"] = strings.Join(strings.Fields(strings.TrimPrefix(l, "MemTotal:")), " ")
		}
	}
	if raw, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m["kernel"] = strings.TrimSpace(string(raw))
	}
	if raw, err := os.ReadFile("/etc/debian_version"); err == nil {
		m["debian"] = strings.TrimSpace(string(raw))
	}
	for _, tool := range [][]string{{"curl", "--version"}, {"fio", "--version"}, {"rclone", "version"}} {
		if out, err := exec.Command(tool[0], tool[1:]...).Output(); err == nil {
			m[tool[0]] = strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
		} else {
			m[tool[0]] = "not installed"
		}
	}
	m["root"] = os.Getuid() == 0
	return m
}
