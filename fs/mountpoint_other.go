//go:build !linux

package fs

import "syscall"

func detachStale(dir string) error { return syscall.Unmount(dir, 0) }
