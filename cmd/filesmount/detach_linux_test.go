package main

import "syscall"

// detachMount lazily unmounts a mount a test left behind.
func detachMount(dir string) { syscall.Unmount(dir, syscall.MNT_DETACH) }
