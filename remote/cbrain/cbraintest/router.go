package cbraintest

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// call is one request being served.
type call struct {
	s      *Server
	w      http.ResponseWriter
	r      *http.Request
	key    string     // route pattern, e.g. "GET /userfiles/:id"
	format string     // "json", "html", "xml" or "other" (Rails' request format)
	p      url.Values // Rails-style flattened params: "userfile[name]", "file_ids[]"
	nulls  map[string]bool
	id     string // :id path segment
	rest   string // *path of the stream route
	ip     string
	token  string
	uid    int // 0 when not logged in
}

type handlerFunc func(c *call)

type route struct {
	key  string
	fn   handlerFunc
	auth bool // login_required
	// sendFile: the success path does not go through respond_to, so any
	// Accept format works; errors are answered per format by the handler.
	sendFile bool
}

// match maps a request to a route. Rails strips a ".json" (any ".ext")
// from the last segment as the format, except for the stream route whose
// extension is part of the path (§3).
func (s *Server) match(method, path string) (rt route, id, rest, ext string, ok bool) {
	p := strings.TrimPrefix(path, "/")
	// Stream: /userfiles/:id/stream/*path keeps everything verbatim.
	if seg := strings.SplitN(p, "/", 4); len(seg) == 4 && seg[0] == "userfiles" && seg[2] == "stream" && method == http.MethodGet {
		return route{key: "GET /userfiles/:id/stream/*path", fn: s.hStream, auth: true, sendFile: true}, seg[1], seg[3], "", true
	}
	segs := strings.Split(strings.TrimSuffix(p, "/"), "/")
	last := segs[len(segs)-1]
	if i := strings.LastIndexByte(last, '.'); i > 0 {
		ext = last[i+1:]
		segs[len(segs)-1] = last[:i]
	}
	r := func(key string, fn handlerFunc, auth, sendFile bool) (route, string, string, string, bool) {
		return route{key: key, fn: fn, auth: auth, sendFile: sendFile}, id, "", ext, true
	}
	m := method
	if m == http.MethodHead {
		m = http.MethodGet // Rails answers HEAD as GET without a body
	}
	switch {
	case len(segs) == 1 && segs[0] == "session":
		switch m {
		case "POST":
			return r("POST /session", s.hSessionCreate, false, false)
		case "GET":
			return r("GET /session", s.hSessionShow, true, false)
		case "DELETE":
			return r("DELETE /session", s.hSessionDestroy, true, false)
		}
	case len(segs) == 2 && segs[0] == "session" && segs[1] == "new" && m == "GET":
		return r("GET /session/new", s.hLoginPage, false, false)
	case len(segs) == 1 && segs[0] == "session_status" && m == "GET":
		return r("GET /session_status", s.hSessionShow, true, false)
	case len(segs) == 1 && segs[0] == "logout" && m == "GET":
		return r("GET /logout", s.hSessionDestroy, true, false)

	case len(segs) == 1 && segs[0] == "userfiles":
		switch m {
		case "GET":
			return r("GET /userfiles", s.hUserfilesIndex, true, false)
		case "POST":
			return r("POST /userfiles", s.hUpload, true, false)
		}
	case len(segs) == 2 && segs[0] == "userfiles":
		switch {
		case segs[1] == "delete_files" && m == "DELETE":
			return r("DELETE /userfiles/delete_files", s.hDeleteFiles, true, false)
		case segs[1] == "change_provider" && m == "POST":
			return r("POST /userfiles/change_provider", s.hChangeProvider, true, false)
		case segs[1] == "compress" && m == "POST":
			return r("POST /userfiles/compress", s.hCompress, true, false)
		case segs[1] == "uncompress" && m == "POST":
			return r("POST /userfiles/uncompress", s.hUncompress, true, false)
		case segs[1] == "sync_multiple" && m == "POST":
			return r("POST /userfiles/sync_multiple", s.hSyncMultiple, true, false)
		case segs[1] == "download" && (m == "POST" || m == "GET"):
			return r(m+" /userfiles/download", s.hDownload, true, true)
		case segs[1] == "detect_file_type" && m == "POST":
			// POST only (BrainPortal/config/routes.rb): a GET is a show
			// of id "detect_file_type", answered 404 below.
			return r("POST /userfiles/detect_file_type", s.hDetectFileType, true, false)
		}
		// Anything else is /userfiles/:id (so GET /userfiles/compress is a
		// show of id "compress", a 404 JSON, as in Rails).
		id = segs[1]
		switch m {
		case "GET":
			return r("GET /userfiles/:id", s.hUserfileShow, true, false)
		case "PUT", "PATCH":
			return r(m+" /userfiles/:id", s.hUserfileUpdate, true, false)
		}
		// No DELETE /userfiles/:id route (§0).
	case len(segs) == 3 && segs[0] == "userfiles" && m == "GET":
		id = segs[1]
		switch segs[2] {
		case "content":
			return r("GET /userfiles/:id/content", s.hContent, true, true)
		case "display":
			return r("GET /userfiles/:id/display", s.hDisplay, true, false)
		}

	case len(segs) == 1 && segs[0] == "data_providers" && m == "GET":
		return r("GET /data_providers", s.hProvidersIndex, true, false)
	case len(segs) == 2 && segs[0] == "data_providers" && m == "GET":
		id = segs[1]
		return r("GET /data_providers/:id", s.hProviderShow, true, false)
	case len(segs) == 3 && segs[0] == "data_providers" && segs[2] == "is_alive" && m == "GET":
		id = segs[1]
		return r("GET /data_providers/:id/is_alive", s.hProviderIsAlive, true, false)

	case len(segs) == 1 && segs[0] == "groups" && m == "GET":
		return r("GET /groups", s.hGroupsIndex, true, false)
	case len(segs) == 2 && segs[0] == "groups" && segs[1] == "switch" && m == "POST":
		return r("POST /groups/switch", s.hGroupsSwitch, true, false)
	case len(segs) == 2 && segs[0] == "groups" && m == "GET":
		id = segs[1]
		return r("GET /groups/:id", s.hGroupShow, true, false)

	case len(segs) == 2 && segs[0] == "users" && m == "GET":
		id = segs[1]
		return r("GET /users/:id", s.hUserShow, true, false)

	case len(segs) == 1 && segs[0] == "background_activities" && m == "GET":
		return r("GET /background_activities", s.hBACIndex, true, false)
	case len(segs) == 2 && segs[0] == "background_activities" && m == "GET":
		id = segs[1]
		return r("GET /background_activities/:id", s.hBACShow, true, false)
	}
	return route{}, "", "", "", false
}

// requestFormat reproduces Rails 5.0 format negotiation (§0): a path
// extension wins; no Accept, or a browser-like one (containing ",*/*"),
// means HTML; otherwise the first Accept type the action knows decides,
// "*/*" picks the first declared format (HTML), and only unknown types
// give "other" (UnknownFormat, answered 401).
func requestFormat(r *http.Request, ext string) string {
	if ext != "" {
		switch strings.ToLower(ext) {
		case "json":
			return "json"
		case "html":
			return "html"
		case "xml":
			return "xml"
		}
		return "other"
	}
	acc := r.Header.Get("Accept")
	if strings.TrimSpace(acc) == "" {
		return "html"
	}
	if strings.Contains(acc, ",") && strings.Contains(acc, "*/*") {
		return "html" // BROWSER_LIKE_ACCEPTS
	}
	for _, part := range strings.Split(acc, ",") {
		mt := strings.ToLower(strings.TrimSpace(strings.SplitN(part, ";", 2)[0]))
		switch mt {
		case "application/json", "text/x-json", "application/jsonrequest":
			return "json"
		case "text/html", "application/xhtml+xml", "*/*":
			return "html"
		case "application/xml", "text/xml", "application/x-xml":
			return "xml"
		}
	}
	return "other"
}

func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) string {
	rt, id, rest, ext, ok := s.match(r.Method, r.URL.Path)
	if !ok {
		s.countRoute("UNKNOWN")
		writeJSON(w, http.StatusNotFound, struct {
			Status int    `json:"status"`
			Error  string `json:"error"`
		}{404, "Not Found"})
		return "UNKNOWN"
	}
	s.countRoute(rt.key)
	c := &call{s: s, w: w, r: r, key: rt.key, id: id, rest: rest, format: requestFormat(r, ext)}
	c.ip, _, _ = net.SplitHostPort(r.RemoteAddr)

	s.mu.Lock()
	banned := s.st.banned[c.ip]
	s.mu.Unlock()
	if banned {
		c.head(http.StatusUnauthorized)
		return rt.key
	}
	if rt.key != "POST /userfiles" { // the upload streams its own multipart body
		if err := c.parseParams(); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": err.Error()})
			return rt.key
		}
	} else {
		c.p = r.URL.Query()
	}
	c.authenticate()
	if rt.auth && c.uid == 0 {
		c.accessDenied()
		return rt.key
	}
	if !rt.sendFile && c.format != "json" && rt.key != "GET /session/new" {
		c.nonJSON()
		return rt.key
	}
	rt.fn(c)
	return rt.key
}

// accessDenied is AuthenticatedSystem#access_denied: HTML requests are
// redirected to the login page, everything else gets an empty 401.
func (c *call) accessDenied() {
	if c.format == "html" {
		c.redirect("/session/new")
		return
	}
	c.head(http.StatusUnauthorized)
}

// nonJSON answers an API action asked for in a format the emulator does
// not render. HTML views are not emulated: a GET gets a placeholder page
// (the real server renders a page, status 200), any other method fails the
// CSRF check as Rails does for HTML (422). XML and unknown formats get the
// unknown_format handler's empty 401.
func (c *call) nonJSON() {
	if c.format == "html" {
		c.w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if c.r.Method == http.MethodGet || c.r.Method == http.MethodHead {
			c.w.WriteHeader(http.StatusOK)
			c.w.Write([]byte("<!DOCTYPE html>\n<html><head><title>CBRAIN</title></head><body><p>HTML views are not emulated by cbraintest; send Accept: application/json.</p></body></html>\n"))
			return
		}
		c.w.WriteHeader(http.StatusUnprocessableEntity)
		c.w.Write([]byte("<!DOCTYPE html>\n<html><head><title>The change you wanted was rejected (422)</title></head><body><h1>The change you wanted was rejected.</h1></body></html>\n"))
		return
	}
	c.head(http.StatusUnauthorized)
}

func (s *Server) hLoginPage(c *call) {
	c.w.Header().Set("Content-Type", "text/html; charset=utf-8")
	c.w.WriteHeader(http.StatusOK)
	c.w.Write([]byte("<!DOCTYPE html>\n<html><head><title>CBRAIN Login</title></head><body><form action=\"/session\" method=\"post\"><input name=\"login\"><input type=\"password\" name=\"password\"></form></body></html>\n"))
}
