//go:build linux

package fs

import "testing"

func TestUnescapeMountinfo(t *testing.T) {
	for in, want := range map[string]string{
		`/tmp/plain`:               "/tmp/plain",
		`/tmp/with\040space`:       "/tmp/with space",
		`/tmp/tab\011and\134slash`: "/tmp/tab\tand\\slash",
		`/tmp/trailing\04`:         `/tmp/trailing\04`,
	} {
		if got := unescapeMountinfo(in); got != want {
			t.Errorf("unescapeMountinfo(%q) = %q, want %q", in, got, want)
		}
	}
}
