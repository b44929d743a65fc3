// Package cbrain is the client for the CBRAIN portal's REST API and its
// adapter to remote.Store.
//
// It is written against the server's actual behaviour, which differs from
// the published swagger (see SEMANTICS.md and the reference notes): bare
// JSON arrays without totals, empty 401 bodies, no HTTP Range on content,
// no timestamps, sizes that may be null, redirects on some error paths.
//
// The package never imports FUSE code; it returns errors that wrap the
// sentinels of package remote.
package cbrain
