package fs

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/filesmount/filesmount/remote"
)

// Seeds shared by the name fuzzers: the hostile shapes remote names take.
var hostileNames = []string{
	"", ".", "..", "...", "/", "//", "a/b", "../../etc/passwd", "/etc/passwd", "a/../..",
	"nul\x00byte", "\x00", "..\x00", "bad\xffutf8", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
	"%", "%2F", "%2E%2E", "a%2Fb", "100%.txt", "~", "name~1", "scan.nii.gz", ".hidden", "-rf",
	"é", "日本語.png", "\u202etxt.exe", "line\nbreak", "tab\there", " ",
	strings.Repeat("a", 255), strings.Repeat("a", 256), strings.Repeat("é", 128),
	strings.Repeat("é", 200) + "\xff", strings.Repeat("/", 300), strings.Repeat("..", 200),
	strings.Repeat("\U0001F600", 64), strings.Repeat("x", 254) + "é",
}

// checkComponent fails unless name is a valid, safe path component.
func checkComponent(t *testing.T, what, name string) {
	t.Helper()
	switch {
	case name == "" || name == "." || name == "..":
		t.Fatalf("%s: %q is not a usable name", what, name)
	case strings.ContainsAny(name, "/\x00"):
		t.Fatalf("%s: %q contains '/' or NUL", what, name)
	case !utf8.ValidString(name):
		t.Fatalf("%s: %q is not valid UTF-8", what, name)
	case len(name) > maxNameBytes:
		t.Fatalf("%s: %q is %d bytes long", what, name, len(name))
	}
	base := filepath.Join("/base", "dir")
	if p := filepath.Join(base, name); filepath.Dir(p) != base {
		t.Fatalf("%s: %q escapes its directory: %s", what, name, p)
	}
}

func FuzzEscapeName(f *testing.F) {
	for _, n := range hostileNames {
		f.Add(n, "..")
	}
	f.Add("a/b", "a%2Fb")
	f.Add("", ".")
	f.Add(".", "%2E")
	f.Fuzz(func(t *testing.T, a, b string) {
		ea := escapeName(a)
		checkComponent(t, "escapeName", ea)
		if escapeName(a) != ea {
			t.Fatalf("escapeName(%q) is not deterministic", a)
		}
		if !needsEscape(a) && len(a) <= maxNameBytes && ea != a {
			t.Fatalf("valid name %q changed to %q", a, ea)
		}
		// Escaping is injective (below the length at which names are
		// shortened with a hash): two different invalid names never show
		// under one name.
		eb := escapeName(b)
		if a != b && needsEscape(a) && needsEscape(b) && len(a) <= 80 && len(b) <= 80 && ea == eb {
			t.Fatalf("escapeName(%q) == escapeName(%q) == %q", a, b, ea)
		}
	})
}

// entriesFromSpec decodes a fuzz input: entries separated by \x1f, each
// "id\x1ename" (a missing name is the id itself); "dir:" makes it a
// directory.
func entriesFromSpec(spec string) []remote.Entry {
	var out []remote.Entry
	for _, part := range strings.Split(spec, "\x1f") {
		id, name, ok := strings.Cut(part, "\x1e")
		if !ok {
			name = id
		}
		e := remote.Entry{ID: id, Name: name}
		if rest, ok := strings.CutPrefix(e.ID, "dir:"); ok {
			e.ID, e.IsDir = rest, true
		}
		out = append(out, e)
		if len(out) == 64 {
			break
		}
	}
	return out
}

func FuzzUniqueNames(f *testing.F) {
	f.Add("uf/10\x1escan.nii.gz\x1fuf/9\x1escan.nii.gz\x1fuf/11\x1escan~10.nii.gz")
	f.Add("uf/14\x1ea/b\x1fuf/15\x1ea%2Fb\x1fuf/16\x1e..\x1fuf/17\x1e%2E%2E")
	f.Add("1\x1ea\x1f1\x1ea\x1f1\x1ea~1\x1f1~2\x1ex\x1f2\x1ex~1")                      // duplicate ids, suffix clashes
	f.Add("x\x1e" + strings.Repeat("n", 255) + "\x1fy\x1e" + strings.Repeat("n", 255)) // suffix past 255 bytes
	f.Add("a\x1e" + strings.Repeat("é", 127) + ".txt\x1fb/" + strings.Repeat("9", 250) + "\x1e" + strings.Repeat("é", 127) + ".txt")
	f.Add("uf/\x1e\x1fuf/\x1e\x1f/\x1e/\x1f\x1e")
	f.Add("file_1\x1eAvatar\x1ffile_2\x1eAvatar\x1ffile_3\x1eAvatar~file_2\x1fdir:tag/x\x1eAvatar")
	for _, n := range hostileNames {
		f.Add("id/1\x1e" + n + "\x1fid/2\x1e" + n + "\x1f" + n + "\x1e" + n)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		entries := entriesFromSpec(spec)
		got := uniqueNames(entries)
		if len(got) != len(entries) {
			t.Fatalf("%d names for %d entries", len(got), len(entries))
		}
		seen := map[string]int{}
		escapedCount := map[string]int{}
		for _, e := range entries {
			escapedCount[escapeName(e.Name)]++
		}
		for i, n := range got {
			if e := entries[i]; n.entry.ID != e.ID || n.entry.Name != e.Name || n.entry.IsDir != e.IsDir {
				t.Fatalf("entry %d moved: %+v, want %+v", i, n.entry, entries[i])
			}
			checkComponent(t, "uniqueNames", n.name)
			if j, dup := seen[n.name]; dup {
				t.Fatalf("name %q given to entries %d (%+v) and %d (%+v)", n.name, j, entries[j], i, entries[i])
			}
			seen[n.name] = i
			// A name no other entry shares is shown as escapeName shows it.
			if esc := escapeName(entries[i].Name); escapedCount[esc] == 1 && n.name != esc {
				t.Fatalf("unshared name %q shown as %q, want %q", entries[i].Name, n.name, esc)
			}
		}
		// Deterministic, and independent of the order the remote lists
		// entries in: the same entry always gets the same name.
		names := func(ns []namedEntry) []string {
			var out []string
			for _, n := range ns {
				out = append(out, n.name)
			}
			return out
		}
		if a, b := names(got), names(uniqueNames(entries)); !slices.Equal(a, b) {
			t.Fatalf("not deterministic:\n%q\n%q", a, b)
		}
		rev := slices.Clone(entries)
		slices.Reverse(rev)
		key := func(ns []namedEntry) []string {
			var out []string
			for _, n := range ns {
				out = append(out, n.entry.ID+"\x00"+n.entry.Name+"\x00"+n.name)
			}
			slices.Sort(out)
			return out
		}
		if a, b := key(got), key(uniqueNames(rev)); !slices.Equal(a, b) {
			t.Fatalf("names depend on the listing order:\n%q\n%q", a, b)
		}
	})
}
