package fs

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/filesmount/filesmount/remote"
)

// Times that users set (touch -d, rsync -t, cp -p) are kept, because the
// remotes keep none (CBRAIN) or only their own (VRChat's created_at):
// without them rsync's quick check (size and mtime) sees every file as
// changed and uploads it again on every run.
//
// They are kept per content, not per name: the key is the store, the
// remote ID, the Version and the remote's own ModTime. A new version is a
// new key, so times set on old content are never shown for new content,
// and a rename or a move keeps them (same ID, same Version). They live in
// <cache-dir>/times, so they survive a restart.
//
// What stat shows, first that applies:
//   - a file with local content (being written, or waiting for its
//     upload): the times set on it since its last write; else, if its
//     content differs from the remote's, the time of its last write;
//   - the times saved for the remote content (set by a user, or the last
//     write's when the content was written through the mount);
//   - the remote's ModTime for all three (see each backend).
//
// atime is never updated by reads (as with noatime): it is the atime set
// by a user, or the mtime. ctime is when the times were set or the
// content written through the mount, as a local filesystem's would be;
// it cannot be set.

// timesFileName is the store's file in the cache directory.
const timesFileName = "times"

// maxTimeRecords bounds the store: past it, the times set longest ago
// are forgotten (those files then show the remote's time again, and rsync
// uploads them once more). A record is about 90 bytes on disk.
const maxTimeRecords = 100_000

// timesHeader starts the file; a file without it is not ours and is
// replaced at the next compaction.
const timesHeader = "filesmount-times 1"

// timeKey names one content of one remote object (see keyOf).
type timeKey [16]byte

// keyOf is the key of e's current content in store.
func keyOf(store string, e remote.Entry) timeKey {
	h := sha256.New()
	mod := ""
	if !e.ModTime.IsZero() {
		mod = strconv.FormatInt(e.ModTime.Unix(), 10) + "." + strconv.Itoa(e.ModTime.Nanosecond())
	}
	for _, s := range []string{store, e.ID, e.Version, mod} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	var k timeKey
	copy(k[:], h.Sum(nil))
	return k
}

// fileTimes are the three times stat shows.
type fileTimes struct {
	atime, mtime, ctime time.Time
}

func (t fileTimes) apply(out *fuse.Attr) {
	out.SetTimes(&t.atime, &t.mtime, &t.ctime)
}

func attrTimes(a *fuse.Attr) fileTimes {
	return fileTimes{atime: a.AccessTime(), mtime: a.ModTime(), ctime: a.ChangeTime()}
}

type timeRec struct {
	t   fileTimes
	seq uint64 // when set, in order: the oldest are forgotten first
}

// timeStore holds the saved times in memory (stat never reads the disk)
// and appends every change to <cache-dir>/times, one line per record:
// "<key hex> <mtime> <atime> <ctime>" with times as <unix s>.<ns>. A
// line is written with one write(2) on an O_APPEND descriptor; at load a
// later line for a key replaces an earlier one, and a torn last line (a
// machine crash) is ignored. When the file holds many overwritten lines,
// or the store is over its bound, it is rewritten whole into a temporary
// file, synced and renamed over the old one, so it is always either the
// old or the new file.
type timeStore struct {
	path   string // "" keeps the times in memory only
	logger *log.Logger
	limit  int // maxTimeRecords; lower in tests

	// mu protects the fields below. It is held across appends to the
	// local file and the rare rewrite (local disk only, never network
	// I/O), so that the file's lines are in the order of the changes.
	mu     sync.Mutex
	recs   map[timeKey]timeRec
	seq    uint64
	file   *os.File // open for appending; nil until the first change
	lines  int      // records in the file, current or overwritten
	broken bool     // a write failed (logged once): later changes stay in memory
}

// openTimeStore loads dir/times. A missing dir or file is an empty store;
// dir "" keeps times in memory only.
func openTimeStore(dir string, logger *log.Logger) *timeStore {
	ts := &timeStore{logger: logger, recs: map[timeKey]timeRec{}, limit: maxTimeRecords}
	if dir == "" {
		return ts
	}
	ts.path = filepath.Join(dir, timesFileName)
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ours, err := ts.loadLocked()
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		ts.logger.Printf("times: reading %s: %v; times set earlier are not shown", ts.path, err)
	}
	if err == nil && (!ours || len(ts.recs) > ts.limit || ts.tooManyLinesLocked()) {
		ts.evictLocked()
		ts.compactLocked()
	}
	return ts
}

func (ts *timeStore) loadLocked() (ours bool, err error) {
	f, err := os.Open(ts.path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() || sc.Text() != timesHeader {
		return false, sc.Err()
	}
	for sc.Scan() {
		ts.lines++
		k, t, ok := parseTimeRecord(sc.Text())
		if !ok {
			continue // torn by a crash, or damaged: that record is lost
		}
		ts.seq++
		ts.recs[k] = timeRec{t: t, seq: ts.seq}
	}
	return true, sc.Err()
}

func parseTimeRecord(line string) (timeKey, fileTimes, bool) {
	var k timeKey
	f := strings.Fields(line)
	if len(f) != 4 {
		return k, fileTimes{}, false
	}
	b, err := hex.DecodeString(f[0])
	if err != nil || len(b) != len(k) {
		return k, fileTimes{}, false
	}
	copy(k[:], b)
	var ts [3]time.Time
	for i, s := range f[1:] {
		secs, nsecs, ok := strings.Cut(s, ".")
		sec, err1 := strconv.ParseInt(secs, 10, 64)
		nsec, err2 := strconv.ParseInt(nsecs, 10, 64)
		if !ok || err1 != nil || err2 != nil || nsec < 0 || nsec >= 1e9 {
			return k, fileTimes{}, false
		}
		ts[i] = time.Unix(sec, nsec)
	}
	return k, fileTimes{mtime: ts[0], atime: ts[1], ctime: ts[2]}, true
}

func formatTimeRecord(k timeKey, t fileTimes) string {
	ft := func(x time.Time) string { return fmt.Sprintf("%d.%09d", x.Unix(), x.Nanosecond()) }
	return hex.EncodeToString(k[:]) + " " + ft(t.mtime) + " " + ft(t.atime) + " " + ft(t.ctime) + "\n"
}

// get returns the times saved for k.
func (ts *timeStore) get(k timeKey) (fileTimes, bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	r, ok := ts.recs[k]
	return r.t, ok
}

// put saves t for k.
func (ts *timeStore) put(k timeKey, t fileTimes) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.seq++
	ts.recs[k] = timeRec{t: t, seq: ts.seq}
	if len(ts.recs) > ts.limit {
		ts.evictLocked()
		ts.compactLocked()
		return
	}
	ts.appendLocked(formatTimeRecord(k, t))
	if ts.tooManyLinesLocked() {
		ts.compactLocked()
	}
}

func (ts *timeStore) tooManyLinesLocked() bool {
	return ts.lines > 2*len(ts.recs)+1024
}

// evictLocked forgets the oldest records down to 90% of the bound, so
// that eviction (and the rewrite that follows) is rare.
func (ts *timeStore) evictLocked() {
	if len(ts.recs) <= ts.limit {
		return
	}
	for _, k := range ts.bySeqLocked()[:len(ts.recs)-ts.limit*9/10] {
		delete(ts.recs, k)
	}
}

func (ts *timeStore) bySeqLocked() []timeKey {
	keys := make([]timeKey, 0, len(ts.recs))
	for k := range ts.recs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return ts.recs[keys[i]].seq < ts.recs[keys[j]].seq })
	return keys
}

func (ts *timeStore) failLocked(err error) {
	if !ts.broken {
		ts.logger.Printf("times: writing %s: %v; times set from now on are kept only until unmount", ts.path, err)
	}
	ts.broken = true
}

func (ts *timeStore) appendLocked(line string) {
	if ts.path == "" || ts.broken {
		return
	}
	if ts.file == nil {
		f, err := os.OpenFile(ts.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			ts.failLocked(err)
			return
		}
		if fi, err := f.Stat(); err == nil && fi.Size() == 0 {
			if _, err := f.WriteString(timesHeader + "\n"); err != nil {
				f.Close()
				ts.failLocked(err)
				return
			}
		}
		ts.file = f
	}
	if _, err := ts.file.WriteString(line); err != nil {
		ts.failLocked(err)
		return
	}
	ts.lines++
}

// compactLocked rewrites the file with the current records, oldest first
// (so that a reload keeps their order).
func (ts *timeStore) compactLocked() {
	if ts.path == "" || ts.broken {
		return
	}
	tmp := ts.path + ".tmp"
	os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		ts.failLocked(err)
		return
	}
	w := bufio.NewWriter(f)
	w.WriteString(timesHeader + "\n")
	for _, k := range ts.bySeqLocked() {
		w.WriteString(formatTimeRecord(k, ts.recs[k].t))
	}
	err = w.Flush()
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, ts.path)
	}
	if err != nil {
		os.Remove(tmp)
		ts.failLocked(err)
		return
	}
	if ts.file != nil {
		ts.file.Close()
		ts.file = nil
	}
	ts.lines = len(ts.recs)
}

// localTimes are times set on a file while it has local content. rsync
// sets the times of its temporary file before renaming it into place, so
// before the upload: they stay on the node and are saved under the new
// content's key when the upload lands (uploadLanded).
type localTimes struct {
	st *staged // the staged copy they were set on: they apply only while it is the file's
	t  fileTimes
}

// savedTimes applies to out the times saved for e, if any.
func (f *filesys) savedTimes(store string, e remote.Entry, out *fuse.Attr) {
	if e.ID == "" {
		return
	}
	if t, ok := f.times.get(keyOf(store, e)); ok {
		t.apply(out)
	}
}

// stagedTimes are the times of local content st: those set on it (lt)
// unless it was written after, else its last write's (the staged file's
// own mtime, which every write and truncate moves). false if the staged
// file is gone (settled meanwhile).
func stagedTimes(st *staged, lt localTimes) (fileTimes, bool) {
	fi, err := os.Stat(st.path)
	if err != nil {
		return fileTimes{}, false
	}
	written := fi.ModTime()
	if lt.st == st {
		if written.After(lt.t.ctime) {
			// Written after the times were set: like write(2), the
			// write moves mtime and ctime, not atime.
			return fileTimes{atime: lt.t.atime, mtime: written, ctime: written}, true
		}
		return lt.t, true
	}
	return fileTimes{atime: written, mtime: written, ctime: written}, true
}

// localAttrTimes applies the times of a file with local content st: its
// own unless its content is the remote's, unchanged, and no time was set
// on it.
func localAttrTimes(st *staged, lt localTimes, out *fuse.Attr) {
	if lt.st != st && !st.isDirty() {
		return
	}
	if t, ok := stagedTimes(st, lt); ok {
		t.apply(out)
	}
}

// setTimes keeps the times a Setattr carries (touch, rsync -t, cp -p).
func (n *fileNode) setTimes(in *fuse.SetAttrIn) syscall.Errno {
	mtime, setM := in.GetMTime()
	atime, setA := in.GetATime()
	if !setM && !setA {
		return 0
	}
	if _, ok := n.fsys.writer(n.backend); !ok {
		return n.refuse("set times of", n.path(), "this mount is read-only", syscall.EROFS)
	}
	var cur fuse.Attr
	n.fillAttr(&cur) // what stat shows now: a time not set keeps its value
	t := attrTimes(&cur)
	if setM {
		t.mtime = mtime
	}
	if setA {
		t.atime = atime
	}
	t.ctime = time.Now()
	n.mu.Lock()
	e, st := n.entry, n.st
	if st != nil {
		n.times = localTimes{st: st, t: t}
	}
	n.mu.Unlock()
	// Content that the remote has (not being written, or written and
	// uploaded unchanged since): saved under its key at once.
	if e.ID != "" && (st == nil || !st.isDirty()) {
		n.fsys.times.put(keyOf(n.backend.Store.Name(), e), t)
	}
	return 0
}

// uploadLanded saves the times of the content just uploaded as e under
// e's key: those set on the local copy, or its last write's. It is called
// by sync once the remote has confirmed the upload.
func (n *fileNode) uploadLanded(e remote.Entry) {
	n.mu.Lock()
	st, lt := n.st, n.times
	n.mu.Unlock()
	if e.ID == "" || st == nil {
		return
	}
	if t, ok := stagedTimes(st, lt); ok {
		n.fsys.times.put(keyOf(n.backend.Store.Name(), e), t)
	}
}

// setTimes keeps the times set on a directory (rsync -a sets them after
// filling it), under the directory's key like a file's.
func (d *dirNode) setTimes(in *fuse.SetAttrIn) syscall.Errno {
	mtime, setM := in.GetMTime()
	atime, setA := in.GetATime()
	if !setM && !setA {
		return 0
	}
	if _, ok := d.fsys.writer(d.backend); !ok {
		d.fsys.opts.Logger.Printf("set times of %s: refused: this mount is read-only (EROFS)", d.path)
		return syscall.EROFS
	}
	e := d.currentEntry()
	if e.ID == "" {
		return 0
	}
	var cur fuse.Attr
	d.fsys.entryAttr(d.backend, e, d.StableAttr().Ino, &cur)
	t := attrTimes(&cur)
	if setM {
		t.mtime = mtime
	}
	if setA {
		t.atime = atime
	}
	t.ctime = time.Now()
	d.fsys.times.put(keyOf(d.backend.Store.Name(), e), t)
	return 0
}
