// Package vrchattest is an in-process emulator of the VRChat Files API
// (api.vrchat.cloud/api/1) and of the S3 bucket it hands pre-signed URLs
// for, built from /work/shared/reference/vrchat-files-api.md (section
// numbers in comments refer to that document).
//
// The emulator is deliberately strict, because the product is also run
// against the real service: a mandatory app User-Agent (the WAF 403 with
// waf_code 13799), JSON-quoted messages where the live API quotes them
// ("\"Missing Credentials\""), the flat unknown-route 404, 2FA answered
// with HTTP 200 {"requiresTwoFactorAuth":[...]}, a session limit (429),
// version 0 downloads → 404, the delete-version rules (v0 → 400, a middle
// version → HTTP 500 carrying "409 ..."), base64 MD5s, and an S3 side that
// checks SigV2-style pre-signed URLs, so that a simple PUT without the
// signed Content-MD5/Content-Type, or a part PUT with them, is refused.
//
// # Two hosts
//
// The API listens on http://127.0.0.1:PORT/api/1 and the object store on a
// second listener addressed as http://localhost:PORT2. The host names
// differ (not only the ports: cookie jars ignore ports), so a client that
// sends the API's cookies to the object store is caught
// (Stats.CookiesSeenOnS3).
//
// # Storage
//
// Records (users, sessions, Files, versions, parts) live in memory.
// Contents live on disk under Options.DataDir (objects/, parts/, tmp/) or
// are generated on demand (VersionSpec.Source), and are streamed with
// bounded buffers, so multi-GiB versions cost no memory. Files are never
// rewritten in place: a new file is written and swapped in, and the old
// one removed (an open reader keeps reading the old bytes).
//
// # Concurrency
//
// Server.mu guards the whole data model (state). Handlers copy what they
// need under the lock and do disk and network I/O without it. Stats have
// their own lock so that counting never waits on mu. The failure knobs
// below and the fault injector are atomics, read per request without mu.
//
// # Failures
//
// Server.Faults (or Options.Faults) injects HTTP faults (package
// internal/faults) on both listeners, matched on the Stats.ByRoute keys
// ("route=s3" selects the object store); status faults answer in each
// host's error shape (the API envelope, S3's XML) and are counted in
// Stats. Knobs: SetURLTTL (expired pre-signed URLs), ExpireSessions
// (expired cookies), SetRateLimited and LockOut (429 without Retry-After;
// a lockout that lengthens when hammered, ratelimit.go),
// SetVersionsStayQueued (uploads accepted, version "queued" forever),
// SetEntryError, SetWrongETag, SetCorruptDownloads, Options.QueuedPolls.
//
// # Unrecorded answers, played as options
//
// Where no recording shows what the real server does, an option plays
// each plausible answer, and the tests run them all: Options.Download
// (where a download leads: a storage host, another API URL, or the bytes
// at once; download.go) and Options.AssetRefusal with
// Options.AssetRefusedAtRedirect (non-image Files refused with 401 or 403,
// at the download or where its redirect leads).
//
// # Choices where the reference is silent ([INF]/[?])
//
// Each is marked "[INF]" at the code that implements it; the main ones:
//   - GET /files: oldest first, n outside 1..100 → 400 (not clamped), an
//     empty tag= → 400, untagged listing returns every File of the caller.
//   - A wrong 2FA code → 400 by default; Options.WrongCodeAnswer plays
//     401 and 200 {"verified":false} too (never recorded; the spec lists
//     only 200 Verify2FAResult and 401 for verify2FA).
//   - The version-level status after a finish (Options.
//     VersionStatusAfterFinish: complete, queued, waiting), entries
//     "queued" after their finish (EntryQueuedPolls), the "queued"
//     category on large entries (LargeCategory) and an entry in "error"
//     (SetEntryError): see completion.go.
//   - A pending-2FA session on /file* → 401 "\"Requires Two-Factor
//     Authentication\"" (the JS SDK's wording; wire form not recorded).
//   - Downloads of a version that is not complete, deleted, or lacks the
//     part → 404 "File version type not found", like version 0.
//   - Writes to another user's File → 403.
//   - The User-Agent passes if it is "Name/Version" followed by a
//     non-empty contact; "@example.com" contacts are blocked (the docs'
//     own example is); browser agents are not singled out.
//   - Basic credentials are percent-decoded like decodeURIComponent ('+'
//     stays '+'); a malformed escape is a wrong password.
//   - Signature contents of seeded versions are placeholders with the
//     librsync BLAKE2 header and the right length; signatures are never
//     validated (§4.5 says the server probably does not either).
package vrchattest
