//go:build !linux

package main

import "syscall"

// detachMount unmounts a mount a test left behind (no lazy detach here).
func detachMount(dir string) { syscall.Unmount(dir, 0) }
