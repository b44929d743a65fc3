package fs

import (
	"bytes"
	"context"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzRecoveryPath: whatever mount path a journal record holds, the data
// is handed back strictly inside the recovery folder, one valid name per
// component.
func FuzzRecoveryPath(f *testing.F) {
	for _, p := range []string{
		"cbrain/MainStore/a.txt", "../../etc/passwd", "/etc/passwd", "..", ".", "", "/", "a/../../..",
		"a/./b", "a//b", "cbrain/\x00/x", "..\\..\\x", strings.Repeat("../", 100) + "x",
		"vrchat/" + strings.Repeat("é", 200) + "/1.png", "x/\xff/..", "%2E%2E/%2F",
	} {
		f.Add(p)
	}
	for _, n := range hostileNames {
		f.Add("cbrain/" + n + "/" + n)
	}
	f.Fuzz(func(t *testing.T, path string) {
		recovery := filepath.Join("/cache", "recovery")
		dst := recoveryPath(recovery, path)
		rel, err := filepath.Rel(recovery, dst)
		if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") || filepath.IsAbs(rel) {
			t.Fatalf("recoveryPath(%q) = %q is not inside %s", path, dst, recovery)
		}
		for _, c := range strings.Split(rel, "/") {
			checkComponent(t, "recoveryPath component", c)
		}
		// Real mount paths (valid names) are kept as they are.
		if clean := strings.Trim(path, "/"); clean != "" && !strings.Contains(clean, "//") {
			valid := true
			for _, c := range strings.Split(clean, "/") {
				if needsEscape(c) || c == "." || len(c) > maxNameBytes {
					valid = false
				}
			}
			if valid && rel != clean {
				t.Fatalf("recoveryPath(%q) changed a valid mount path to %q", path, rel)
			}
		}
	})
}

// FuzzJournalRecord feeds a journal record (JSON, possibly damaged or
// hostile) to the start-up recovery: @STAGING@, @OUTSIDE@ and @CACHE@
// stand for real folders. Nothing outside the recovery folder may be
// created, and nothing outside the staging and journal folders removed
// or changed.
func FuzzJournalRecord(f *testing.F) {
	rec := func(id, data, path, state string) string {
		return `{"id":"` + id + `","data":"` + data + `","store":"cbrain","dir":{"ID":"dp/1","Name":"MainStore"},` +
			`"path":"` + path + `","name":"a.txt","state":"` + state + `"}`
	}
	for _, s := range []string{
		rec("123", "@STAGING@/123.data", "cbrain/MainStore/a.txt", "writing"),
		rec("123", "@STAGING@/123.data", "cbrain/MainStore/a.txt", "uploading"),
		rec("123", "@STAGING@/123.data", "../../../outside/planted", "writing"),
		rec("123", "@STAGING@/123.data", "/../../outside/planted", "uploading"),
		rec("123", "@STAGING@/123.data", "..", "writing"),
		rec("123", "@STAGING@/123.data", "", "writing"),
		rec("123", "@STAGING@/123.data", "/", "writing"),
		rec("123", "@STAGING@/123.data", "cbrain/\\u0000/x", "writing"),
		rec("123", "@OUTSIDE@/victim", "cbrain/MainStore/stolen", "writing"),
		rec("123", "@OUTSIDE@/victim", "cbrain/MainStore/stolen", "uploading"),
		rec("../../outside/victim", "@OUTSIDE@/victim", "x", "writing"),
		rec("../outside-id", "@STAGING@/../../outside/victim", "x", "uploading"),
		rec("../../outside/victim", "@STAGING@/123.data", "x", "writing"),
		rec(".", "@STAGING@/123.data", "x", "writing"),
		rec("123", "@CACHE@/journal/rec.json", "x", "writing"),
		rec("123", "@STAGING@/123.data", strings.Repeat("../", 50)+"etc/passwd", "writing"),
		`{"id":"123","data":"@STAGING@/123.data","path":{"nested":1}}`,
		`{"id":123}`, `[]`, `null`, `{`, ``, "\xff",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		top := t.TempDir()
		cache := filepath.Join(top, "cache")
		outside := filepath.Join(top, "outside")
		if err := os.MkdirAll(outside, 0o700); err != nil {
			t.Fatal(err)
		}
		must := func(err error) {
			if err != nil {
				t.Fatal(err)
			}
		}
		must(os.WriteFile(filepath.Join(outside, "victim"), []byte("victim"), 0o600))
		must(os.WriteFile(filepath.Join(outside, "victim.data"), []byte("victim"), 0o600))
		must(os.WriteFile(filepath.Join(outside, "victim.json"), []byte("{}"), 0o600))
		r, err := NewRoot(nil, Options{CacheDir: cache})
		must(err)
		d := r.fsys.dirs
		must(os.WriteFile(filepath.Join(d.staging, "123.data"), []byte("staged"), 0o600))
		raw = bytes.ReplaceAll(raw, []byte("@STAGING@"), []byte(d.staging))
		raw = bytes.ReplaceAll(raw, []byte("@OUTSIDE@"), []byte(outside))
		raw = bytes.ReplaceAll(raw, []byte("@CACHE@"), []byte(cache))
		must(os.WriteFile(filepath.Join(d.journal, "rec.json"), raw, 0o600))
		before := snapshot(t, top)

		r.ResumeUploads(context.Background()) // no backends: every record is handed back
		r.HandBackLocal()

		after := snapshot(t, top)
		inside := func(p, dir string) bool { return strings.HasPrefix(p, dir+string(filepath.Separator)) }
		for p, content := range after {
			old, existed := before[p]
			if (!existed || old != content) && !inside(p, d.recovery) {
				t.Errorf("record %q: %s was created or changed outside the recovery folder", raw, p)
			}
		}
		for p := range before {
			if _, ok := after[p]; !ok && !inside(p, d.staging) && !inside(p, d.journal) {
				t.Errorf("record %q: %s was removed", raw, p)
			}
		}
		// t.TempDir's parent holds only top: anything else was planted
		// there by a path that escaped top altogether.
		ents, _ := os.ReadDir(filepath.Dir(top))
		for _, e := range ents {
			if e.Name() != filepath.Base(top) {
				t.Errorf("record %q: %s was created next to the test folder", raw, e.Name())
			}
		}
	})
}

// snapshot maps every path under dir to its content ("<dir>" for folders).
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, e iofs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			out[p] = "<dir>"
			return nil
		}
		raw, err := os.ReadFile(p)
		out[p] = string(raw)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
