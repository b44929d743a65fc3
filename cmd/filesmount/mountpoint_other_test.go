//go:build !linux

package main

import "testing"

// mountOtherFS: no tmpfs to mount here; the part of the test is skipped
// (CI runs on Linux).
func mountOtherFS(t *testing.T, dir string) (string, bool) {
	t.Log("no tmpfs on this system: mounting over another file system not tried")
	return "", false
}
