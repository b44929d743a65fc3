package cbraintest

import (
	"os"
	"syscall"
	"time"
)

// statMeta reads lstat's owner and access/change times (Linux Stat_t).
func statMeta(fi os.FileInfo) fileMeta {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileMeta{uid: os.Getuid(), gid: os.Getgid(), atime: fi.ModTime(), ctime: fi.ModTime()}
	}
	return fileMeta{uid: int(st.Uid), gid: int(st.Gid),
		atime: time.Unix(int64(st.Atim.Sec), int64(st.Atim.Nsec)), //nolint:unconvert // int32 on some architectures
		ctime: time.Unix(int64(st.Ctim.Sec), int64(st.Ctim.Nsec))} //nolint:unconvert
}
