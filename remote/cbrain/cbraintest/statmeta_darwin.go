package cbraintest

import (
	"os"
	"syscall"
	"time"
)

// statMeta reads lstat's owner and access/change times (Darwin Stat_t
// names them Atimespec and Ctimespec).
func statMeta(fi os.FileInfo) fileMeta {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileMeta{uid: os.Getuid(), gid: os.Getgid(), atime: fi.ModTime(), ctime: fi.ModTime()}
	}
	return fileMeta{uid: int(st.Uid), gid: int(st.Gid),
		atime: time.Unix(st.Atimespec.Sec, st.Atimespec.Nsec),
		ctime: time.Unix(st.Ctimespec.Sec, st.Ctimespec.Nsec)}
}
