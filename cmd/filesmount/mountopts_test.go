package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestUserAllowOther reads fuse.conf as fusermount3 does; the tests run as
// root, where --allow-other never needs it, so the binary cannot show it.
func TestUserAllowOther(t *testing.T) {
	dir := t.TempDir()
	for conf, want := range map[string]bool{
		"user_allow_other\n":                       true,
		"mount_max = 1000\n  user_allow_other  \n": true,
		"user_allow_other # for filesmount\n":      true,
		"#user_allow_other\n":                      false,
		"mount_max = 1000\n":                       false,
		"user_allow_other_not\n":                   false,
	} {
		path := filepath.Join(dir, "fuse.conf")
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := userAllowOther(path); got != want {
			t.Errorf("fuse.conf %q: userAllowOther = %v, want %v", conf, got, want)
		}
	}
	if userAllowOther(filepath.Join(dir, "missing.conf")) {
		t.Error("a missing fuse.conf allows other users")
	}
}
