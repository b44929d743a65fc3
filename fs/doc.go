// Package fs presents remote.Stores as a FUSE filesystem with go-fuse.
//
// The tree is MOUNT/<store name>/... . Directories answer Lookup, Getattr
// and READDIRPLUS from one cached listing per directory (refreshed at most
// once per Options.MetadataTTL); files read through a remote.ContentReader
// (package cache) and never call the network under a node lock.
//
// # Errors
//
// Every error from a store is turned into an errno by toErrno (errno.go),
// which also writes the one log line that says what failed and why.
//
// # Locking
//
// Each node has its own mu protecting its mutable fields. Locks are never
// held across a call into a Store or ContentReader, and no lock is taken
// while another node's lock is held, so there is no lock order to respect.
// Listing refreshes are shared through a per-directory singleflight and run
// on a context detached from the FUSE request, bounded by ListTimeout. A
// kernel interrupt (Go programs get many, from SIGURG) neither stops the
// refresh nor its waiters: answering EINTR to a lookup, an unlink or a
// rename fails programs that do not retry them.
//
// # Times, sizes and links
//
// Times users set are kept per remote content in the cache directory
// (times.go), so rsync's quick check works across runs and restarts.
// Generated content (analysis reports) is fetched at lookup to show its
// true size, and the bytes are kept for the metadata TTL (reportsize.go).
// A file the remote lists under several names in one directory (VRChat's
// latest<ext>) is one inode whose st_nlink counts them (listing.go).
//
// # Kernel notifications
//
// The package does not call go-fuse's Notify* functions. Content changes
// reach the kernel through attributes (size changes invalidate the page
// cache) and through withholding FOPEN_KEEP_CACHE at open when the
// remote version changed.
package fs
