// Package cache is the read path between the filesystem layer and the
// backends. It wraps a remote.Store and adds remote.ContentReader.
//
// # Blocks
//
// Objects are read in fixed-size blocks kept in one LRU per Cache, shared
// by every wrapped Store and bounded in bytes (Options.MaxBytes). A block
// is keyed by store name, entry ID, entry Version and block index, so a
// new Version never sees old bytes. Each missing block is fetched once,
// however many readers wait for it (the in-flight map in blocks.go).
//
// # Contexts
//
// Every remote fetch runs on the daemon's context given to New, never on
// a reader's. A reader's ctx only bounds how long that reader waits: a
// FUSE interrupt (Go programs raise SIGURG constantly) must not abort a
// download that other readers share.
//
// # Read-ahead
//
// Per (store, entry ID) the cache watches whether reads are sequential.
// Sequential streams get a growing window of blocks fetched ahead in the
// background; random reads fetch only the block they need
// (readahead.go).
//
// # Spools
//
// Some remotes (CBRAIN) ignore Range and always send the whole object.
// When a body comes back with Ranged == false, that object is streamed
// once into an unlinked file under Options.Dir, and reads are answered
// from it as soon as their bytes have arrived (spool.go). Completed
// spools stay on disk until Options.MaxSpoolBytes pushes them out
// (spools.go).
//
// # MD5 verification
//
// When an Entry has an MD5 and a known Size, its bytes are hashed in
// offset order as they arrive, with no extra request and no copy
// (verify.go). Spools hash their stream as they write it. Blocks arrive
// in any order (read-ahead, parallel and random reads), so a small
// per-version check (MD5 state and next offset) is fed by whoever caches
// the block at its next offset, and then goes on through the following
// blocks already in the LRU. A block evicted before it was hashed stalls
// the check until it is fetched again, perhaps forever: the object is
// then not verified, but never reported corrupt falsely. At most
// maxChecks checks are kept; an evicted one just means no verdict.
//
// A match is remembered (the version is not hashed again while that is
// remembered). A mismatch is logged once and drops the version's blocks
// and spool. The read that completed the object fails with an error
// wrapping remote.ErrCorrupt, and so does every later read of the
// version, until a read at offset 0 starts over: it fetches again and
// verifies afresh. Reads that returned before the object was complete
// cannot be taken back. Empty objects are not checked.
//
// # Locking
//
// Cache.mu guards the block LRU, the in-flight map, the spool registry
// and the MD5 checks; spool.mu guards one spool's progress. A check's
// hash state belongs to the one goroutine hashing it (check.busy), which
// holds no lock while hashing. Lock order: Cache.mu before spool.mu;
// Store.raMu is never held with either. No lock is held across network
// I/O or hashing.
package cache
