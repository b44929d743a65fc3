//go:build !linux

package main

import (
	"path/filepath"
	"syscall"
)

// mountAt reports whether dir is a mount point, by the device number
// changing from its parent's (there is no /proc/self/mountinfo here, and
// the type is not known). "/" is its own parent.
func mountAt(dir string) (mount, bool) {
	var st, parent syscall.Stat_t
	if syscall.Stat(dir, &st) != nil || syscall.Stat(filepath.Join(dir, ".."), &parent) != nil {
		return mount{}, false
	}
	return mount{}, st.Dev != parent.Dev || st.Ino == parent.Ino
}
