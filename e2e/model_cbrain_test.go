//go:build linux

package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/filesmount/filesmount/internal/faults"
	"github.com/filesmount/filesmount/remote/cbrain"
	"github.com/filesmount/filesmount/remote/cbrain/cbraintest"
)

// TestModelCBRAIN runs random sequences of operations on two writable
// CBRAIN data providers and compares the mount with a POSIX model after
// every step and after a remount (see model_harness_test.go).
func TestModelCBRAIN(t *testing.T) {
	modelTest(t, cbrainModelSetup(), 1, 5) // seed 5 sleeps past the attribute timeout now and then
}

func cbrainModelSetup() *modelSetup {
	return &modelSetup{remote: "CBRAIN", test: "TestModelCBRAIN", newModel: newCBModel, start: startCBRAINModel}
}

// The model's providers and what they hold at the start.
var (
	cbDirs = []string{"cbrain/ModelA", "cbrain/ModelB"}
	cbSeed = map[string]map[string]string{
		"cbrain/ModelA": {"a.txt": "alpha\nbeta\n", "b.dat": "0123456789\n"},
		"cbrain/ModelB": {"c.txt": "gamma\ndelta\n"},
	}
	// Names the generator uses (lower case: CBRAIN compares names
	// without case on some providers).
	cbNames    = []string{"a.txt", "b.dat", "c.txt", "d.csv", "e.txt", "notes.txt", "r.txt", "log.txt"}
	cbBadNames = []string{"bad name.txt", "-dash.txt", "\u00e9t\u00e9.txt", "semi;colon.txt"}
)

func startCBRAINModel(t *testing.T, inj *faults.Injector) (*modelSession, error) {
	return startCBRAINModelWith(t, inj, "", nil)
}

// startCBRAINModelWith is startCBRAINModel playing release ("":
// FILESMOUNT_CBRAIN_RELEASE, else the current one), with seed adding more
// to the emulator (a variant's own files).
func startCBRAINModelWith(t *testing.T, inj *faults.Injector, release cbraintest.Release, seed func(srv *cbraintest.Server, user int)) (*modelSession, error) {
	srv, err := cbraintest.New(cbraintest.Options{DataDir: t.TempDir(), UploadDelay: 2 * time.Millisecond,
		BACDelay: 2 * time.Millisecond, Faults: inj, Release: release})
	if err != nil {
		return nil, err
	}
	user, token, err := cbraintest.SeedDemo(srv)
	if err != nil {
		srv.Close()
		return nil, err
	}
	for _, d := range cbDirs {
		dp := srv.AddProvider(filepath.Base(d), user, cbraintest.ProviderOptions{Description: "model test"})
		for name, content := range cbSeed[d] {
			srv.AddFile(cbraintest.FileSpec{Name: name, ProviderID: dp, OwnerID: user, Content: []byte(content)})
		}
	}
	if seed != nil {
		seed(srv, user)
	}
	mount := func() (*modelMount, error) {
		client, err := cbrain.NewClient(cbrain.Config{URL: srv.URL(), Token: token})
		if err != nil {
			return nil, err
		}
		client.SyncTimeout = 20 * time.Second
		client.PollInterval = 10 * time.Millisecond
		client.UploadTimeout = 5 * time.Second
		if inj != nil {
			client.UploadTimeout = 20 * time.Second
		}
		return modelMountStores(t.TempDir(), t.TempDir(), &syncWriter{b: &strings.Builder{}}, cbrain.NewStore(client))
	}
	m, err := mount()
	if err != nil {
		srv.Close()
		return nil, err
	}
	s := &modelSession{m: m}
	s.remount = func() error {
		if err := s.m.unmount(); err != nil {
			return err
		}
		nm, err := mount()
		if err != nil {
			return err
		}
		s.m = nm
		return nil
	}
	s.close = func() {
		s.m.unmount()
		srv.Close()
	}
	return s, nil
}

// mObj is a file's content: what a name or a handle refers to. Renames
// move it; an unlink or a replacing rename detaches it from its name,
// and handles on it keep working on it alone.
type mObj struct {
	data []byte
}

type mSlot struct {
	obj    *mObj
	append bool
}

// tempNameRE is the documented list of programs' temporary names (see
// SEMANTICS.md, "temporary files"): kept locally, uploaded only when
// renamed to a final name, handed back to the recovery folder at unmount
// if never renamed.
var tempNameRE = regexp.MustCompile(`^\..+\.[A-Za-z0-9]{6}$|^\..*\.sw[a-p]$|~$|^\.goutputstream-|^#.*#$|^\.#|^sed[A-Za-z0-9]{6}$`)

var cbLegalRE = regexp.MustCompile(`^[A-Za-z0-9][\w~!@#%^()\-+=:\[\]{},.?]*$`)

func cbLegal(name string) bool { return len(name) <= 255 && cbLegalRE.MatchString(name) }

// cbModel is POSIX on two flat directories, with CBRAIN's name rule and
// its refusal of mkdir.
type cbModel struct {
	files map[string]map[string]*mObj // directory -> name -> content
	slots [modelSlots]*mSlot
}

func newCBModel() mModel {
	m := &cbModel{files: map[string]map[string]*mObj{}}
	for _, d := range cbDirs {
		m.files[d] = map[string]*mObj{}
		for name, content := range cbSeed[d] {
			m.files[d][name] = &mObj{data: []byte(content)}
		}
	}
	return m
}

func (m *cbModel) clone() mModel { return m.copy() }

// adopt: temporary files a failed program left behind.
func (m *cbModel) adopt(real map[string]mEntry, extras []string, failedPath string) {
	for _, p := range extras {
		if d := m.files[filepath.Dir(p)]; d != nil && !real[p].dir {
			d[filepath.Base(p)] = &mObj{data: append([]byte(nil), real[p].data...)}
		}
	}
}

// forgetLocal: a CBRAIN file written through the mount and never
// uploaded has no before-state to fall back to other than "absent", which
// the model's before-state already is.
func (m *cbModel) forgetLocal(string) bool { return false }

func (m *cbModel) copy() *cbModel {
	objs := map[*mObj]*mObj{}
	cp := func(o *mObj) *mObj {
		if o == nil {
			return nil
		}
		if n, ok := objs[o]; ok {
			return n
		}
		n := &mObj{data: append([]byte(nil), o.data...)}
		objs[o] = n
		return n
	}
	c := &cbModel{files: map[string]map[string]*mObj{}}
	for d, names := range m.files {
		c.files[d] = map[string]*mObj{}
		for name, o := range names {
			c.files[d][name] = cp(o)
		}
	}
	for i, s := range m.slots {
		if s != nil {
			c.slots[i] = &mSlot{obj: cp(s.obj), append: s.append}
		}
	}
	return c
}

func (m *cbModel) get(p string) *mObj {
	return m.files[filepath.Dir(p)][filepath.Base(p)]
}

// create returns the file at p, creating it empty if the name is allowed.
func (m *cbModel) create(p string) (*mObj, syscall.Errno) {
	if o := m.get(p); o != nil {
		return o, 0
	}
	name := filepath.Base(p)
	if !cbLegal(name) && !tempNameRE.MatchString(name) {
		return nil, syscall.EINVAL
	}
	o := &mObj{}
	m.files[filepath.Dir(p)][name] = o
	return o, 0
}

func (m *cbModel) apply(a *mAction) mOutcome {
	fail := func(e syscall.Errno) mOutcome { return mOutcome{errno: e} }
	switch a.Kind {
	case "write", "cp":
		o, e := m.create(a.Path)
		if e != 0 {
			return fail(e)
		}
		o.data = []byte(a.Data)
	case "append":
		o, e := m.create(a.Path)
		if e != 0 {
			return fail(e)
		}
		o.data = append(o.data, a.Data...)
	case "writeat", "truncate":
		o := m.get(a.Path)
		if o == nil && !a.Proc {
			return fail(syscall.ENOENT)
		}
		if o == nil {
			var e syscall.Errno
			if o, e = m.create(a.Path); e != 0 {
				return fail(e)
			}
		}
		if a.Kind == "writeat" {
			o.data = writeAt(o.data, []byte(a.Data), a.Off)
		} else {
			o.data = resize(o.data, a.Size)
		}
	case "sed", "gosed":
		o := m.get(a.Path)
		if o == nil {
			return fail(syscall.ENOENT)
		}
		// The edited copy is a new file renamed over the old one.
		m.files[filepath.Dir(a.Path)][filepath.Base(a.Path)] = &mObj{data: sedApply(o.data, a.Old, a.New)}
	case "rename":
		o := m.get(a.Path)
		if o == nil {
			return fail(syscall.ENOENT)
		}
		// CBRAIN refuses an illegal name, except that a temporary file
		// (local only) may move to another temporary name.
		if to := filepath.Base(a.To); !cbLegal(to) && !(cbLocalOnly(to) && cbLocalOnly(filepath.Base(a.Path))) {
			return fail(syscall.EINVAL)
		}
		if a.To != a.Path {
			delete(m.files[filepath.Dir(a.Path)], filepath.Base(a.Path))
			m.files[filepath.Dir(a.To)][filepath.Base(a.To)] = o
		}
	case "rm":
		if m.get(a.Path) == nil {
			return fail(syscall.ENOENT)
		}
		delete(m.files[filepath.Dir(a.Path)], filepath.Base(a.Path))
	case "cat", "readat":
		o := m.get(a.Path)
		if o == nil {
			return fail(syscall.ENOENT)
		}
		if a.Kind == "cat" {
			return mOutcome{read: true, data: append([]byte{}, o.data...)}
		}
		return mOutcome{read: true, data: readRange(o.data, a.Off, a.Size)}
	case "touch":
		if _, e := m.create(a.Path); e != 0 {
			return fail(e)
		}
	case "mkdir":
		if m.get(a.Path) != nil {
			return fail(syscall.EEXIST)
		}
		return fail(syscall.ENOTSUP) // CBRAIN has no empty directories
	case "hopen":
		o := m.get(a.Path)
		if o == nil && a.Flags&os.O_CREATE == 0 {
			return fail(syscall.ENOENT)
		}
		if o != nil && a.Flags&os.O_EXCL != 0 {
			return fail(syscall.EEXIST)
		}
		if o == nil {
			var e syscall.Errno
			if o, e = m.create(a.Path); e != 0 {
				return fail(e)
			}
		}
		if a.Flags&os.O_TRUNC != 0 {
			o.data = nil
		}
		m.slots[a.Slot] = &mSlot{obj: o, append: a.Flags&os.O_APPEND != 0}
	case "hwrite":
		s := m.slots[a.Slot]
		if s.append {
			s.obj.data = append(s.obj.data, a.Data...)
		} else {
			s.obj.data = writeAt(s.obj.data, []byte(a.Data), a.Off)
		}
	case "hread":
		return mOutcome{read: true, data: readRange(m.slots[a.Slot].obj.data, a.Off, a.Size)}
	case "htrunc":
		s := m.slots[a.Slot]
		s.obj.data = resize(s.obj.data, a.Size)
	case "hsync", "sleep":
	case "hclose":
		m.slots[a.Slot] = nil
	default:
		panic("cbModel: unknown action " + a.Kind)
	}
	return mOutcome{}
}

func (m *cbModel) view() map[string]mEntry {
	v := map[string]mEntry{}
	for d, names := range m.files {
		for name, o := range names {
			v[filepath.Join(d, name)] = mEntry{data: append([]byte{}, o.data...)}
		}
	}
	return v
}

// cbLocalOnly: a temporary name (.name.Xy12Ab, sedAb12Cd) is kept
// locally until renamed, even where CBRAIN would accept it.
func cbLocalOnly(name string) bool { return tempNameRE.MatchString(name) }

// remoteView: everything but temporary files never renamed (handed back
// to the recovery folder at unmount).
func (m *cbModel) remoteView() map[string]mEntry {
	v := m.view()
	for p := range v {
		if cbLocalOnly(filepath.Base(p)) {
			delete(v, p)
		}
	}
	return v
}

func (m *cbModel) roots() []string               { return cbDirs }
func (m *cbModel) ignored(dir, name string) bool { return false }

// readSlot: a file open through a model handle is read through it (on
// the steps where the harness does so), so that a close does not upload
// it and it stays dirty into the next step.
func (m *cbModel) readSlot(p string) int {
	o := m.get(p)
	for i, s := range m.slots {
		if s != nil && o != nil && s.obj == o {
			return i
		}
	}
	return -1
}
func (m *cbModel) allowedRecovery(rel string) bool {
	return cbLocalOnly(filepath.Base(rel))
}

func (m *cbModel) closeAll() mStep {
	var s mStep
	for i, sl := range m.slots {
		if sl != nil {
			s = append(s, mAction{Kind: "hclose", Slot: i})
		}
	}
	return s
}

// ---------------------------------------------------------------------
// Generation.

func (m *cbModel) existing() []string {
	var out []string
	for d, names := range m.files {
		for name := range names {
			out = append(out, filepath.Join(d, name))
		}
	}
	sort.Strings(out)
	return out
}

// pickFile is an existing file (sometimes a missing one).
func (m *cbModel) pickFile(g *mGen) string {
	ex := m.existing()
	if len(ex) == 0 || g.chance(0.05) {
		return filepath.Join(g.pick(cbDirs), g.pick(cbNames))
	}
	return g.pick(ex)
}

// pickFinal is like pickFile but never a temporary file: editing one in
// place renames over a temporary name, which is not what programs do
// (and a remote object cannot take a name the remote refuses).
func (m *cbModel) pickFinal(g *mGen) string {
	for {
		if p := m.pickFile(g); !tempNameRE.MatchString(filepath.Base(p)) {
			return p
		}
	}
}

// pickNew is a name in dir that does not exist yet, if one is left.
func (m *cbModel) pickNew(g *mGen, dir string) string {
	var free []string
	for _, n := range cbNames {
		if m.files[dir][n] == nil {
			free = append(free, n)
		}
	}
	if len(free) == 0 {
		return filepath.Join(dir, g.pick(cbNames))
	}
	return filepath.Join(dir, g.pick(free))
}

// pickTarget is where to write: mostly an existing file, sometimes a new
// one, rarely a name CBRAIN refuses.
func (m *cbModel) pickTarget(g *mGen) string {
	switch r := g.rng.Float64(); {
	case r < 0.04:
		return filepath.Join(g.pick(cbDirs), g.pick(cbBadNames))
	case r < 0.35:
		return m.pickNew(g, g.pick(cbDirs))
	}
	return m.pickFile(g)
}

func (m *cbModel) freeSlot(g *mGen) int {
	var free []int
	for i, s := range m.slots {
		if s == nil {
			free = append(free, i)
		}
	}
	if len(free) == 0 {
		return -1
	}
	return g.pickInt(free)
}

func (m *cbModel) openSlot(g *mGen) int {
	var open []int
	for i, s := range m.slots {
		if s != nil {
			open = append(open, i)
		}
	}
	if len(open) == 0 {
		return -1
	}
	return g.pickInt(open)
}

func (m *cbModel) size(p string) int {
	if o := m.get(p); o != nil {
		return len(o.data)
	}
	return 0
}

// renameTarget: within the directory, to the other provider, or over an
// existing file; rarely an illegal name.
func (m *cbModel) renameTarget(g *mGen, src string) string {
	dir := filepath.Dir(src)
	switch r := g.rng.Float64(); {
	case r < 0.04:
		return filepath.Join(dir, g.pick(cbBadNames))
	case r < 0.40:
		return m.pickNew(g, dir)
	case r < 0.70:
		other := cbDirs[0]
		if other == dir {
			other = cbDirs[1]
		}
		if g.coin() {
			return filepath.Join(other, filepath.Base(src))
		}
		return m.pickNew(g, other)
	}
	for _, p := range m.existing() { // over an existing file
		// Not over a program's temporary file (a failed sed's, under
		// faults): a remote object renamed to such a name stays on the
		// remote, which the model, keeping temporary names local, does
		// not follow.
		if p != src && g.chance(0.4) && !cbLocalOnly(filepath.Base(p)) {
			return p
		}
	}
	return m.pickNew(g, dir)
}

// action makes one random action.
func (m *cbModel) action(g *mGen) mAction {
	for {
		if a, ok := m.tryAction(g); ok {
			return a
		}
	}
}

func (m *cbModel) tryAction(g *mGen) (mAction, bool) {
	w := g.intn(100)
	switch {
	case w < 8:
		return mAction{Kind: "write", Proc: g.coin(), Path: m.pickTarget(g), Data: g.data()}, true
	case w < 18:
		p := m.pickTarget(g)
		if g.chance(0.6) {
			return mAction{Kind: "append", Proc: true, Path: p, Data: g.word(1, 8) + "\n"}, true
		}
		return mAction{Kind: "append", Path: p, Data: g.data()}, true
	case w < 23:
		p := m.pickFile(g)
		return mAction{Kind: "writeat", Proc: g.chance(0.3), Path: p, Data: g.word(1, 5), Off: int64(g.intn(m.size(p) + 4))}, true
	case w < 28:
		return mAction{Kind: "cp", Proc: true, Path: m.pickTarget(g), Data: g.data()}, true
	case w < 34:
		p := m.pickFile(g)
		n := m.size(p)
		size := n + g.between(1, 10) // grow
		if n > 0 && g.coin() {
			size = g.intn(n) // shrink
		}
		return mAction{Kind: "truncate", Proc: g.coin(), Path: p, Size: int64(size)}, true
	case w < 40:
		old, new := g.sedPair()
		return mAction{Kind: "sed", Proc: true, Path: m.pickFinal(g), Old: old, New: new}, true
	case w < 45:
		p := m.pickFinal(g)
		old, new := g.sedPair()
		tmp := g.sedTemp()
		if g.coin() {
			tmp = g.rsyncTemp(filepath.Base(p))
		}
		return mAction{Kind: "gosed", Path: p, To: tmp, Old: old, New: new}, true
	case w < 57:
		src := m.pickFile(g)
		return mAction{Kind: "rename", Proc: g.coin(), Path: src, To: m.renameTarget(g, src)}, true
	case w < 62:
		return mAction{Kind: "rm", Proc: g.coin(), Path: m.pickFile(g)}, true
	case w < 67:
		return mAction{Kind: "cat", Proc: g.coin(), Path: m.pickFile(g)}, true
	case w < 70:
		p := m.pickFile(g)
		return mAction{Kind: "readat", Path: p, Off: int64(g.intn(m.size(p) + 2)), Size: int64(g.between(1, 8))}, true
	case w < 73:
		return mAction{Kind: "touch", Proc: true, Path: m.pickTarget(g)}, true
	case w < 74:
		return mAction{Kind: "mkdir", Proc: g.coin(), Path: filepath.Join(g.pick(cbDirs), g.pick([]string{"sub", "newdir", "a.txt"}))}, true
	}
	if g.noSlots {
		return mAction{}, false
	}
	// Handles.
	switch {
	case w < 82:
		s := m.freeSlot(g)
		if s < 0 {
			return mAction{}, false
		}
		p, fl := m.pickFile(g), os.O_RDWR
		switch r := g.rng.Float64(); {
		case r < 0.3:
			p, fl = m.pickNew(g, g.pick(cbDirs)), os.O_RDWR|os.O_CREATE
		case r < 0.4:
			p, fl = filepath.Join(g.pick(cbDirs), g.rsyncTemp(g.pick(cbNames))), os.O_RDWR|os.O_CREATE|os.O_EXCL
		}
		if g.chance(0.25) {
			fl |= os.O_APPEND
		}
		if g.chance(0.15) {
			fl |= os.O_TRUNC
		}
		return mAction{Kind: "hopen", Path: p, Flags: fl, Slot: s}, true
	}
	s := m.openSlot(g)
	if s < 0 {
		return mAction{}, false
	}
	n := len(m.slots[s].obj.data)
	switch {
	case w < 90:
		off := int64(g.intn(n + 3))
		if m.slots[s].append {
			off = -1
		}
		return mAction{Kind: "hwrite", Slot: s, Data: g.data(), Off: off}, true
	case w < 93:
		return mAction{Kind: "hread", Slot: s, Off: int64(g.intn(n + 2)), Size: int64(g.between(1, 16))}, true
	case w < 95:
		size := n + g.between(1, 6)
		if n > 0 && g.coin() {
			size = g.intn(n)
		}
		return mAction{Kind: "htrunc", Slot: s, Size: int64(size)}, true
	case w < 97:
		return mAction{Kind: "hsync", Slot: s}, true
	}
	return mAction{Kind: "hclose", Slot: s}, true
}

// followUp is something done to a file right after it was renamed or
// rewritten: the operations that used to land under the old name.
func (m *cbModel) followUp(g *mGen, p string) mAction {
	switch g.intn(9) {
	case 0, 1:
		return mAction{Kind: "append", Proc: true, Path: p, Data: g.word(1, 6) + "\n"}
	case 2:
		return mAction{Kind: "append", Path: p, Data: g.data()}
	case 3:
		return mAction{Kind: "writeat", Path: p, Data: g.word(1, 4), Off: int64(g.intn(m.size(p) + 2))}
	case 4:
		return mAction{Kind: "truncate", Proc: g.coin(), Path: p, Size: int64(g.intn(m.size(p) + 4))}
	case 5:
		return mAction{Kind: "write", Proc: g.coin(), Path: p, Data: g.data()}
	case 6:
		old, new := g.sedPair()
		return mAction{Kind: "sed", Proc: true, Path: p, Old: old, New: new}
	case 7:
		return mAction{Kind: "rename", Proc: g.coin(), Path: p, To: m.renameTarget(g, p)}
	}
	return mAction{Kind: "rm", Proc: g.coin(), Path: p}
}

// gen makes a step: one action, a recipe of the bug class (rename or
// rewrite, then at once something on the new name), or a random chain.
// Chained actions are generated against a copy of the model advanced by
// the actions before them.
func (m *cbModel) gen(g *mGen) mStep {
	sh := m.copy()
	var step mStep
	add := func(a mAction) {
		step = append(step, a)
		sh.apply(&a)
	}
	gap := func() {
		if g.chance(g.gapRate) {
			step = append(step, mAction{Kind: "sleep", Gap: modelGap})
		}
	}
	switch r := g.rng.Float64(); {
	case r < 0.5 || g.single:
		add(sh.action(g))
	case r < 0.62: // rename, then at once one or two things on the new name
		src := sh.pickFile(g)
		dst := sh.renameTarget(g, src)
		add(mAction{Kind: "rename", Proc: g.coin(), Path: src, To: dst})
		for i, n := 0, g.between(1, 2); i < n; i++ {
			gap()
			add(sh.followUp(g, dst))
			if last := step[len(step)-1]; last.Kind == "rename" {
				dst = last.To
			}
		}
	case r < 0.70: // the sed -i pattern: create, edit in place, append
		p := sh.pickFinal(g)
		if g.coin() {
			add(mAction{Kind: "write", Proc: true, Path: p, Data: g.data() + "\n"})
		}
		old, new := g.sedPair()
		if g.coin() {
			add(mAction{Kind: "sed", Proc: true, Path: p, Old: old, New: new})
		} else {
			tmp := g.sedTemp()
			if g.coin() {
				tmp = g.rsyncTemp(filepath.Base(p))
			}
			add(mAction{Kind: "gosed", Path: p, To: tmp, Old: old, New: new})
		}
		gap()
		add(sh.followUp(g, p))
	case r < 0.78 && !g.noSlots: // a handle kept across a rename or an unlink
		s := sh.freeSlot(g)
		if s < 0 {
			s = sh.openSlot(g)
			add(mAction{Kind: "hclose", Slot: s})
		}
		p := sh.pickFile(g)
		fl := os.O_RDWR | os.O_CREATE
		if g.chance(0.3) {
			fl |= os.O_APPEND
		}
		add(mAction{Kind: "hopen", Slot: s, Path: p, Flags: fl})
		add(mAction{Kind: "hwrite", Slot: s, Data: g.data(), Off: map[bool]int64{true: -1, false: int64(g.intn(sh.size(p) + 2))}[fl&os.O_APPEND != 0]})
		switch g.intn(3) {
		case 0:
			add(mAction{Kind: "rm", Proc: g.coin(), Path: p})
		case 1:
			add(mAction{Kind: "rename", Proc: g.coin(), Path: p, To: sh.renameTarget(g, p)})
		default:
			dst := sh.renameTarget(g, p)
			add(mAction{Kind: "rename", Proc: g.coin(), Path: p, To: dst})
			add(sh.followUp(g, dst))
		}
		gap()
		add(mAction{Kind: "hwrite", Slot: s, Data: g.data(), Off: map[bool]int64{true: -1, false: 0}[fl&os.O_APPEND != 0]})
		if g.coin() {
			add(mAction{Kind: "hread", Slot: s, Off: 0, Size: 64})
		}
		if g.coin() {
			add(mAction{Kind: "hclose", Slot: s})
		}
	default: // a chain of random actions
		for i, n := 0, g.between(2, 4); i < n; i++ {
			if i > 0 {
				gap()
			}
			add(sh.action(g))
		}
	}
	return step
}
