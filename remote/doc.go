// Package remote is the backend-neutral contract between the filesystem
// layer (package fs), the block cache (package cache) and the backends
// (remote/cbrain, remote/vrchat).
//
// A backend implements Store. It speaks HTTP to one remote API and returns
// Entries and plain Go errors; it never knows about FUSE, inodes or errno.
// The cache wraps a Store and adds ReadAt, which serves reads from
// fixed-size blocks. The filesystem layer depends on nothing but this
// package.
//
// # Errors
//
// Backends return errors that wrap one of the sentinels in errors.go
// (ErrNotFound, ErrPermission, ...) whenever the failure has such a
// meaning, so that fs can map them to errno values in one place. An error
// that wraps none of them is reported as EIO.
//
// # Names
//
// Entry.Name is the remote's own name, untrusted: it may contain '/', NUL,
// or be "." or "..". The fs layer escapes names and resolves collisions;
// backends must not.
package remote
