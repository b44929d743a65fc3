package vrchattest

import (
	"net/http"
	"strconv"
	"strings"
)

// DownloadMode is where GET /file/{id}/{v} sends the client. Nobody has
// recorded it (shared/reference/real-servers.md, VRChat item 2;
// vrchat-files-api.md §6): the spec documents a 200 with raw image bytes
// (openapi/components/responses/files/RawFileResponse.yaml, spec PR #468),
// while VRCX follows redirects to a CDN and recorded FileData.url values
// are API URLs (.../file/{id}/{v}/file). Each plausible answer is a mode,
// and the tests run them all.
type DownloadMode int

const (
	// DownloadToStorage (the default): 302 to a pre-signed URL on the
	// object store, another host. VRCX's image cache follows such
	// redirects to files.vrchat.cloud / CloudFront (VRCX
	// Dotnet/ImageCache.cs, vrchat-files-api.md §6).
	DownloadToStorage DownloadMode = iota
	// DownloadOnAPIHost: 302 to another URL on the API host, the per-part
	// URL recorded in FileData.url (specification-test
	// data/requests/files/createfileversion.md), which serves the bytes
	// and, being an API route, needs the session cookies.
	DownloadOnAPIHost
	// DownloadDirect: the API answers 200/206 with the bytes itself, as
	// RawFileResponse.yaml documents.
	DownloadDirect
)

func (m DownloadMode) String() string {
	switch m {
	case DownloadOnAPIHost:
		return "on-api-host"
	case DownloadDirect:
		return "direct"
	}
	return "to-storage"
}

// msgAssetForbidden is the 403 of Options.AssetRefusal. [INF] never
// recorded; the quoting follows the other permission messages.
const msgAssetForbidden = `"You are not allowed to download this file"`

// refusesAsset reports whether Options.AssetRefusal applies to f: a File
// that is not an image (spec PR #468 could not download vrca or
// unitypackage Files; VRCX #416: asset URLs need the game's own
// authentication and User-Agent). Caller holds mu or f is immutable here
// (mimeType never changes).
func (s *Server) refusesAsset(f *file) bool {
	return s.opts.AssetRefusal != 0 && !strings.HasPrefix(f.mimeType, "image/")
}

// refuseAsset writes the refusal as the API would: 401 is the recorded
// "Missing Credentials" answer (the log shows it on a download),
// 403 an [INF] permission error.
func (s *Server) refuseAsset(w http.ResponseWriter) {
	if s.opts.AssetRefusal == http.StatusUnauthorized {
		writeError(w, http.StatusUnauthorized, msgMissingCredentials)
		return
	}
	writeError(w, http.StatusForbidden, msgAssetForbidden)
}

// GET /file/{id}/{v} and /file/{id}/{v}/{file|signature|delta} (§6),
// answered per Options.Download (see DownloadMode).
//
// Version 0 → 404 "File version type not found" (recorded). The same 404
// answers [INF] a version without that part, one that is not "complete"
// (waiting, queued, error), and one marked deleted; a version number past
// the end → 404 "File version not found" [INF].
//
// Options.AssetRefusal refuses non-image Files here, or, with
// Options.AssetRefusedAtRedirect, at the place the redirect leads to (the
// object store, or the API's per-part URL); in DownloadDirect mode there
// is no redirect, so the refusal is here either way.
func (s *Server) hDownload(c *call) {
	s.mu.Lock()
	f, st, msg := s.findFileLocked(c.id)
	if f == nil {
		s.mu.Unlock()
		c.error(st, msg)
		return
	}
	if c.v >= len(f.versions) {
		s.mu.Unlock()
		c.error(http.StatusNotFound, "File version not found")
		return
	}
	v := f.versions[c.v]
	p := v.partOf(c.typ)
	if c.v == 0 || p == nil || v.deleted || !v.servable() || p.status != "complete" || p.obj == nil {
		s.mu.Unlock()
		c.error(http.StatusNotFound, msgVersionTypeNotFound)
		return
	}
	refuse := s.refusesAsset(f)
	o := p.obj
	mode := s.opts.Download
	perPart := strings.Count(strings.Trim(strings.TrimPrefix(c.r.URL.Path, apiPrefix), "/"), "/") == 3 // /file/{id}/{v}/{type}
	// Where this hop stands: the first hop of a redirecting mode, or the
	// one that serves the bytes.
	serves := mode == DownloadDirect || (mode == DownloadOnAPIHost && perPart)
	if refuse && (!s.opts.AssetRefusedAtRedirect || mode == DownloadDirect || serves) {
		s.mu.Unlock()
		s.refuseAsset(c.w)
		return
	}
	var loc string
	switch {
	case serves:
	case mode == DownloadOnAPIHost:
		loc = s.apiURL + "/file/" + f.id + "/" + strconv.Itoa(v.n) + "/" + p.kind
	default:
		loc = s.presignLocked(http.MethodGet, p.fileName, "", "", 0, "")
	}
	s.mu.Unlock()
	if serves {
		if sw, ok := c.w.(*statusWriter); ok {
			sw.count = s.countDownload
		}
		if !s.serveObject(c.w, c.r, o) {
			c.error(http.StatusNotFound, msgVersionTypeNotFound) // deleted under us
		}
		return
	}
	h := c.w.Header()
	h.Set("Location", loc)
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "private, no-cache")
	c.w.WriteHeader(http.StatusFound)
	c.w.Write([]byte("Found. Redirecting to " + loc))
}
