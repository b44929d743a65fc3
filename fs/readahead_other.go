//go:build !linux

package fs

// raiseReadAhead is Linux-only; macFUSE negotiates its own read sizes.
func raiseReadAhead(dir string, kb int) error { return nil }
