package fs

import (
	"strings"
	"testing"

	"github.com/filesmount/filesmount/remote"
)

func TestEscapeName(t *testing.T) {
	cases := map[string]string{
		"plain.txt":      "plain.txt",
		"100%.txt":       "100%.txt", // valid names are never changed
		"a/b":            "a%2Fb",
		"a/%2F":          "a%2F%252F",
		"nul\x00byte":    "nul%00byte",
		".":              "%2E",
		"..":             "%2E%2E",
		"":               "%",
		"bad\xffutf8":    "bad%FFutf8",
		"...":            "...",
		"spaces are ok ": "spaces are ok ",
	}
	for in, want := range cases {
		if got := escapeName(in); got != want {
			t.Errorf("escapeName(%q) = %q, want %q", in, got, want)
		}
	}
	long := strings.Repeat("é", 200) // 400 bytes
	got := escapeName(long)
	if len(got) > maxNameBytes || !strings.HasPrefix(got, "é") {
		t.Errorf("long name: %d bytes %q", len(got), got)
	}
	if escapeName(long+"x") == got {
		t.Error("two long names that differ late map to the same name")
	}
}

func TestEscapedNamesAreSafeComponents(t *testing.T) {
	for _, in := range []string{"../../etc/passwd", "/", "a\x00/..", "..", "%2E%2E", "\xc0\xaf"} {
		got := escapeName(in)
		if got == "." || got == ".." || strings.ContainsAny(got, "/\x00") || got == "" {
			t.Errorf("escapeName(%q) = %q is not a safe path component", in, got)
		}
	}
}

func TestUniqueNamesCollisions(t *testing.T) {
	entries := []remote.Entry{
		{ID: "uf/10", Name: "scan.nii.gz"},
		{ID: "uf/9", Name: "scan.nii.gz"},
		{ID: "uf/11", Name: "scan~10.nii.gz"}, // a real file named like a disambiguated one
		{ID: "uf/12", Name: "notes"},
		{ID: "uf/13", Name: "notes"},
		{ID: "uf/14", Name: "a/b"},
		{ID: "uf/15", Name: "a%2Fb"},
	}
	got := map[string]string{}
	for _, n := range uniqueNames(entries) {
		if prev, dup := got[n.name]; dup {
			t.Fatalf("name %q given to %s and %s", n.name, prev, n.entry.ID)
		}
		got[n.name] = n.entry.ID
	}
	want := map[string]string{
		"scan.nii.gz":      "uf/9", // smallest id keeps the plain name
		"scan~10~2.nii.gz": "uf/10",
		"scan~10.nii.gz":   "uf/11",
		"notes":            "uf/12",
		"notes~13":         "uf/13",
		"a%2Fb":            "uf/15",
		"a%2Fb~14":         "uf/14",
	}
	if len(got) != len(entries) {
		t.Fatalf("got %d names for %d entries: %v", len(got), len(entries), got)
	}
	for _, name := range []string{"scan.nii.gz", "notes", "notes~13", "a%2Fb", "a%2Fb~14"} {
		if got[name] != want[name] {
			t.Errorf("%q -> %s, want %s (all: %v)", name, got[name], want[name], got)
		}
	}
	// Deterministic: the same input in another order gives the same names.
	rev := make([]remote.Entry, len(entries))
	for i, e := range entries {
		rev[len(entries)-1-i] = e
	}
	for _, n := range uniqueNames(rev) {
		if got[n.name] != n.entry.ID {
			t.Errorf("order changed the result: %q -> %s, before %s", n.name, n.entry.ID, got[n.name])
		}
	}
}
