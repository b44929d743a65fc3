package fs

import "syscall"

func detachStale(dir string) error { return syscall.Unmount(dir, syscall.MNT_DETACH) }
