// Package faults injects HTTP failures into a server, so that tests (and
// `filesmount demo --faults=...`) can check how a client copes with the
// ways real services and networks fail: error statuses (with or without
// Retry-After), added latency, a connection reset in the middle of a body,
// a body shorter than its Content-Length, and a stall (headers, then
// silence).
//
// An Injector holds a list of Rules and wraps an http.Handler (Wrap,
// WrapWith). Both emulators (cbraintest, vrchattest) wrap every listener
// with their Server.Faults() injector and their own route keys.
//
// # Matching
//
// A Rule's Route is compared with two strings of each request: its route
// key (supplied by the emulator: "GET /userfiles/:id/content",
// "GET /file/{id}", "PUT s3 part"...) and its request line without the
// query ("GET /userfiles/7/content"). It matches when it is a substring of
// either, so "/userfiles" covers every CBRAIN userfile route, "s3" every
// VRChat storage request and "/userfiles/7/" one file. A leading "=" asks
// for equality instead ("=GET /userfiles" is the listing only). "" matches
// every request. Matching is case-sensitive.
//
// # Which rules apply
//
// For each request the rules are tried in the order they were added, and
// at most two apply: the first latency rule that selects the request, and
// the first other rule (status, reset, short, stall) that does. A rule
// selects a request when its Route matches, its Count is not used up, and,
// if its Probability is not 0, a draw from the injector's seeded RNG falls
// below it. Only a selecting rule uses up one of its Count, so
// "status=503:count=3" answers exactly the next three matching requests
// with 503. Body faults (reset, short, stall) never select HEAD requests,
// which have no body.
//
// # Body faults
//
// Reset, short and stall let the handler answer, pass its headers and the
// first After bytes of its body through, then act. After is capped at the
// body's length minus one, so the fault always lands inside the body; a
// response with an empty body is left alone (its rule is used up but no
// fault is counted). When the handler sets no Content-Length, its whole
// body is buffered first so that the headers can announce the full length,
// as a server that truncates a known-length body would.
//
// # Concurrency
//
// An Injector is safe for concurrent use: one mutex guards the rules,
// their counts, the RNG and the statistics. Its handlers hold the mutex
// only to pick rules and count faults, never while sleeping or writing.
package faults
