//go:build linux

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/filesmount/filesmount/internal/faults"
	"github.com/filesmount/filesmount/remote/vrchat"
	"github.com/filesmount/filesmount/remote/vrchat/vrchattest"
)

// TestModelVRChat runs random sequences of operations on VRChat Files and
// compares the mount with a model of VRChat's version semantics after
// every step and after a remount (see model_harness_test.go).
func TestModelVRChat(t *testing.T) {
	modelTest(t, vrchatModelSetup(), 1, 5) // seed 5 sleeps past the attribute timeout now and then
}

func vrchatModelSetup() *modelSetup {
	return vrchatModelSetupWith("TestModelVRChat", vrchattest.Options{})
}

// vrchatModelSetupWith runs the VRChat model against an emulator with
// options o (a variant of the real server's unrecorded behaviour); test is
// the test that replays its seeds.
func vrchatModelSetupWith(test string, o vrchattest.Options) *modelSetup {
	return &modelSetup{remote: "VRChat", test: test, newModel: newVRModel,
		start: func(t *testing.T, inj *faults.Injector) (*modelSession, error) {
			return startVRChatModelWith(t, o, inj)
		}}
}

const vrRoot = "vrchat"

// The Files at the start: name, extension, versions.
var vrSeed = []struct {
	name, ext string
	versions  []string
}{
	{"Alpha", ".png", []string{"alpha one\n", "alpha two\nabx\n"}},
	{"Beta", ".txt", []string{"beta\nbeta\n"}},
	{"Empty", ".dat", nil}, // a File whose versions were all deleted
}

// Names the generator gives new directories, with the extension their
// files get.
var vrNewDirs = []struct{ name, ext string }{{"Pic A", ".png"}, {"World", ".vrcw"}, {"Notes", ".txt"}}

// startVRChatModelWith starts the model's emulator with options o (a
// variant of the real server's answers).
func startVRChatModelWith(t *testing.T, o vrchattest.Options, inj *faults.Injector) (*modelSession, error) {
	o.DataDir, o.Faults = t.TempDir(), inj
	if o.MinPartSize == 0 {
		o.MinPartSize = 1 << 20
	}
	srv, err := vrchattest.New(o)
	if err != nil {
		return nil, err
	}
	user := srv.AddUser("creator", "pw")
	for _, f := range vrSeed {
		var vs []vrchattest.VersionSpec
		for _, c := range f.versions {
			vs = append(vs, vrchattest.VersionSpec{Content: []byte(c)})
		}
		mime := "application/octet-stream"
		if f.ext == ".png" {
			mime = "image/png"
		}
		srv.AddFile(vrchattest.FileSpec{OwnerID: user, Name: f.name, MimeType: mime, Extension: f.ext, Versions: vs})
	}
	auth, twoFA := srv.NewSession(user)
	mount := func() (*modelMount, error) {
		client, err := vrchat.NewClient(vrchat.Config{URL: srv.URL(), UserAgent: "filesmount/model model@filesmount.test",
			Cookies:  vrchat.Cookies{Auth: auth, TwoFactorAuth: twoFA},
			Upload:   vrchat.UploadOptions{PartSize: 1 << 20, PollInterval: 10 * time.Millisecond, PollMaxInterval: 20 * time.Millisecond},
			Throttle: testThrottle})
		if err != nil {
			return nil, err
		}
		return modelMountStores(t.TempDir(), t.TempDir(), &syncWriter{b: &strings.Builder{}}, vrchat.NewStore(client))
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

// vrDir is a directory under vrchat/: a File, or a directory made with
// mkdir that has no File yet.
type vrDir struct {
	file     bool     // the File exists on VRChat
	ext      string   // its extension; "" while no file was uploaded into a new directory
	want     string   // generator: the extension files in a new directory get
	versions [][]byte // versions[i] is version i+1
	local    map[string]*vrObj
	// maybe (soak only): a new directory that a failed upload may have
	// made a File of on VRChat (the mount cannot tell).
	maybe bool
}

// vrObj is a file with local content: being written, empty (never
// uploaded), or a temporary file waiting for its rename.
type vrObj struct {
	data   []byte
	dirty  bool   // changed since its last upload (or never uploaded)
	dir    string // its directory's name, "" once unlinked
	name   string // its name: after an upload, its version's
	shown  bool   // listed under name (over the version of that name)
	append bool
}

type vrModel struct {
	dirs  map[string]*vrDir
	slots [modelSlots]*vrObj
	// recovered: mount paths whose data an upload the model refuses
	// (EINVAL) hands back to the recovery folder.
	recovered map[string]bool
	// soak: refusals are not generated on purpose when faults fire
}

func newVRModel() mModel {
	m := &vrModel{dirs: map[string]*vrDir{}}
	for _, f := range vrSeed {
		d := &vrDir{file: true, ext: f.ext, local: map[string]*vrObj{}}
		for _, c := range f.versions {
			d.versions = append(d.versions, []byte(c))
		}
		m.dirs[f.name] = d
	}
	return m
}

func (m *vrModel) clone() mModel { return m.copy() }

// adopt: temporary files a failed program left behind; empty new
// directories a failed upload may have made Files of.
func (m *vrModel) adopt(real map[string]mEntry, extras []string, failedPath string) {
	for _, p := range extras {
		dn, name := split(p)
		if d := m.dirs[dn]; d != nil && name != "" && !real[p].dir {
			d.local[name] = &vrObj{data: append([]byte(nil), real[p].data...), dir: dn, name: name, dirty: true, shown: true}
		}
	}
	if failedPath != "" {
		dn, name := split(failedPath)
		if d := m.dirs[dn]; d != nil && !d.file {
			d.maybe = true
		}
		// The first upload's extension decides the File's, even when
		// that upload failed (SEMANTICS.md, VRChat extensions).
		if d := m.dirs[dn]; d != nil && !d.file && d.ext == "" && !isTemp(name) && vrExt(name) != "" {
			d.ext = vrExt(name)
		}
	}
}

// forgetLocal drops a local file (an empty one, never uploaded).
func (m *vrModel) forgetLocal(p string) bool {
	dn, name := split(p)
	if d := m.dirs[dn]; d != nil && d.local[name] != nil {
		m.unlinkObj(d.local[name])
		return true
	}
	return false
}

func (m *vrModel) copy() *vrModel {
	objs := map[*vrObj]*vrObj{}
	cp := func(o *vrObj) *vrObj {
		if o == nil {
			return nil
		}
		if n, ok := objs[o]; ok {
			return n
		}
		n := *o
		n.data = append([]byte(nil), o.data...)
		objs[o] = &n
		return &n
	}
	c := &vrModel{dirs: map[string]*vrDir{}}
	for name, d := range m.dirs {
		nd := *d
		nd.versions = append([][]byte(nil), d.versions...)
		nd.local = map[string]*vrObj{}
		for n, o := range d.local {
			nd.local[n] = cp(o)
		}
		c.dirs[name] = &nd
	}
	for i, o := range m.slots {
		c.slots[i] = cp(o)
	}
	if m.recovered != nil {
		c.recovered = map[string]bool{}
		for p := range m.recovered {
			c.recovered[p] = true
		}
	}
	return c
}

func vrExt(name string) string {
	e := path.Ext(name)
	if e == "." || e == name {
		return ""
	}
	return e
}

func isTemp(name string) bool { return tempNameRE.MatchString(name) }

// version returns the number of the version name stands for (latest<ext>
// or <n><ext>), 0 if none.
func (d *vrDir) version(name string) int {
	if !d.file || d.ext == "" || !strings.HasSuffix(name, d.ext) {
		return 0
	}
	stem := strings.TrimSuffix(name, d.ext)
	if stem == "latest" {
		return len(d.versions)
	}
	n, err := strconv.Atoi(stem)
	if err != nil || n < 1 || n > len(d.versions) || strconv.Itoa(n) != stem {
		return 0
	}
	return n
}

func (d *vrDir) versionName(n int) string { return strconv.Itoa(n) + d.ext }

// content is what name shows in d: a local file over a version.
func (d *vrDir) content(name string) ([]byte, bool) {
	if o := d.local[name]; o != nil {
		return o.data, true
	}
	if n := d.version(name); n > 0 {
		return d.versions[n-1], true
	}
	return nil, false
}

func split(p string) (dir, name string) {
	rel := strings.TrimPrefix(p, vrRoot+"/")
	dir, name, _ = strings.Cut(rel, "/")
	return dir, name
}

// checkCreate says whether a new file name may be created in d.
func (d *vrDir) checkCreate(name string) syscall.Errno {
	if isTemp(name) {
		return 0
	}
	ext := vrExt(name)
	switch {
	case ext == "":
		return syscall.EINVAL
	case d.ext != "" && !strings.EqualFold(ext, d.ext):
		return syscall.EINVAL
	}
	return 0
}

// open gives the object a path names, creating it (create) or staging a
// copy of a version, as open(2) through the mount does.
func (m *vrModel) open(p string, create bool) (*vrObj, syscall.Errno) {
	dn, name := split(p)
	d := m.dirs[dn]
	if d == nil {
		return nil, syscall.ENOENT
	}
	if o := d.local[name]; o != nil {
		return o, 0
	}
	if n := d.version(name); n > 0 {
		return &vrObj{data: append([]byte(nil), d.versions[n-1]...), dir: dn, name: name}, 0
	}
	if !create {
		return nil, syscall.ENOENT
	}
	if e := d.checkCreate(name); e != 0 {
		return nil, e
	}
	o := &vrObj{dir: dn, name: name, dirty: true, shown: true}
	d.local[name] = o
	return o, 0
}

// show lists o under its name again after a change (a write after an
// upload shows the local content until the next upload).
func (m *vrModel) show(o *vrObj) {
	if o.dir == "" {
		return
	}
	o.dirty = true
	if !o.shown {
		o.shown = true
		m.dirs[o.dir].local[o.name] = o
	}
}

// sync is a close or fsync: a changed, named, non-temporary, non-empty
// file becomes the File's next version (none when it equals the newest:
// VRChat's upload finds that version already there), and is listed under
// that version's name. A file created before the File's extension was
// decided (by another file's first upload) and of another extension is
// refused with EINVAL, and its data handed back to the recovery folder.
func (m *vrModel) sync(o *vrObj) syscall.Errno {
	if o.dir == "" || !o.dirty || isTemp(o.name) || len(o.data) == 0 {
		return 0
	}
	d := m.dirs[o.dir]
	if d.ext != "" && !strings.EqualFold(vrExt(o.name), d.ext) {
		if m.recovered == nil {
			m.recovered = map[string]bool{}
		}
		m.recovered[vrRoot+"/"+o.dir+"/"+o.name] = true
		m.unlinkObj(o)
		o.dirty = false
		return syscall.EINVAL
	}
	if !d.file {
		d.file, d.ext = true, vrExt(o.name)
	}
	if n := len(d.versions); n == 0 || !bytes.Equal(d.versions[n-1], o.data) {
		d.versions = append(d.versions, append([]byte(nil), o.data...))
	}
	if o.shown && d.local[o.name] == o {
		delete(d.local, o.name)
	}
	o.shown, o.dirty = false, false
	o.name = d.versionName(len(d.versions))
	return 0
}

func (m *vrModel) unlinkObj(o *vrObj) {
	if o.dir != "" && m.dirs[o.dir].local[o.name] == o {
		delete(m.dirs[o.dir].local, o.name)
	}
	o.dir, o.shown = "", false
}

func (m *vrModel) apply(a *mAction) mOutcome {
	fail := func(e syscall.Errno) mOutcome { return mOutcome{errno: e} }
	if a.Proc {
		// Starting a program closes, in the child, the test's descriptors
		// (close-on-exec): a close of a descriptor of each open file, so
		// a FLUSH, and an upload of what changed.
		for _, o := range m.slots {
			if o != nil {
				m.sync(o)
			}
		}
	}
	// A path operation that writes: open, change, close.
	rewrite := func(create bool, change func(o *vrObj)) mOutcome {
		o, e := m.open(a.Path, create)
		if e != 0 {
			return fail(e)
		}
		change(o)
		if m.dirs[o.dir].local[o.name] != o {
			o.shown = false
			m.show(o)
		}
		o.dirty = true
		if e := m.sync(o); e != 0 {
			return fail(e)
		}
		return mOutcome{}
	}
	switch a.Kind {
	case "write", "cp":
		return rewrite(true, func(o *vrObj) { o.data = []byte(a.Data) })
	case "append":
		return rewrite(true, func(o *vrObj) { o.data = append(o.data, a.Data...) })
	case "writeat":
		return rewrite(a.Proc, func(o *vrObj) { o.data = writeAt(o.data, []byte(a.Data), a.Off) })
	case "truncate":
		return rewrite(a.Proc, func(o *vrObj) { o.data = resize(o.data, a.Size) })
	case "sed", "gosed":
		dn, name := split(a.Path)
		d := m.dirs[dn]
		if d == nil {
			return fail(syscall.ENOENT)
		}
		c, ok := d.content(name)
		if !ok {
			return fail(syscall.ENOENT)
		}
		// A temporary file, renamed over the name: uploaded there.
		o := &vrObj{data: sedApply(c, a.Old, a.New), dir: dn, name: name, dirty: true}
		if prev := d.local[name]; prev != nil {
			m.unlinkObj(prev)
		}
		m.show(o)
		m.sync(o)
	case "rename":
		return m.rename(a)
	case "rm":
		dn, name := split(a.Path)
		d := m.dirs[dn]
		if d == nil {
			return fail(syscall.ENOENT)
		}
		if o := d.local[name]; o != nil {
			m.unlinkObj(o)
			return mOutcome{}
		}
		switch n := d.version(name); {
		case n == 0:
			return fail(syscall.ENOENT)
		case n < len(d.versions):
			return fail(syscall.EPERM) // VRChat deletes only the newest version
		}
		d.versions = d.versions[:len(d.versions)-1]
	case "cat", "readat":
		dn, name := split(a.Path)
		d := m.dirs[dn]
		if d == nil {
			return fail(syscall.ENOENT)
		}
		c, ok := d.content(name)
		if !ok {
			return fail(syscall.ENOENT)
		}
		if a.Kind == "cat" {
			return mOutcome{read: true, data: append([]byte{}, c...)}
		}
		return mOutcome{read: true, data: readRange(c, a.Off, a.Size)}
	case "touch":
		o, e := m.open(a.Path, true)
		if e != 0 {
			return fail(e)
		}
		m.sync(o) // nothing to upload if it is new: it is empty
	case "mkdir":
		dn, _ := split(a.Path)
		if m.dirs[dn] != nil {
			return fail(syscall.EEXIST)
		}
		m.dirs[dn] = &vrDir{local: map[string]*vrObj{}, want: vrWant(dn)}
	case "rmdir":
		dn, _ := split(a.Path)
		d := m.dirs[dn]
		switch {
		case d == nil:
			return fail(syscall.ENOENT)
		case len(d.versions) > 0 || len(d.local) > 0:
			return fail(syscall.ENOTEMPTY)
		}
		delete(m.dirs, dn)
	case "hopen":
		o, e := m.open(a.Path, a.Flags&os.O_CREATE != 0)
		if e != 0 {
			return fail(e)
		}
		if a.Flags&os.O_TRUNC != 0 && len(o.data) > 0 {
			o.data = nil
			m.show(o)
		}
		o.append = a.Flags&os.O_APPEND != 0
		m.slots[a.Slot] = o
	case "hwrite":
		o := m.slots[a.Slot]
		if o.append {
			o.data = append(o.data, a.Data...)
		} else {
			o.data = writeAt(o.data, []byte(a.Data), a.Off)
		}
		m.show(o)
	case "hread":
		return mOutcome{read: true, data: readRange(m.slots[a.Slot].data, a.Off, a.Size)}
	case "htrunc":
		o := m.slots[a.Slot]
		o.data = resize(o.data, a.Size)
		m.show(o)
	case "hsync":
		if e := m.sync(m.slots[a.Slot]); e != 0 {
			return fail(e)
		}
	case "hclose":
		e := m.sync(m.slots[a.Slot])
		m.slots[a.Slot] = nil
		if e != 0 {
			return fail(e)
		}
	case "sleep":
	default:
		panic("vrModel: unknown action " + a.Kind)
	}
	return mOutcome{}
}

func vrWant(dir string) string {
	for _, d := range vrNewDirs {
		if d.name == dir {
			return d.ext
		}
	}
	return ".png"
}

// rename: versions and Files are refused; a local file (a temporary one)
// moves, and is uploaded under its new name; a new directory with no
// File yet moves.
func (m *vrModel) rename(a *mAction) mOutcome {
	fail := func(e syscall.Errno) mOutcome { return mOutcome{errno: e} }
	dn, name := split(a.Path)
	tn, tname := split(a.To)
	d := m.dirs[dn]
	if d == nil {
		return fail(syscall.ENOENT)
	}
	if name == "" { // a directory under vrchat/
		if d.file {
			return fail(syscall.ENOTSUP)
		}
		if m.dirs[tn] != nil {
			return fail(syscall.EEXIST) // not generated
		}
		delete(m.dirs, dn)
		m.dirs[tn] = d
		for _, o := range d.local {
			o.dir = tn
		}
		for _, o := range m.slots {
			if o != nil && o.dir == dn {
				o.dir = tn
			}
		}
		return mOutcome{}
	}
	o := d.local[name]
	if o == nil {
		if d.version(name) > 0 {
			return fail(syscall.ENOTSUP)
		}
		return fail(syscall.ENOENT)
	}
	td := m.dirs[tn]
	if td == nil {
		return fail(syscall.ENOENT)
	}
	if td.local[tname] == nil && td.version(tname) == 0 {
		if e := td.checkCreate(tname); e != 0 {
			return fail(e)
		}
	}
	if prev := td.local[tname]; prev != nil && prev != o {
		m.unlinkObj(prev)
	}
	delete(d.local, name)
	o.dir, o.name, o.shown, o.dirty = tn, tname, true, true
	td.local[tname] = o
	m.sync(o)
	return mOutcome{}
}

func (m *vrModel) view() map[string]mEntry {
	v := map[string]mEntry{}
	for dn, d := range m.dirs {
		dp := vrRoot + "/" + dn
		v[dp] = mEntry{dir: true}
		if d.file && len(d.versions) > 0 {
			for i, c := range d.versions {
				v[dp+"/"+d.versionName(i+1)] = mEntry{data: c}
			}
			v[dp+"/latest"+d.ext] = mEntry{data: d.versions[len(d.versions)-1]}
		}
		for name, o := range d.local {
			v[dp+"/"+name] = mEntry{data: append([]byte{}, o.data...)}
		}
	}
	return v
}

// remoteView: the Files and their versions; local files (empty ones,
// temporary ones never renamed) and directories with no File are gone.
func (m *vrModel) remoteView() map[string]mEntry {
	v := map[string]mEntry{}
	for dn, d := range m.dirs {
		if !d.file {
			continue
		}
		dp := vrRoot + "/" + dn
		v[dp] = mEntry{dir: true}
		if len(d.versions) > 0 {
			for i, c := range d.versions {
				v[dp+"/"+d.versionName(i+1)] = mEntry{data: c}
			}
			v[dp+"/latest"+d.ext] = mEntry{data: d.versions[len(d.versions)-1]}
		}
	}
	return v
}

func (m *vrModel) roots() []string { return []string{vrRoot} }
func (m *vrModel) ignored(dir, name string) bool {
	if dir != vrRoot {
		return false
	}
	d := m.dirs[name]
	return name == "tags" || d != nil && d.maybe && !d.file
}
func (m *vrModel) readSlot(string) int { return -1 }
func (m *vrModel) allowedRecovery(rel string) bool {
	rel = filepath.ToSlash(rel)
	if i := strings.LastIndexByte(rel, '.'); i > 0 {
		if _, err := strconv.Atoi(rel[i+1:]); err == nil && m.recovered[rel[:i]] {
			return true // a later copy of the same path: name.1, name.2
		}
	}
	return isTemp(filepath.Base(rel)) || m.recovered[rel]
}

// closeAll: VRChat steps close their handles themselves.
func (m *vrModel) closeAll() mStep {
	var s mStep
	for i, o := range m.slots {
		if o != nil {
			s = append(s, mAction{Kind: "hclose", Slot: i})
		}
	}
	return s
}

// ---------------------------------------------------------------------
// Generation.

func (m *vrModel) dirNames() []string {
	var out []string
	for n := range m.dirs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (m *vrModel) pickDir(g *mGen) (string, *vrDir) {
	names := m.dirNames()
	if len(names) == 0 {
		return "", nil
	}
	n := g.pick(names)
	return n, m.dirs[n]
}

// dirExt is the extension new files in d get.
func (d *vrDir) dirExt() string {
	if d.ext != "" {
		return d.ext
	}
	return d.want
}

func vp(dir, name string) string { return vrRoot + "/" + dir + "/" + name }

// pickVersion is latest<ext> or one of the version names ("" if none).
func (m *vrModel) pickVersion(g *mGen, dn string) string {
	d := m.dirs[dn]
	if len(d.versions) == 0 || d.ext == "" {
		return ""
	}
	if g.chance(0.5) {
		return vp(dn, "latest"+d.ext)
	}
	return vp(dn, d.versionName(g.between(1, len(d.versions))))
}

// pickNewName is a file name that does not exist in dn, with the right
// extension (rarely the wrong one).
func (m *vrModel) pickNewName(g *mGen, dn string) string {
	d := m.dirs[dn]
	if g.chance(0.05) {
		wrong := ".jpg"
		if d.dirExt() == ".jpg" {
			wrong = ".png"
		}
		return vp(dn, "photo"+wrong)
	}
	for {
		name := fmt.Sprintf("new%d%s", g.between(1, 4), d.dirExt())
		if d.local[name] == nil {
			return vp(dn, name)
		}
		if g.chance(0.3) {
			return vp(dn, name) // an existing local file
		}
	}
}

// pickLocal is a local file of dn ("" if none).
func (m *vrModel) pickLocal(g *mGen, dn string) string {
	var names []string
	for n := range m.dirs[dn].local {
		names = append(names, n)
	}
	if len(names) == 0 {
		return ""
	}
	sort.Strings(names)
	return vp(dn, g.pick(names))
}

// pickExisting is a version or a local file of some directory.
func (m *vrModel) pickExisting(g *mGen) string {
	for i := 0; i < 10; i++ {
		dn, _ := m.pickDir(g)
		if dn == "" {
			break
		}
		if l := m.pickLocal(g, dn); l != "" && g.chance(0.3) {
			return l
		}
		if v := m.pickVersion(g, dn); v != "" {
			return v
		}
	}
	return vp("Alpha", "nothere.png")
}

func (m *vrModel) size(p string) int {
	dn, name := split(p)
	if d := m.dirs[dn]; d != nil {
		c, _ := d.content(name)
		return len(c)
	}
	return 0
}

// pickWriteTarget: a version (a new version from it), a new name, or a
// local file.
func (m *vrModel) pickWriteTarget(g *mGen) string {
	dn, _ := m.pickDir(g)
	if dn == "" {
		return vp("Alpha", "new1.png")
	}
	if v := m.pickVersion(g, dn); v != "" && g.chance(0.55) {
		return v
	}
	if l := m.pickLocal(g, dn); l != "" && !isTemp(filepath.Base(l)) && g.chance(0.3) {
		return l
	}
	return m.pickNewName(g, dn)
}

func (m *vrModel) action(g *mGen) mAction {
	for {
		if a, ok := m.tryAction(g); ok {
			return a
		}
	}
}

func (m *vrModel) tryAction(g *mGen) (mAction, bool) {
	w := g.intn(100)
	switch {
	case w < 9:
		return mAction{Kind: "write", Proc: g.coin(), Path: m.pickWriteTarget(g), Data: g.data()}, true
	case w < 19:
		p := m.pickWriteTarget(g)
		if g.chance(0.6) {
			return mAction{Kind: "append", Proc: true, Path: p, Data: g.word(1, 8) + "\n"}, true
		}
		return mAction{Kind: "append", Path: p, Data: g.data()}, true
	case w < 24:
		p := m.pickExisting(g)
		return mAction{Kind: "writeat", Proc: g.chance(0.3), Path: p, Data: g.word(1, 5), Off: int64(g.intn(m.size(p) + 4))}, true
	case w < 29:
		return mAction{Kind: "cp", Proc: true, Path: m.pickWriteTarget(g), Data: g.data()}, true
	case w < 34:
		p := m.pickExisting(g)
		n := m.size(p)
		if n == 0 {
			return mAction{}, false
		}
		size := n + g.between(1, 10)
		if n > 1 && g.coin() {
			size = g.between(1, n-1) // never 0: an empty version is not made
		}
		return mAction{Kind: "truncate", Proc: g.coin(), Path: p, Size: int64(size)}, true
	case w < 41:
		dn, _ := m.pickDir(g)
		p := m.pickVersion(g, dn)
		if p == "" {
			return mAction{}, false
		}
		old, new := g.sedPair()
		if g.coin() {
			return mAction{Kind: "sed", Proc: true, Path: p, Old: old, New: new}, true
		}
		tmp := g.sedTemp()
		if g.coin() {
			tmp = g.rsyncTemp(filepath.Base(p))
		}
		return mAction{Kind: "gosed", Path: p, To: tmp, Old: old, New: new}, true
	case w < 49:
		return m.genRm(g)
	case w < 54:
		return m.genRename(g)
	case w < 61:
		return mAction{Kind: "cat", Proc: g.coin(), Path: m.pickExisting(g)}, true
	case w < 65:
		p := m.pickExisting(g)
		return mAction{Kind: "readat", Path: p, Off: int64(g.intn(m.size(p) + 2)), Size: int64(g.between(1, 8))}, true
	case w < 69:
		dn, _ := m.pickDir(g)
		if dn == "" {
			return mAction{}, false
		}
		p := m.pickNewName(g, dn)
		if g.chance(0.2) {
			if v := m.pickVersion(g, dn); v != "" {
				p = v
			}
		}
		return mAction{Kind: "touch", Proc: true, Path: p}, true
	case w < 73:
		d := vrNewDirs[g.intn(len(vrNewDirs))]
		name := d.name
		if g.chance(0.15) {
			name = g.pick(m.dirNames()) // exists
		}
		return mAction{Kind: "mkdir", Proc: g.coin(), Path: vrRoot + "/" + name}, true
	case w < 77:
		dn, _ := m.pickDir(g)
		if dn == "" {
			return mAction{}, false
		}
		return mAction{Kind: "rmdir", Proc: g.coin(), Path: vrRoot + "/" + dn}, true
	}
	if g.noSlots {
		return mAction{}, false
	}
	return mAction{}, false // handles: see handleRecipe
}

func (m *vrModel) genRm(g *mGen) (mAction, bool) {
	dn, d := m.pickDir(g)
	if d == nil {
		return mAction{}, false
	}
	var p string
	switch r := g.rng.Float64(); {
	case r < 0.2:
		p = m.pickLocal(g, dn)
	case r < 0.25:
		p = vp(dn, "nothere"+d.dirExt())
	case len(d.versions) > 0 && r < 0.55:
		p = vp(dn, "latest"+d.ext)
	case len(d.versions) > 0 && r < 0.8:
		p = vp(dn, d.versionName(len(d.versions))) // the newest
	case len(d.versions) > 1:
		p = vp(dn, d.versionName(g.between(1, len(d.versions)-1))) // older: refused
	}
	if p == "" {
		return mAction{}, false
	}
	return mAction{Kind: "rm", Proc: g.coin(), Path: p}, true
}

func (m *vrModel) genRename(g *mGen) (mAction, bool) {
	dn, d := m.pickDir(g)
	if d == nil {
		return mAction{}, false
	}
	switch r := g.rng.Float64(); {
	case r < 0.35: // a version: refused
		p := m.pickVersion(g, dn)
		if p == "" {
			return mAction{}, false
		}
		return mAction{Kind: "rename", Proc: g.coin(), Path: p, To: vp(dn, "renamed"+d.ext)}, true
	case r < 0.55: // a directory: refused for a File, allowed for a new one
		to := ""
		for _, nd := range vrNewDirs {
			if m.dirs[nd.name] == nil && nd.ext == d.dirExt() {
				to = nd.name
			}
		}
		if to == "" {
			if !d.file {
				return mAction{}, false
			}
			to = "Renamed"
		}
		return mAction{Kind: "rename", Proc: g.coin(), Path: vrRoot + "/" + dn, To: vrRoot + "/" + to}, true
	}
	// A local file: a temporary one renamed onto a version or a new name.
	l := m.pickLocal(g, dn)
	if l == "" {
		return mAction{}, false
	}
	if !isTemp(filepath.Base(l)) && m.size(l) == 0 {
		return mAction{}, false // an empty file: see handleRecipe
	}
	to := m.pickVersion(g, dn)
	if to == "" || g.coin() {
		to = m.pickNewName(g, dn)
	}
	return mAction{Kind: "rename", Proc: g.coin(), Path: l, To: to}, true
}

// handleRecipe opens a handle, works through it and closes it within the
// step (VRChat names change at every upload, so handles are not kept
// across steps).
func (m *vrModel) handleRecipe(g *mGen, sh *vrModel, add func(mAction)) {
	dn, d := sh.pickDir(g)
	if d == nil {
		return
	}
	s := 0
	data := func(o *vrObj) mAction {
		if o.append {
			return mAction{Kind: "hwrite", Slot: s, Data: g.data(), Off: -1}
		}
		return mAction{Kind: "hwrite", Slot: s, Data: g.data(), Off: int64(g.intn(len(o.data) + 2))}
	}
	switch g.intn(5) {
	case 0, 1: // a new file: writes, an fsync in the middle (a version), more writes
		p := sh.pickNewName(g, dn)
		add(mAction{Kind: "hopen", Slot: s, Path: p, Flags: os.O_RDWR | os.O_CREATE})
		if sh.slots[s] == nil {
			return
		}
		for i, n := 0, g.between(1, 3); i < n; i++ {
			add(data(sh.slots[s]))
			if g.chance(0.4) {
				add(mAction{Kind: "hsync", Slot: s})
			}
		}
		if g.coin() {
			add(mAction{Kind: "hread", Slot: s, Size: 64})
		}
		if g.chance(0.3) {
			add(mAction{Kind: "htrunc", Slot: s, Size: int64(g.between(1, len(sh.slots[s].data)+3))})
		}
	case 2: // a version edited through a handle
		p := sh.pickVersion(g, dn)
		if p == "" {
			return
		}
		fl := os.O_RDWR
		if g.coin() {
			fl |= os.O_APPEND
		}
		add(mAction{Kind: "hopen", Slot: s, Path: p, Flags: fl})
		add(data(sh.slots[s]))
		if g.coin() {
			add(mAction{Kind: "hread", Slot: s, Size: 64})
		}
	case 3: // a temporary file renamed into place, while open or after
		name := g.rsyncTemp("new1" + d.dirExt())
		if g.coin() {
			name = g.sedTemp()
		}
		p := vp(dn, name)
		add(mAction{Kind: "hopen", Slot: s, Path: p, Flags: os.O_RDWR | os.O_CREATE | os.O_EXCL})
		add(data(sh.slots[s]))
		to := sh.pickVersion(g, dn)
		if to == "" || g.coin() {
			to = sh.pickNewName(g, dn)
		}
		if g.coin() {
			add(mAction{Kind: "hclose", Slot: s})
			add(mAction{Kind: "rename", Proc: g.coin(), Path: p, To: to})
			return
		}
		add(mAction{Kind: "rename", Proc: g.coin(), Path: p, To: to})
		if g.coin() {
			add(data(sh.slots[s]))
		}
	default: // a new file unlinked while open: never uploaded
		p := sh.pickNewName(g, dn)
		add(mAction{Kind: "hopen", Slot: s, Path: p, Flags: os.O_RDWR | os.O_CREATE})
		if sh.slots[s] == nil {
			return
		}
		add(data(sh.slots[s]))
		add(mAction{Kind: "rm", Proc: g.coin(), Path: p})
		add(data(sh.slots[s]))
		add(mAction{Kind: "hread", Slot: s, Size: 64})
	}
	if sh.slots[s] != nil {
		add(mAction{Kind: "hclose", Slot: s})
	}
}

// followUp: something done at once to what a write or an edit left.
func (m *vrModel) followUp(g *mGen, dn string) mAction {
	d := m.dirs[dn]
	if d == nil || len(d.versions) == 0 {
		return m.action(g)
	}
	latest := vp(dn, "latest"+d.ext)
	switch g.intn(6) {
	case 0, 1:
		return mAction{Kind: "append", Proc: true, Path: latest, Data: g.word(1, 6) + "\n"}
	case 2:
		return mAction{Kind: "cat", Proc: g.coin(), Path: latest}
	case 3:
		return mAction{Kind: "cat", Proc: true, Path: vp(dn, d.versionName(len(d.versions)))}
	case 4:
		old, new := g.sedPair()
		return mAction{Kind: "sed", Proc: true, Path: latest, Old: old, New: new}
	}
	return mAction{Kind: "rm", Proc: g.coin(), Path: latest}
}

func (m *vrModel) gen(g *mGen) mStep {
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
	// Keep the Files' version counts small: every step compares every
	// version, and most steps make one.
	for _, dn := range sh.dirNames() {
		if d := sh.dirs[dn]; len(d.versions) > 6 && g.chance(0.5) {
			name := "latest" + d.ext
			if g.coin() {
				name = d.versionName(len(d.versions))
			}
			add(mAction{Kind: "rm", Proc: g.coin(), Path: vp(dn, name)})
			if !g.single {
				add(sh.followUp(g, dn))
			}
			return step
		}
	}
	switch r := g.rng.Float64(); {
	case r < 0.5 || g.single:
		add(sh.action(g))
	case r < 0.62 && !g.noSlots:
		m.handleRecipe(g, sh, add)
		if len(step) == 0 {
			add(sh.action(g))
		}
	case r < 0.75: // a write or an edit, then at once something on what it made
		a := sh.action(g)
		add(a)
		dn, _ := split(a.Path)
		gap()
		add(sh.followUp(g, dn))
	default:
		for i, n := 0, g.between(2, 4); i < n; i++ {
			if i > 0 {
				gap()
			}
			add(sh.action(g))
		}
	}
	return step
}
