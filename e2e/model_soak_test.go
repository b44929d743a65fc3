//go:build linux

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/filesmount/filesmount/internal/faults"
)

// TestModelSoak keeps running new seeds of both models (CBRAIN for even
// seeds, VRChat for odd ones) for FILESMOUNT_MODEL_DURATION, with the
// fault injector firing on every request to the emulators during the
// operations (5xx and 429 answers, latency, bodies cut short, reset or
// stalled). `make soak` runs it; it is skipped otherwise.
//
// Each step is one operation through a path (no handles: a step must be
// judged on its own). Faults are paused while the mount is inspected and
// for the final check. What is acceptable under faults:
//
//  1. An operation that succeeds has its full effect: afterwards, the
//     mount (every directory listed again from the remote) shows exactly
//     the model's after-state.
//  2. An operation that fails reports the errno the model predicts for a
//     refusal, or a fault's errno: EIO, ETIMEDOUT or EAGAIN. Nothing else
//     (a refusal is refused the same way every time).
//  3. After a failed operation, the mount shows either the whole
//     before-state or the whole after-state of the model (so a rename that
//     fails never loses or duplicates the file), or, for an open with
//     O_TRUNC, the before-state with the file truncated, apart from the temporary
//     files a failed program leaves behind (sed's, ours), which the model
//     then takes in. A file that had never been uploaded (an empty VRChat
//     file) may be gone instead: its data was handed back (rule 4).
//  4. Content that the after-state has and the mount does not (a write
//     whose upload failed) is byte for byte in <cache-dir>/recovery/,
//     unless the daemon logged that it failed before anything was written
//     (copying the remote content for writing, "open for writing").
//  5. A program that reports success although its close failed (a shell
//     redirection ignores close errors) is treated as a failure by (3)
//     and (4): its bytes must be in the recovery folder.
//  6. Reads return exactly the model's bytes, or a fault's errno.
//  7. At the end, with faults off, the mount and then a new mount with an
//     empty cache show the model's state.
//
// Figures are printed at the end: seeds, steps, faults injected, failed
// operations and which state they left, differences.
func TestModelSoak(t *testing.T) {
	ds := os.Getenv("FILESMOUNT_MODEL_DURATION")
	if ds == "" {
		t.Skip("set FILESMOUNT_MODEL_DURATION (make soak) to run the model soak")
	}
	duration, err := time.ParseDuration(ds)
	if err != nil {
		t.Fatal(err)
	}
	requireFUSE(t)
	base := time.Now().UnixNano() % 1_000_000_000
	if seeds := modelSeeds(); os.Getenv("FILESMOUNT_MODEL_SEED") != "" {
		base = seeds[0]
	}
	steps := 60
	if os.Getenv("FILESMOUNT_MODEL_STEPS") != "" {
		steps = modelSteps()
	}
	setups := []*modelSetup{cbrainModelSetup(), vrchatModelSetup()}
	for _, s := range setups {
		s.test, s.env = "TestModelSoak", "FILESMOUNT_MODEL_DURATION=1ms "
	}
	total := &modelSoakStats{failed: map[string]int{}}
	deadline := time.Now().Add(duration)
	seeds, diffs := 0, 0
	for seed := base; seeds == 0 || time.Now().Before(deadline); seed++ {
		s := setups[seed&1]
		seeds++
		st := &modelSoakStats{failed: map[string]int{}}
		f := modelRun(t, s, seed, steps, modelOpts{inj: faults.New(seed), soak: st, noSlots: true})
		total.add(st)
		if f == nil {
			continue
		}
		diffs++
		note := " (under faults)"
		// Does it fail without faults too? Then shrink that.
		if g := modelRun(t, s, seed, f.steps, modelOpts{soak: &modelSoakStats{failed: map[string]int{}}, noSlots: true}); g != nil {
			f = modelShrink(t, s, g, modelOpts{soak: &modelSoakStats{failed: map[string]int{}}, noSlots: true})
			note = " (also without faults)"
		}
		recordFinding(s, f, note)
		t.Errorf("%s%s\nlast daemon log lines:\n%s", f.report(s), note, lastLines(f.logs, 25))
	}
	t.Logf("model soak: %d seeds (%d-step runs, replay one with FILESMOUNT_MODEL_SEED=<seed> FILESMOUNT_MODEL_DURATION=1ms), %d steps, %d faults injected %v; "+
		"%d operations failed (%v), %d left the before-state, %d the after-state, %d program-ignored close failures with the data in recovery; %d differences",
		seeds, steps, total.steps, total.faults, total.kinds, total.failures(), total.failed, total.before, total.after, total.ignoredClose, diffs)
	if total.faults == 0 {
		t.Errorf("the soak injected no fault")
	}
}

// modelSoakRules are the faults of the model soak: every request may get
// one, uploads and renames included (POSTs are not retried: their failure
// reaches close).
var modelSoakRules = []faults.Rule{
	{Kind: faults.Status, Status: 503, Probability: 0.03},
	{Kind: faults.Status, Status: 429, RetryAfter: "0", Probability: 0.02},
	{Kind: faults.Status, Status: 500, Probability: 0.02},
	{Kind: faults.Latency, Delay: 2 * time.Millisecond, Probability: 0.2},
	{Kind: faults.Reset, Route: "content", After: 3, Probability: 0.03},
	{Kind: faults.Reset, Route: "GET s3", After: 3, Probability: 0.03},
	{Kind: faults.Short, Route: "GET s3", After: 2, Probability: 0.02},
	{Kind: faults.Stall, Route: "GET", Delay: 50 * time.Millisecond, After: 1, Probability: 0.02},
}

// modelSoakStats counts a soak's work and judges each operation.
type modelSoakStats struct {
	steps, faults               int64
	kinds                       map[faults.Kind]int64
	failed                      map[string]int // errno -> count
	before, after, ignoredClose int
	paused                      bool
}

func (s *modelSoakStats) add(o *modelSoakStats) {
	s.steps += o.steps
	s.faults += o.faults
	if s.kinds == nil {
		s.kinds = map[faults.Kind]int64{}
	}
	for k, v := range o.kinds {
		s.kinds[k] += v
	}
	for k, v := range o.failed {
		s.failed[k] += v
	}
	s.before += o.before
	s.after += o.after
	s.ignoredClose += o.ignoredClose
}

func (s *modelSoakStats) failures() int {
	n := 0
	for _, v := range s.failed {
		n += v
	}
	return n
}

// pause stops the faults (counting what fired); resume starts them again.
// Without an injector (a replay without faults) both do nothing.
func (s *modelSoakStats) pause(inj *faults.Injector) {
	if inj == nil || s.paused {
		return
	}
	s.paused = true
	if s.kinds == nil {
		s.kinds = map[faults.Kind]int64{}
	}
	for k, v := range inj.Stats() {
		s.kinds[k] += v
		s.faults += v
	}
	inj.Reset()
}

func (s *modelSoakStats) resume(inj *faults.Injector) {
	if inj == nil {
		return
	}
	s.paused = false
	inj.Add(modelSoakRules...)
}

func faultErrno(e syscall.Errno) bool {
	return e == syscall.EIO || e == syscall.ETIMEDOUT || e == syscall.EAGAIN
}

// snapshot is what the mount shows after every directory listed the
// remote again: the model's roots and the directories under them.
func (r *mRunner) snapshot(m mModel) (map[string]mEntry, error) {
	modelled := m.view()
	out := map[string]mEntry{}
	var walk func(dir string, depth int) error
	walk = func(dir string, depth int) error {
		os.Stat(filepath.Join(r.p(dir), ".filesmount-refresh"))
		ents, err := os.ReadDir(r.p(dir))
		if err != nil {
			return err
		}
		for _, de := range ents {
			p := filepath.Join(dir, de.Name())
			if _, ok := modelled[p]; !ok && m.ignored(dir, de.Name()) {
				continue
			}
			if de.IsDir() {
				out[p] = mEntry{dir: true}
				if depth < 1 {
					if err := walk(p, depth+1); err != nil {
						return err
					}
				}
				continue
			}
			b, err := os.ReadFile(r.p(p))
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			out[p] = mEntry{data: b}
		}
		return nil
	}
	for _, d := range m.roots() {
		if err := walk(d, 0); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// overwriteLeftoverRE: what a CBRAIN overwrite or replacing rename that
// failed halfway may leave on the portal, named in its error (SEMANTICS.md,
// "overwrite"): the new content under name.filesmount-new-<hash> when
// neither the old file nor the new one could be deleted, the replaced file
// under name.filesmount-old-<hash>.
var overwriteLeftoverRE = regexp.MustCompile(`\.filesmount-(new|old|mv)-[0-9a-f]{12}$`)

// sameView compares a snapshot with a model view; names in the snapshot
// that the view lacks are allowed if they are programs' temporary files
// (returned as extras).
func sameView(real, want map[string]mEntry) (ok bool, extras []string, diff string) {
	var d []string
	for p, e := range want {
		g, found := real[p]
		switch {
		case !found:
			d = append(d, p+": missing")
		case g.dir != e.dir:
			d = append(d, p+": type differs")
		case !bytes.Equal(g.data, e.data):
			d = append(d, fmt.Sprintf("%s: holds %s, expected %s", p, mq(string(g.data)), mq(string(e.data))))
		}
	}
	for p, g := range real {
		if _, found := want[p]; found {
			continue
		}
		if !g.dir && (tempNameRE.MatchString(filepath.Base(p)) || overwriteLeftoverRE.MatchString(filepath.Base(p))) {
			extras = append(extras, p)
			continue
		}
		d = append(d, p+": not expected")
	}
	sort.Strings(d)
	sort.Strings(extras)
	return len(d) == 0, extras, strings.Join(d, "; ")
}

// judge checks one operation under faults against rules 1-6 above and
// returns the model to carry on with.
func (s *modelSoakStats) judge(r *mRunner, sess *modelSession, before, after mModel, a mAction, want, got mOutcome, newLogs string) (mModel, string) {
	s.steps++
	real, err := r.snapshot(after)
	if err != nil {
		return nil, fmt.Sprintf("after %q (%v): inspecting the mount with faults paused: %v", a.String(), got, err)
	}
	afterOK, afterExtras, afterDiff := sameView(real, after.view())
	beforeOK, beforeExtras, beforeDiff := sameView(real, before.view())
	// A name that should be gone may stay listed until an asynchronous
	// release (after a failed upload of a new file, the kernel's release
	// follows close): give it the same bounded wait as the fault-free
	// check gives extra names.
	for deadline := time.Now().Add(2 * time.Second); !afterOK && !beforeOK &&
		(onlyUnexpected(afterDiff) || onlyUnexpected(beforeDiff)) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		if real, err = r.snapshot(after); err != nil {
			return nil, fmt.Sprintf("after %q (%v): inspecting the mount with faults paused: %v", a.String(), got, err)
		}
		afterOK, afterExtras, afterDiff = sameView(real, after.view())
		beforeOK, beforeExtras, beforeDiff = sameView(real, before.view())
	}
	if !afterOK && !beforeOK && wrote(a) {
		// A failed upload hands the data back: a file that had never
		// been uploaded (an empty VRChat file) is then gone (rule 3).
		if alt := before.clone(); alt.forgetLocal(a.Path) {
			if ok, extras, _ := sameView(real, alt.view()); ok {
				before, beforeOK, beforeExtras = alt, true, extras
			}
		}
	}
	if !afterOK && !beforeOK && truncatesFirst(a) {
		// open(O_TRUNC) truncates before anything is written (the
		// kernel's own setattr, uploaded on its own, SEMANTICS.md): the
		// truncation may have landed and the write failed after it.
		// The truncated file is then the state the failure leaves.
		alt := before.clone()
		if o := alt.apply(&mAction{Kind: "truncate", Path: a.Path}); o.errno == 0 {
			if ok, extras, _ := sameView(real, alt.view()); ok {
				before, beforeOK, beforeExtras = alt, true, extras
			}
		}
	}
	describe := func(why string) string {
		return fmt.Sprintf("action %q answered %v (the model expects %v): %s\n  vs after-state: %s\n  vs before-state: %s\n  daemon log during it:\n%s",
			a.String(), got, want, why, afterDiff, beforeDiff, newLogs)
	}
	if want.read && got.errno == 0 && !bytes.Equal(want.data, got.data) {
		return nil, describe("a read returned other bytes than the model's")
	}
	if got.errno != 0 {
		s.failed[errnoSym(got.errno)]++
		if got.errno != want.errno && !faultErrno(got.errno) {
			return nil, describe("an errno that is neither the refusal the model predicts nor a fault's")
		}
	}
	switch {
	case afterOK && (got.errno == 0 || got.errno == want.errno || faultErrno(got.errno)):
		if got.errno != want.errno {
			s.after++
		}
		failed := ""
		if got.errno != want.errno {
			failed = a.Path
		}
		after.adopt(real, afterExtras, failed)
		return after, ""
	case beforeOK && got.errno == 0 && want.errno == 0 && !wrote(a):
		return nil, describe("it reported success but had no effect")
	case beforeOK:
		// Failed (or a program ignored its close's failure): the content
		// that did not land must be in the recovery folder.
		if msg := lostInRecovery(real, before.view(), after.view(), sess.m.cacheDir, newLogs); msg != "" {
			return nil, describe(msg)
		}
		if got.errno == 0 {
			s.ignoredClose++
		} else if got.errno != want.errno {
			s.before++
		}
		before.adopt(real, beforeExtras, a.Path)
		return before, ""
	}
	return nil, describe("the mount shows neither the before- nor the after-state")
}

// onlyUnexpected: a sameView difference made only of extra names.
func onlyUnexpected(diff string) bool {
	if diff == "" {
		return false
	}
	for _, d := range strings.Split(diff, "; ") {
		if !strings.HasSuffix(d, ": not expected") {
			return false
		}
	}
	return true
}

// truncatesFirst: the action opens an existing file with O_TRUNC.
func truncatesFirst(a mAction) bool {
	return a.Kind == "write" || a.Kind == "cp"
}

// wrote: the action writes content (its failure may come from its close,
// which some programs do not report).
func wrote(a mAction) bool {
	switch a.Kind {
	case "write", "append", "writeat", "cp", "truncate", "sed", "gosed", "touch":
		return true
	}
	return false
}

// lostInRecovery checks rule 4: every content of the after-state that
// the mount does not show is in the recovery folder.
func lostInRecovery(real, before, after map[string]mEntry, cacheDir, newLogs string) string {
	have := map[string]bool{}
	for _, e := range real {
		have[string(e.data)] = true
	}
	for _, e := range before {
		have[string(e.data)] = true
	}
	for p, e := range after {
		if e.dir || len(e.data) == 0 || have[string(e.data)] {
			continue
		}
		if inRecoveryExact(filepath.Join(cacheDir, "recovery"), e.data) {
			continue
		}
		if strings.Contains(newLogs, "open for writing") || strings.Contains(newLogs, "truncate ") {
			continue // failed while copying the remote content, before any write
		}
		return fmt.Sprintf("the content %s written to %s is neither on the remote nor in %s/recovery", mq(string(e.data)), p, cacheDir)
	}
	return ""
}
