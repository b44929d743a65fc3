//go:build linux

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/filesmount/filesmount/cache"
	"github.com/filesmount/filesmount/fs"
	"github.com/filesmount/filesmount/internal/faults"
	"github.com/filesmount/filesmount/remote"
)

// Model-based tests (the pattern of mountpoint-s3's reference-model
// tests): a seeded random sequence of operations is applied both to a
// real mount of an emulated remote and to a reference model of what the
// mount should do (model_cbrain_test.go, model_vrchat_test.go). After
// every step the mount is compared with the model: names, sizes and
// contents of every directory the run uses, first as the kernel and the
// daemon have them cached, then again after `stat DIR/.filesmount-refresh`
// (the remote's listing). At the end every handle is closed, the mount is
// unmounted and the same emulator is mounted again with an empty cache
// directory: what that shows is the remote's true state, compared with
// the model too.
//
// A difference is reported with the seed and the shortest prefix of steps
// that still fails (replayed on a fresh emulator and mount), so that
//
//	FILESMOUNT_MODEL_SEED=<n> FILESMOUNT_MODEL_STEPS=<k> go test -run TestModelCBRAIN ./e2e/
//
// replays it. Each finding is also appended to the file
// FILESMOUNT_MODEL_FINDINGS names, if set.
//
// Knobs: FILESMOUNT_MODEL_SEED (one seed instead of the default ones),
// FILESMOUNT_MODEL_STEPS (steps per seed, default 150),
// FILESMOUNT_MODEL_DURATION (TestModelSoak only: how long to keep trying
// new seeds under injected faults).

const (
	modelSlots        = 3   // open handles the model keeps at most
	modelDefaultSteps = 150 // steps per seed in `make test`
	modelGap          = 1200 * time.Millisecond
	modelShrinkBudget = 90 * time.Second // keeps a failing `make test` bounded
)

// mAction is one operation, applied to the mount (exec) and to the model
// (apply). Every random choice is made when the action is generated, so
// replaying a seed regenerates the same actions.
type mAction struct {
	Kind     string
	Proc     bool   // through a program (sh, sed, mv, cp, cat, dd, truncate, touch) rather than Go calls
	Path     string // relative to the mount
	To       string // rename target; gosed's temporary file name (in Path's directory)
	Data     string // bytes written
	Off      int64
	Size     int64 // truncate size; read length
	Slot     int   // handle slot
	Flags    int   // open flags (hopen)
	Old, New string
	Gap      time.Duration // sleep
}

// mStep is one step: its actions run back to back, with no comparison
// (and so no lookup or listing) in between.
type mStep []mAction

func (s mStep) String() string {
	var parts []string
	for _, a := range s {
		parts = append(parts, a.String())
	}
	return strings.Join(parts, " ; ")
}

func mq(s string) string {
	if len(s) > 40 {
		return strconv.Quote(s[:40]) + fmt.Sprintf("...(%d bytes)", len(s))
	}
	return strconv.Quote(s)
}

func (a mAction) String() string {
	h := fmt.Sprintf("h%d", a.Slot)
	switch a.Kind {
	case "write":
		if a.Proc {
			return fmt.Sprintf("sh: printf %%s %s > %s", mq(a.Data), a.Path)
		}
		return fmt.Sprintf("go: write %s (O_CREAT|O_TRUNC) %s", a.Path, mq(a.Data))
	case "append":
		if a.Proc {
			return fmt.Sprintf("sh: echo %s >> %s", mq(strings.TrimSuffix(a.Data, "\n")), a.Path)
		}
		return fmt.Sprintf("go: append (O_APPEND|O_CREAT) %s to %s", mq(a.Data), a.Path)
	case "writeat":
		if a.Proc {
			return fmt.Sprintf("dd conv=notrunc seek=%d of=%s <<< %s", a.Off, a.Path, mq(a.Data))
		}
		return fmt.Sprintf("go: pwrite %s at %d into %s (O_WRONLY)", mq(a.Data), a.Off, a.Path)
	case "cp":
		return fmt.Sprintf("cp <file holding %s> %s", mq(a.Data), a.Path)
	case "truncate":
		if a.Proc {
			return fmt.Sprintf("truncate -s %d %s", a.Size, a.Path)
		}
		return fmt.Sprintf("go: truncate(%s, %d)", a.Path, a.Size)
	case "sed":
		return fmt.Sprintf("sed -i 's/%s/%s/' %s", a.Old, a.New, a.Path)
	case "gosed":
		return fmt.Sprintf("go sed: read %s, write s/%s/%s/ to %s beside it, rename it over %s", a.Path, a.Old, a.New, a.To, a.Path)
	case "rename":
		if a.Proc {
			return fmt.Sprintf("mv %s %s", a.Path, a.To)
		}
		return fmt.Sprintf("go: rename(%s, %s)", a.Path, a.To)
	case "rm":
		if a.Proc {
			return "rm " + a.Path
		}
		return fmt.Sprintf("go: unlink(%s)", a.Path)
	case "cat":
		if a.Proc {
			return "cat " + a.Path
		}
		return fmt.Sprintf("go: read whole %s", a.Path)
	case "readat":
		return fmt.Sprintf("go: pread %s at %d, %d bytes", a.Path, a.Off, a.Size)
	case "touch":
		return "touch " + a.Path
	case "mkdir":
		if a.Proc {
			return "mkdir " + a.Path
		}
		return fmt.Sprintf("go: mkdir(%s)", a.Path)
	case "rmdir":
		if a.Proc {
			return "rmdir " + a.Path
		}
		return fmt.Sprintf("go: rmdir(%s)", a.Path)
	case "hopen":
		return fmt.Sprintf("%s = open(%s, %s)", h, a.Path, mFlags(a.Flags))
	case "hwrite":
		if a.Off < 0 {
			return fmt.Sprintf("%s.write(%s) (appending)", h, mq(a.Data))
		}
		return fmt.Sprintf("%s.pwrite(%s, %d)", h, mq(a.Data), a.Off)
	case "hread":
		return fmt.Sprintf("%s.pread(%d bytes at %d)", h, a.Size, a.Off)
	case "htrunc":
		return fmt.Sprintf("%s.ftruncate(%d)", h, a.Size)
	case "hsync":
		return h + ".fsync()"
	case "hclose":
		return h + ".close()"
	case "sleep":
		return fmt.Sprintf("sleep %v", a.Gap)
	}
	return "unknown action " + a.Kind
}

func mFlags(fl int) string {
	s := "O_RDWR"
	for _, f := range []struct {
		bit  int
		name string
	}{{os.O_CREATE, "O_CREAT"}, {os.O_EXCL, "O_EXCL"}, {os.O_TRUNC, "O_TRUNC"}, {os.O_APPEND, "O_APPEND"}} {
		if fl&f.bit != 0 {
			s += "|" + f.name
		}
	}
	return s
}

// mOutcome is what an action returns: its errno (0: success) and, for
// reads, the bytes.
type mOutcome struct {
	errno syscall.Errno
	read  bool
	data  []byte
	out   string // a program's output, for messages
}

func (o mOutcome) String() string {
	if o.errno != 0 {
		s := fmt.Sprintf("error %s (%v)", errnoSym(o.errno), o.errno)
		if o.out != "" {
			s += ": " + strings.TrimSpace(o.out)
		}
		return s
	}
	if o.read {
		return "read " + mq(string(o.data))
	}
	return "success"
}

// errnoUnknown is a program's failure whose message names no known errno.
const errnoUnknown = syscall.Errno(0xfff)

var mKnownErrnos = []syscall.Errno{syscall.ENOENT, syscall.EINVAL, syscall.ENOTSUP, syscall.EPERM, syscall.ENOTEMPTY,
	syscall.EEXIST, syscall.EACCES, syscall.EROFS, syscall.EBUSY, syscall.ETIMEDOUT, syscall.EAGAIN, syscall.EXDEV,
	syscall.EISDIR, syscall.ENOTDIR, syscall.EDQUOT, syscall.EFBIG, syscall.EIO}

func errnoSym(e syscall.Errno) string {
	names := map[syscall.Errno]string{syscall.ENOENT: "ENOENT", syscall.EINVAL: "EINVAL", syscall.ENOTSUP: "ENOTSUP",
		syscall.EPERM: "EPERM", syscall.ENOTEMPTY: "ENOTEMPTY", syscall.EEXIST: "EEXIST", syscall.EACCES: "EACCES",
		syscall.EROFS: "EROFS", syscall.EBUSY: "EBUSY", syscall.ETIMEDOUT: "ETIMEDOUT", syscall.EAGAIN: "EAGAIN",
		syscall.EXDEV: "EXDEV", syscall.EISDIR: "EISDIR", syscall.ENOTDIR: "ENOTDIR", syscall.EDQUOT: "EDQUOT",
		syscall.EFBIG: "EFBIG", syscall.EIO: "EIO", errnoUnknown: "unknown"}
	if n, ok := names[e]; ok {
		return n
	}
	return fmt.Sprintf("errno %d", int(e))
}

func goErrno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return errnoUnknown
}

// procErrno finds the errno a failed program reported by its message.
func procErrno(out string) syscall.Errno {
	low := strings.ToLower(out)
	if strings.Contains(low, "to a subdirectory of itself") {
		return syscall.EINVAL // how GNU mv reports EINVAL from rename(2)
	}
	if strings.Contains(low, "directory nonexistent") {
		return syscall.ENOENT // how dash reports ENOENT from a redirection's open
	}
	for _, e := range mKnownErrnos {
		if strings.Contains(low, strings.ToLower(e.Error())) {
			return e
		}
	}
	return errnoUnknown
}

// mEntry is what the model expects at a path: a directory, or a file with
// its content.
type mEntry struct {
	dir  bool
	data []byte
}

// mModel is a reference model of one remote as seen through the mount.
type mModel interface {
	// gen makes the next step from the model's current state.
	gen(g *mGen) mStep
	// apply updates the model for a and returns the outcome it predicts.
	apply(a *mAction) mOutcome
	// view is what the mount shows: every file and directory under the
	// directories the run uses, by path relative to the mount.
	view() map[string]mEntry
	// remoteView is what a fresh mount shows once every handle is closed
	// and the daemon unmounted.
	remoteView() map[string]mEntry
	// roots are directories that always exist and are always listed;
	// ignored names in them are not modelled (other providers, tags/).
	roots() []string
	ignored(dir, name string) bool
	// readSlot is the slot whose handle the comparison reads path's
	// content through (-1: read the path).
	readSlot(path string) int
	// closeAll is the step that closes every open handle.
	closeAll() mStep
	// allowedRecovery says whether a file found in the recovery folder
	// (no faults injected) is expected there: a temporary file never
	// renamed is handed back at unmount.
	allowedRecovery(rel string) bool
	// clone is a deep copy (the soak keeps the state before each action).
	clone() mModel
	// adopt takes into the model what a failed action left that is in
	// neither its before- nor its after-state but is acceptable: the
	// programs' temporary files (extras, with their content in real),
	// and, after a failure of an action on failedPath, what the mount
	// cannot tell apart.
	adopt(real map[string]mEntry, extras []string, failedPath string)
	// forgetLocal drops the local-only file at p (never uploaded), as a
	// failed upload does when it hands the data back; false if none.
	forgetLocal(p string) bool
}

// mGen holds the random source of a run and helpers to draw from it.
type mGen struct {
	rng     *rand.Rand
	gapRate float64 // probability that a chained step sleeps past the attribute timeout
	noSlots bool    // soak: no handles
	single  bool    // soak: one action per step
}

func (g *mGen) intn(n int) int         { return g.rng.Intn(n) }
func (g *mGen) chance(p float64) bool  { return g.rng.Float64() < p }
func (g *mGen) pick(s []string) string { return s[g.rng.Intn(len(s))] }
func (g *mGen) pickInt(s []int) int    { return s[g.rng.Intn(len(s))] }
func (g *mGen) coin() bool             { return g.rng.Intn(2) == 0 }
func (g *mGen) between(lo, hi int) int { return lo + g.rng.Intn(hi-lo+1) }
func (g *mGen) word(lo, hi int) string { return g.text(lo, hi, "abcdexyz") }
func (g *mGen) text(lo, hi int, alphabet string) string {
	n := g.between(lo, hi)
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[g.rng.Intn(len(alphabet))]
	}
	return string(b)
}

// data is content to write: words and newlines.
func (g *mGen) data() string {
	var b strings.Builder
	for i, n := 0, g.between(1, 3); i < n; i++ {
		b.WriteString(g.word(1, 8))
		if g.chance(0.6) {
			b.WriteByte('\n')
		}
	}
	return b.String()
}

const mAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// sedTemp is a temporary name like GNU sed's (sedAb12Cd); rsyncTemp like
// rsync's (.name.Xy12Ab).
func (g *mGen) sedTemp() string              { return "sed" + g.text(6, 6, mAlnum) }
func (g *mGen) rsyncTemp(name string) string { return "." + name + "." + g.text(6, 6, mAlnum) }

// sedPair is a substitution for sed -i: one of the content's letters
// becomes something else (possibly nothing, possibly longer).
func (g *mGen) sedPair() (string, string) {
	return g.pick([]string{"a", "b", "x", "ab", "ex"}), g.pick([]string{"Q", "", "QQ", "ZZZ", "y"})
}

// sedApply is `sed 's/old/new/'`: the first old of every line becomes new.
func sedApply(b []byte, old, new string) []byte {
	var out []byte
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		body, nl := bytes.CutSuffix(line, []byte("\n"))
		out = append(out, bytes.Replace(body, []byte(old), []byte(new), 1)...)
		if nl {
			out = append(out, '\n')
		}
	}
	return out
}

// writeAt returns b with p written at off (zeros fill a gap).
func writeAt(b []byte, p []byte, off int64) []byte {
	if end := off + int64(len(p)); end > int64(len(b)) {
		b = append(b, make([]byte, end-int64(len(b)))...)
	}
	copy(b[off:], p)
	return b
}

// resize returns b truncated or zero-extended to size.
func resize(b []byte, size int64) []byte {
	if size <= int64(len(b)) {
		return append([]byte(nil), b[:size]...)
	}
	return append(append([]byte(nil), b...), make([]byte, size-int64(len(b)))...)
}

func readRange(b []byte, off, n int64) []byte {
	if off >= int64(len(b)) {
		return []byte{}
	}
	return append([]byte{}, b[off:min(off+n, int64(len(b)))]...)
}

// ---------------------------------------------------------------------
// The mount side.

// modelMount is a mount that the test unmounts itself (mountStores leaves
// that to the test's cleanup), so that a second one can follow.
type modelMount struct {
	mnt, cacheDir string
	logs          *syncWriter
	cache         *cache.Cache
	server        *fuse.Server
	cancel        context.CancelFunc
	done          bool
}

func modelMountStores(mnt, cacheDir string, logs *syncWriter, stores ...remote.Store) (*modelMount, error) {
	logger := log.New(logs, "", 0)
	ctx, cancel := context.WithCancel(context.Background())
	opts := cache.Options{BlockSize: 1 << 20, MaxBytes: 32 << 20, Dir: filepath.Join(cacheDir, "spool"), Logger: logger}
	c, err := cache.New(ctx, opts)
	if err != nil {
		cancel()
		return nil, err
	}
	var backends []fs.Backend
	for _, s := range stores {
		cs := c.Wrap(s)
		backends = append(backends, fs.Backend{Store: cs, Reader: cs, Writer: cs.Writer()})
	}
	root, err := fs.NewRoot(backends, fs.Options{MetadataTTL: time.Minute, Logger: logger, CacheDir: cacheDir})
	if err != nil {
		c.Close()
		cancel()
		return nil, err
	}
	server, err := fs.Mount(mnt, root, fs.MountConfig{FsName: "filesmount-model", Logger: logger,
		Debug: os.Getenv("FILESMOUNT_TEST_DEBUG") != ""})
	if err != nil {
		c.Close()
		cancel()
		return nil, err
	}
	return &modelMount{mnt: mnt, cacheDir: cacheDir, logs: logs, cache: c, server: server, cancel: cancel}, nil
}

// unmount waits for the daemon's uploads (as unmounting does) and stops it.
func (m *modelMount) unmount() error {
	if m.done {
		return nil
	}
	m.done = true
	var err error
	for i := 0; i < 50; i++ { // a release the kernel has not sent yet keeps the mount busy
		if err = m.server.Unmount(); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	m.cache.Close()
	m.cancel()
	return err
}

// modelSession is one emulator and the mount of it.
type modelSession struct {
	m *modelMount
	// remount unmounts and mounts the same emulator again with a fresh
	// cache directory.
	remount func() error
	close   func()
}

// modelSetup describes one remote for the harness.
type modelSetup struct {
	remote   string // "CBRAIN", "VRChat"
	test     string // the test that replays a seed
	env      string // more environment for the replay command (the soak's)
	newModel func() mModel
	// start starts a fresh emulator (with inj's faults, if any) and mounts it.
	start func(t *testing.T, inj *faults.Injector) (*modelSession, error)
	// steps, if set, is the steps per seed of a cheaper variant (unless
	// FILESMOUNT_MODEL_STEPS says otherwise).
	steps int
}

// mRunner executes actions on the mount.
type mRunner struct {
	mnt     string
	scratch string // outside the mount: cp's sources
	handles [modelSlots]*os.File
	n       int
}

func (r *mRunner) p(rel string) string { return filepath.Join(r.mnt, rel) }

func mProc(stdin string, name string, args ...string) (stdout []byte, combined string, err error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = os.TempDir() // never a directory on the mount
	cmd.Stdin = strings.NewReader(stdin)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err = cmd.Run()
	return so.Bytes(), so.String() + se.String(), err
}

// procRun runs a program and turns its result into an outcome (its
// standard output for a read).
func procRun(read bool, stdin string, name string, args ...string) mOutcome {
	stdout, out, err := mProc(stdin, name, args...)
	if err != nil {
		return mOutcome{errno: procErrno(out), out: out}
	}
	if read {
		return mOutcome{read: true, data: stdout}
	}
	return mOutcome{}
}

func (r *mRunner) exec(a mAction) mOutcome {
	p := r.p(a.Path)
	switch a.Kind {
	case "write":
		if a.Proc {
			return procRun(false, "", "sh", "-c", `printf %s "$1" > "$2"`, "sh", a.Data, p)
		}
		return mOutcome{errno: goErrno(os.WriteFile(p, []byte(a.Data), 0o644))}
	case "append":
		if a.Proc {
			return procRun(false, "", "sh", "-c", `echo "$1" >> "$2"`, "sh", strings.TrimSuffix(a.Data, "\n"), p)
		}
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return mOutcome{errno: goErrno(err)}
		}
		_, err = f.Write([]byte(a.Data))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return mOutcome{errno: goErrno(err)}
	case "writeat":
		if a.Proc {
			return procRun(false, a.Data, "dd", "of="+p, "bs=1", "seek="+strconv.FormatInt(a.Off, 10), "conv=notrunc", "status=none")
		}
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			return mOutcome{errno: goErrno(err)}
		}
		_, err = f.WriteAt([]byte(a.Data), a.Off)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return mOutcome{errno: goErrno(err)}
	case "cp":
		r.n++
		src := filepath.Join(r.scratch, fmt.Sprintf("src%d", r.n))
		if err := os.WriteFile(src, []byte(a.Data), 0o644); err != nil {
			return mOutcome{errno: errnoUnknown, out: err.Error()}
		}
		defer os.Remove(src)
		return procRun(false, "", "cp", src, p)
	case "truncate":
		if a.Proc {
			return procRun(false, "", "truncate", "-s", strconv.FormatInt(a.Size, 10), p)
		}
		return mOutcome{errno: goErrno(os.Truncate(p, a.Size))}
	case "sed":
		return procRun(false, "", "sed", "-i", "s/"+a.Old+"/"+a.New+"/", p)
	case "gosed":
		b, err := os.ReadFile(p)
		if err != nil {
			return mOutcome{errno: goErrno(err), out: "reading the file"}
		}
		tmp := filepath.Join(filepath.Dir(p), a.To)
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return mOutcome{errno: goErrno(err), out: "creating the temporary file"}
		}
		_, err = f.Write(sedApply(b, a.Old, a.New))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return mOutcome{errno: goErrno(err), out: "writing the temporary file"}
		}
		if err := os.Rename(tmp, p); err != nil {
			return mOutcome{errno: goErrno(err), out: "renaming the temporary file"}
		}
		return mOutcome{}
	case "rename":
		if a.Proc {
			return procRun(false, "", "mv", "-f", "-T", p, r.p(a.To))
		}
		return mOutcome{errno: goErrno(os.Rename(p, r.p(a.To)))}
	case "rm":
		if a.Proc {
			return procRun(false, "", "rm", p)
		}
		return mOutcome{errno: goErrno(syscall.Unlink(p))}
	case "cat":
		if a.Proc {
			return procRun(true, "", "cat", p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return mOutcome{errno: goErrno(err)}
		}
		return mOutcome{read: true, data: b}
	case "readat":
		f, err := os.Open(p)
		if err != nil {
			return mOutcome{errno: goErrno(err)}
		}
		defer f.Close()
		buf := make([]byte, a.Size)
		n, err := f.ReadAt(buf, a.Off)
		if err != nil && err != io.EOF {
			return mOutcome{errno: goErrno(err)}
		}
		return mOutcome{read: true, data: buf[:n]}
	case "touch":
		return procRun(false, "", "touch", p)
	case "mkdir":
		if a.Proc {
			return procRun(false, "", "mkdir", p)
		}
		return mOutcome{errno: goErrno(syscall.Mkdir(p, 0o755))}
	case "rmdir":
		if a.Proc {
			return procRun(false, "", "rmdir", p)
		}
		return mOutcome{errno: goErrno(syscall.Rmdir(p))}
	case "hopen":
		f, err := os.OpenFile(p, a.Flags, 0o644)
		if err != nil {
			return mOutcome{errno: goErrno(err)}
		}
		r.handles[a.Slot] = f
		return mOutcome{}
	case "hwrite":
		f := r.handles[a.Slot]
		var err error
		if a.Off < 0 {
			_, err = f.Write([]byte(a.Data))
		} else {
			_, err = f.WriteAt([]byte(a.Data), a.Off)
		}
		return mOutcome{errno: goErrno(err)}
	case "hread":
		buf := make([]byte, a.Size)
		n, err := r.handles[a.Slot].ReadAt(buf, a.Off)
		if err != nil && err != io.EOF {
			return mOutcome{errno: goErrno(err)}
		}
		return mOutcome{read: true, data: buf[:n]}
	case "htrunc":
		return mOutcome{errno: goErrno(r.handles[a.Slot].Truncate(a.Size))}
	case "hsync":
		return mOutcome{errno: goErrno(r.handles[a.Slot].Sync())}
	case "hclose":
		f := r.handles[a.Slot]
		r.handles[a.Slot] = nil
		return mOutcome{errno: goErrno(f.Close())}
	case "sleep":
		time.Sleep(a.Gap)
		return mOutcome{}
	}
	panic("model: unknown action " + a.Kind)
}

// closeHandles closes what is still open (after a failure).
func (r *mRunner) closeHandles() {
	for i, f := range r.handles {
		if f != nil {
			f.Close()
			r.handles[i] = nil
		}
	}
}

func sameOutcome(want, got mOutcome) bool {
	return want.errno == got.errno && want.read == got.read && (!want.read || bytes.Equal(want.data, got.data))
}

// ---------------------------------------------------------------------
// Comparing the mount with the model.

type mDiff struct {
	text  string
	extra bool // a name listed that the model says is gone (may wait for a release)
}

func mParent(p string) string { return filepath.Dir(p) }

// compare checks every path of want through the mount (content through
// a model handle where readSlot says so), then every directory's listing.
func (r *mRunner) compare(m mModel, want map[string]mEntry, withSlots bool) []mDiff {
	var diffs []mDiff
	paths := make([]string, 0, len(want))
	for p := range want {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	dirs := append([]string(nil), m.roots()...)
	for _, p := range paths {
		if want[p].dir {
			dirs = append(dirs, p)
		}
	}
	// Files first, by path: lookups answered from what the kernel has
	// cached, as a program that knows the name would see them.
	for _, p := range paths {
		e := want[p]
		if e.dir {
			continue
		}
		fi, err := os.Lstat(r.p(p))
		if err != nil {
			diffs = append(diffs, mDiff{text: fmt.Sprintf("%s: stat: %v; the model has %s", p, err, mq(string(e.data)))})
			continue
		}
		if !fi.Mode().IsRegular() {
			diffs = append(diffs, mDiff{text: fmt.Sprintf("%s: is %v, the model has a file", p, fi.Mode().Type())})
			continue
		}
		if fi.Size() != int64(len(e.data)) {
			diffs = append(diffs, mDiff{text: fmt.Sprintf("%s: stat says %d bytes, the model has %d: %s", p, fi.Size(), len(e.data), mq(string(e.data)))})
		}
		var got []byte
		if s := m.readSlot(p); withSlots && s >= 0 && r.handles[s] != nil {
			buf := make([]byte, len(e.data)+64)
			n, rerr := r.handles[s].ReadAt(buf, 0)
			if rerr != nil && rerr != io.EOF {
				err = rerr
			}
			got = buf[:n]
		} else {
			got, err = os.ReadFile(r.p(p))
		}
		switch {
		case err != nil:
			diffs = append(diffs, mDiff{text: fmt.Sprintf("%s: read: %v; the model has %s", p, err, mq(string(e.data)))})
		case !bytes.Equal(got, e.data):
			diffs = append(diffs, mDiff{text: fmt.Sprintf("%s: holds %s, the model has %s", p, mq(string(got)), mq(string(e.data)))})
		}
	}
	// Then the listings: nothing missing, nothing extra.
	for _, d := range dirs {
		ents, err := os.ReadDir(r.p(d))
		if err != nil {
			diffs = append(diffs, mDiff{text: fmt.Sprintf("%s/: list: %v", d, err)})
			continue
		}
		listed := map[string]bool{}
		for _, de := range ents {
			name := de.Name()
			listed[name] = true
			if m.ignored(d, name) {
				continue
			}
			p := filepath.Join(d, name)
			e, ok := want[p]
			switch {
			case !ok:
				what := "file"
				if de.IsDir() {
					what = "directory"
				}
				diffs = append(diffs, mDiff{text: fmt.Sprintf("%s: listed (a %s), the model has no such name", p, what), extra: true})
			case e.dir != de.IsDir():
				diffs = append(diffs, mDiff{text: fmt.Sprintf("%s: listed with type %v, the model has dir=%v", p, de.Type(), e.dir)})
			}
		}
		for _, p := range paths {
			if mParent(p) == d && !listed[filepath.Base(p)] {
				diffs = append(diffs, mDiff{text: fmt.Sprintf("%s: not listed in %s/, the model has it", p, d)})
			}
		}
	}
	return diffs
}

// check compares the mount with the model, before and after making every
// directory list the remote again. Names that should be gone get a short
// bounded wait (a close's release reaches the daemon asynchronously);
// contents and sizes none.
func (r *mRunner) check(m mModel, want map[string]mEntry, withSlots bool) string {
	var report []string
	for _, phase := range []string{"cached view", "after refresh"} {
		if phase == "after refresh" {
			for _, d := range m.roots() {
				os.Stat(filepath.Join(r.p(d), fs.RefreshName))
			}
			for p, e := range want {
				if e.dir {
					os.Stat(filepath.Join(r.p(p), fs.RefreshName))
				}
			}
		}
		diffs := r.compare(m, want, withSlots)
		deadline := time.Now().Add(2 * time.Second)
		for len(diffs) > 0 && allExtra(diffs) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
			diffs = r.compare(m, want, withSlots)
		}
		for _, d := range diffs {
			report = append(report, phase+": "+d.text)
		}
		if len(diffs) > 0 {
			break
		}
	}
	return strings.Join(report, "\n")
}

func allExtra(diffs []mDiff) bool {
	for _, d := range diffs {
		if !d.extra {
			return false
		}
	}
	return true
}

// ---------------------------------------------------------------------
// Runs, shrinking, reports.

type modelOpts struct {
	inj     *faults.Injector // soak: faults fire during the steps, not during the final check
	soak    *modelSoakStats  // soak: counts, and tolerance of failures caused by faults
	gapRate float64          // -1: drawn from the seed
	noSlots bool
	info    *modelInfo // if set, filled with what the run did
}

// modelInfo is what a run did, for the test's log.
type modelInfo struct {
	gapRate          float64
	actions, sleeps  int
	procs, handleOps int
	inActions        time.Duration // executing the actions (sleeps included)
	inChecks         time.Duration // comparing the mount with the model
	files            int           // files compared, summed over the steps
}

// modelFailure is a difference between the mount and the model.
type modelFailure struct {
	seed   int64
	steps  int // the prefix that fails (steps run, final check included)
	atStep int // 1-based step that differed; steps+1 = the final check
	what   string
	gen    []mStep
	logs   string
}

// modelRun runs seed for n steps (then closes everything, remounts and
// checks the remote) and returns the first difference, or nil.
func modelRun(t *testing.T, s *modelSetup, seed int64, n int, o modelOpts) *modelFailure {
	rng := rand.New(rand.NewSource(seed))
	g := &mGen{rng: rng, gapRate: o.gapRate, noSlots: o.noSlots, single: o.soak != nil}
	if g.gapRate < 0 { // a third of the seeds sleep past the attribute timeout now and then
		g.gapRate = 0
		if rng.Intn(3) == 0 {
			g.gapRate = 0.04
		}
	}
	info := o.info
	if info == nil {
		info = &modelInfo{}
	}
	info.gapRate = g.gapRate
	sess, err := s.start(t, o.inj)
	if err != nil {
		t.Fatalf("model %s: start: %v", s.remote, err)
	}
	defer sess.close()
	m := s.newModel()
	r := &mRunner{mnt: sess.m.mnt, scratch: t.TempDir()}
	defer r.closeHandles()
	fail := &modelFailure{seed: seed}
	failAt := func(step int, what string) *modelFailure {
		fail.atStep, fail.what, fail.logs = step, what, sess.m.logs.String()
		fail.steps = min(step, n)
		return fail
	}
	if o.soak != nil {
		o.soak.resume(o.inj)
	}
	for i := 0; i < n; i++ {
		step := m.gen(g)
		fail.gen = append(fail.gen, step)
		for _, a := range step {
			info.actions++
			switch {
			case a.Kind == "sleep":
				info.sleeps++
			case a.Proc:
				info.procs++
			case strings.HasPrefix(a.Kind, "h"):
				info.handleOps++
			}
		}
		if o.soak != nil { // one action, judged against its before- and after-state
			a := step[0]
			before := m.clone()
			want := m.apply(&step[0])
			mark := len(sess.m.logs.String())
			got := r.exec(a)
			o.soak.pause(o.inj)
			next, msg := o.soak.judge(r, sess, before, m, a, want, got, sess.m.logs.String()[mark:])
			if msg != "" {
				return failAt(i+1, msg)
			}
			m = next
			o.soak.resume(o.inj)
			continue
		}
		t0 := time.Now()
		for j := range step {
			a := step[j]
			want := m.apply(&step[j])
			if got := r.exec(a); !sameOutcome(want, got) {
				return failAt(i+1, fmt.Sprintf("action %q: the mount answered %v, the model expects %v", a.String(), got, want))
			}
		}
		t1 := time.Now()
		info.inActions += t1.Sub(t0)
		// Every other step, files open through a model handle are read
		// through it: reading them by path closes a descriptor, which
		// uploads them, and they would never stay dirty across steps.
		view := m.view()
		info.files += len(view)
		diff := r.check(m, view, i%2 == 1)
		info.inChecks += time.Since(t1)
		if diff != "" {
			return failAt(i+1, diff)
		}
	}
	// The end: close what is open, then unmount and look at the remote
	// through a fresh mount with an empty cache.
	if o.soak != nil {
		o.soak.pause(o.inj)
	}
	closing := m.closeAll()
	fail.gen = append(fail.gen, closing)
	for j := range closing {
		a := closing[j]
		want := m.apply(&closing[j])
		if got := r.exec(a); !sameOutcome(want, got) && o.soak == nil {
			return failAt(n+1, fmt.Sprintf("closing at the end: %q: the mount answered %v, the model expects %v", a.String(), got, want))
		}
	}
	if diff := r.check(m, m.view(), false); diff != "" {
		return failAt(n+1, "after closing every handle: "+diff)
	}
	oldCache := sess.m.cacheDir
	if err := sess.remount(); err != nil {
		return failAt(n+1, fmt.Sprintf("unmount and mount again: %v", err))
	}
	if o.soak == nil {
		if msg := unexpectedRecovery(m, oldCache); msg != "" {
			return failAt(n+1, msg)
		}
	}
	r.mnt = sess.m.mnt
	if diff := r.check(m, m.remoteView(), false); diff != "" {
		return failAt(n+1, "the remote, through a new mount with an empty cache: "+diff)
	}
	return nil
}

// unexpectedRecovery lists files handed back to the recovery folder that
// no fault explains.
func unexpectedRecovery(m mModel, cacheDir string) string {
	dir := filepath.Join(cacheDir, "recovery")
	var bad []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			if !m.allowedRecovery(rel) {
				bad = append(bad, rel)
			}
		}
		return nil
	})
	if len(bad) == 0 {
		return ""
	}
	return fmt.Sprintf("the first mount handed data back to its recovery folder (no fault was injected): %v", bad)
}

// shrink finds the shortest prefix of f's seed that still fails, by
// binary search over prefix lengths (each replayed on a fresh emulator
// and mount), then reports it.
func modelShrink(t *testing.T, s *modelSetup, f *modelFailure, o modelOpts) *modelFailure {
	best := f
	lo, hi := 1, f.steps
	replays := 0
	deadline := time.Now().Add(modelShrinkBudget)
	for lo < hi {
		if time.Now().After(deadline) {
			best.what += fmt.Sprintf("\n(shrinking stopped after %v: prefixes of %d steps and fewer were not all tried)", modelShrinkBudget, lo-1)
			return best
		}
		mid := (lo + hi) / 2
		replays++
		if g := modelRun(t, s, f.seed, mid, o); g != nil {
			best, hi = g, g.steps
		} else {
			lo = mid + 1
		}
	}
	if best == f && replays > 0 {
		// Every shorter prefix passed: check that the failure replays.
		if g := modelRun(t, s, f.seed, f.steps, o); g != nil {
			return g
		}
		f.what += "\n(this prefix passed when replayed: the difference depends on timing)"
	}
	return best
}

func (f *modelFailure) report(s *modelSetup) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s model: seed %d: difference at step %d of a %d-step prefix", s.remote, f.seed, f.atStep, f.steps)
	if f.atStep > f.steps {
		b.WriteString(" (the final close / remount check)")
	}
	fmt.Fprintf(&b, "\nreplay: FILESMOUNT_MODEL_SEED=%d FILESMOUNT_MODEL_STEPS=%d %sgo test -race -count=1 -run '^%s$' ./e2e/\n", f.seed, f.steps, s.env, s.test)
	b.WriteString("steps:\n")
	for i, st := range f.gen {
		if i >= f.atStep && i < len(f.gen)-1 {
			continue
		}
		label := strconv.Itoa(i + 1)
		if i == len(f.gen)-1 && f.atStep > f.steps {
			label = "end"
		}
		fmt.Fprintf(&b, "  %4s. %s\n", label, st)
	}
	b.WriteString("difference:\n  " + strings.ReplaceAll(f.what, "\n", "\n  ") + "\n")
	return b.String()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// recordFinding appends a finding to the file FILESMOUNT_MODEL_FINDINGS
// names, if set (a long soak's findings in one place).
func recordFinding(s *modelSetup, f *modelFailure, note string) {
	path := os.Getenv("FILESMOUNT_MODEL_FINDINGS")
	if path == "" {
		return
	}
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return
	}
	defer fh.Close()
	fmt.Fprintf(fh, "\n## %s %s, seed %d, %d steps%s\n\n```\n%s```\n", time.Now().Format("15:04:05"), s.remote, f.seed, f.steps, note, f.report(s))
}

// modelSeeds are the seeds a test runs: FILESMOUNT_MODEL_SEED alone, or
// the fixed ones and one drawn from the clock (printed for replay). In CI
// the third is fixed too, so that what lands does not depend on the draw;
// new seeds are explored by every run elsewhere and by make soak.
func modelSeeds(fixed ...int64) []int64 {
	if s := os.Getenv("FILESMOUNT_MODEL_SEED"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err == nil {
			return []int64{n}
		}
	}
	if len(fixed) > 0 && os.Getenv("CI") == "true" {
		return append(fixed, 3)
	}
	return append(fixed, time.Now().UnixNano()%1_000_000_000)
}

func modelSteps() int {
	if s := os.Getenv("FILESMOUNT_MODEL_STEPS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			return n
		}
	}
	return modelDefaultSteps
}

// modelTest runs each seed of a remote's model, shrinking and reporting a
// difference.
func modelTest(t *testing.T, s *modelSetup, fixed ...int64) {
	requireFUSE(t)
	steps := modelSteps()
	if s.steps > 0 && os.Getenv("FILESMOUNT_MODEL_STEPS") == "" {
		steps = s.steps
	}
	for _, seed := range modelSeeds(fixed...) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			start := time.Now()
			info := &modelInfo{}
			f := modelRun(t, s, seed, steps, modelOpts{gapRate: -1, info: info})
			if f == nil {
				t.Logf("%s model: seed %d: %d steps (%d actions: %d through programs, %d on handles, %d sleeps of %v) and the remount agree with the model (%v: actions %v, comparisons %v of %d paths)",
					s.remote, seed, steps, info.actions, info.procs, info.handleOps, info.sleeps, modelGap, time.Since(start).Round(time.Millisecond),
					info.inActions.Round(time.Millisecond), info.inChecks.Round(time.Millisecond), info.files)
				return
			}
			t.Logf("seed %d differs at step %d; looking for the shortest failing prefix", seed, f.atStep)
			short := modelShrink(t, s, f, modelOpts{gapRate: -1})
			recordFinding(s, short, "")
			t.Errorf("%s\nlast daemon log lines:\n%s", short.report(s), lastLines(short.logs, 25))
		})
	}
}
