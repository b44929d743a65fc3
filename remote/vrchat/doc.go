// Package vrchat is the client for VRChat's Files API and its adapter to
// remote.Store.
//
// Authentication is by the "auth" and "twoFactorAuth" cookies that
// `filesmount login vrchat` obtains once; the daemon reuses them and never
// logs in by itself, because VRChat rate-limits new sessions. Every request
// carries an identifying User-Agent (VRChat's firewall refuses others).
// Cookies are only ever sent to the API host: downloads redirect to a
// storage host, which is fetched with a cookie-less client.
//
// The package never imports FUSE code; it returns errors that wrap the
// sentinels of package remote.
package vrchat
