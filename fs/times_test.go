package fs

import (
	"bytes"
	"log"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/filesmount/filesmount/remote"
)

func testTimes(sec int64) fileTimes {
	return fileTimes{mtime: time.Unix(sec, 123), atime: time.Unix(sec-1, 0), ctime: time.Unix(sec+1, 999_999_999)}
}

func sameTimes(a, b fileTimes) bool {
	return a.mtime.Equal(b.mtime) && a.atime.Equal(b.atime) && a.ctime.Equal(b.ctime)
}

// TestTimesStoreSurvivesReopen: what is put is there after a reopen (a
// restart), the last value of a key wins, a torn last line (a crash in
// the middle of an append) loses only that record, and the file is 0600.
func TestTimesStoreSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	ts := openTimeStore(dir, log.New(&logs, "", 0))
	a := keyOf("cbrain", remote.Entry{ID: "uf/1", Version: "size:3", ModTime: time.Unix(946684800, 0)})
	b := keyOf("cbrain", remote.Entry{ID: "uf/1", Version: "size:4", ModTime: time.Unix(946684800, 0)})
	if a == b {
		t.Fatal("a new version must be a new key")
	}
	ts.put(a, testTimes(1000))
	ts.put(b, testTimes(2000))
	ts.put(a, testTimes(-3000)) // before 1970: touch -d 1900-01-01
	path := filepath.Join(dir, timesFileName)
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString("0123abcd 17") // torn
	f.Close()

	ts = openTimeStore(dir, log.New(&logs, "", 0))
	if got, ok := ts.get(a); !ok || !sameTimes(got, testTimes(-3000)) {
		t.Errorf("a after reopen: %v %v", got, ok)
	}
	if got, ok := ts.get(b); !ok || !sameTimes(got, testTimes(2000)) {
		t.Errorf("b after reopen: %v %v", got, ok)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("times file: %v %v", fi, err)
	}
	if logs.Len() != 0 {
		t.Errorf("logged: %s", logs.String())
	}
	// A file that is not ours is replaced, not appended to.
	os.WriteFile(path, []byte("something else\n"), 0o600)
	ts = openTimeStore(dir, log.New(&logs, "", 0))
	ts.put(a, testTimes(5))
	if got, _ := os.ReadFile(path); !strings.HasPrefix(string(got), timesHeader+"\n") {
		t.Errorf("foreign file kept: %q", got)
	}
}

// TestTimesStoreBounded: past its limit the store forgets the times set
// longest ago, and the file is rewritten to hold only what is kept.
func TestTimesStoreBounded(t *testing.T) {
	dir := t.TempDir()
	ts := openTimeStore(dir, log.New(os.Stderr, "", 0))
	ts.limit = 100
	keys := make([]timeKey, 0, 250)
	for i := 0; i < 250; i++ {
		k := keyOf("vrchat", remote.Entry{ID: "v/f/" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)})
		keys = append(keys, k)
		ts.put(k, testTimes(int64(i)))
	}
	if n := len(ts.recs); n > 100 {
		t.Errorf("%d records kept, limit 100", n)
	}
	if _, ok := ts.get(keys[len(keys)-1]); !ok {
		t.Error("the newest record was dropped")
	}
	if _, ok := ts.get(keys[0]); ok {
		t.Error("the oldest record was kept")
	}
	data, _ := os.ReadFile(filepath.Join(dir, timesFileName))
	if lines := strings.Count(string(data), "\n") - 1; lines > len(ts.recs)+150 {
		t.Errorf("file holds %d records for %d kept", lines, len(ts.recs))
	}
	reopened := openTimeStore(dir, log.New(os.Stderr, "", 0))
	if len(reopened.recs) != len(ts.recs) {
		t.Errorf("reopened with %d records, had %d", len(reopened.recs), len(ts.recs))
	}
}
