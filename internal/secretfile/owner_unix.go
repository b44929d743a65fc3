//go:build unix

package secretfile

import (
	"os"
	"syscall"
)

// openNoFollow opens path for reading, failing on a symbolic link (one
// that replaced the file after the caller's Lstat).
func openNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
}

// ownerOf returns the user id that owns the file.
func ownerOf(fi os.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}
