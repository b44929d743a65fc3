//go:build linux

// Package e2e holds end-to-end tests: the embedded emulators, the real
// clients, the cache and a real FUSE mount, driven with ordinary programs
// (ls, cp, cmp, find, rsync, nibabel). It has no non-test code.
package e2e
