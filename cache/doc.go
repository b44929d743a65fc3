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
// # Locking
//
// Cache.mu guards the block LRU, the in-flight map and the spool
// registry; spool.mu guards one spool's progress. Lock order: Cache.mu
// before spool.mu; Store.raMu is never held with either. No lock is held
// across network I/O.
package cache
