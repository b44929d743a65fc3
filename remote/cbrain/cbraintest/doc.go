// Package cbraintest is an in-process emulator of a CBRAIN BrainPortal's
// REST API, built from /work/shared/reference/cbrain-api.md (the section
// numbers in comments refer to that document).
//
// The emulator is deliberately strict: it answers like the real server
// (bare JSON arrays, empty 401 bodies, 302s on some failure paths, HTTP
// 200 with {"error":...} for notices, no Range support, 201 without an id
// on upload, size null until an upload is processed, the
// "backgroud_activity_id" typo, ...). A lenient emulator would hide
// client bugs that the real server would expose.
//
// Records (users, groups, providers, userfiles, sessions, background
// activities) live in memory; file contents live on disk under
// Options.DataDir or are generated on demand (FileSpec.Source), so the
// emulator can hold 10,000+ userfiles and multi-GiB contents.
//
// Concurrency: every record is protected by Server.mu. Handlers copy what
// they need under the lock and stream contents without it; contents are
// never rewritten in place (a new file is written and swapped), so a
// reader that already opened the old file is unaffected.
//
// Failures: Server.Faults (or Options.Faults) injects HTTP faults (package
// internal/faults) matched on the Stats.ByRoute keys; status faults answer
// {"error":"..."} and are counted in Stats. Knobs: SetUploadNeverCompletes
// (size stays null), SetQuotaExceeded, ExpireToken, SetProviderOnline,
// SetCorruptDownloads, EvictFromCache, SetMemberTime. Options.Display
// plays the collection viewer's unrecorded answers (display.go), and
// Stats counts the error reports the real portal would file. The knobs
// and the injector are read per request
// without mu (atomics), so tests may flip them while requests run.
package cbraintest
