package vrchattest

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

const apiPrefix = "/api/1"

// authLevel is what a route needs from the auth cookie.
type authLevel int

const (
	authNone    authLevel = iota // the handler decides (GET /auth/user)
	authSession                  // any session, 2FA pending or not (verify, logout)
	authFull                     // a session that passed 2FA if the user has it
)

// call is one API request being served.
type call struct {
	s   *Server
	w   http.ResponseWriter
	r   *http.Request
	key string // route pattern, e.g. "GET /file/{id}"

	id  string // {id}
	v   int    // {v}
	typ string // {type}: file, signature, delta; or the 2FA method

	sess *session // set when the route needed auth
}

type route struct {
	key  string
	fn   func(*call)
	auth authLevel
}

// match maps method and path (below /api/1) to a route. HEAD is served
// as GET (Express does the same; net/http drops the body).
func (s *Server) match(method, p string) (rt route, c call, ok bool) {
	if method == http.MethodHead {
		method = http.MethodGet
	}
	seg := strings.Split(strings.Trim(p, "/"), "/")
	n := len(seg)
	r := func(key string, fn func(*call), a authLevel) (route, call, bool) {
		return route{key: method + " " + key, fn: fn, auth: a}, c, true
	}
	version := func(x string) bool {
		v, err := strconv.Atoi(x)
		if err != nil || v < 0 || strconv.Itoa(v) != x {
			return false
		}
		c.v = v
		return true
	}
	fileType := func(x string) bool {
		c.typ = x
		return x == "file" || x == "signature" || x == "delta"
	}
	switch {
	case n == 2 && seg[0] == "auth" && seg[1] == "user" && method == "GET":
		return r("/auth/user", s.hAuthUser, authNone)
	case n == 1 && seg[0] == "auth" && method == "GET":
		return r("/auth", s.hAuthToken, authFull)
	case n == 4 && seg[0] == "auth" && seg[1] == "twofactorauth" && seg[3] == "verify" && method == "POST" &&
		(seg[2] == "totp" || seg[2] == "otp" || seg[2] == "emailotp"):
		c.typ = seg[2]
		return r("/auth/twofactorauth/"+seg[2]+"/verify", s.hVerify2FA, authSession)
	case n == 1 && seg[0] == "logout" && method == "PUT":
		return r("/logout", s.hLogout, authSession)

	case n == 1 && seg[0] == "files" && method == "GET":
		return r("/files", s.hListFiles, authFull)
	case n == 1 && seg[0] == "file" && method == "POST":
		return r("/file", s.hCreateFile, authFull)
	case n == 2 && seg[0] == "file" && seg[1] == "image" && method == "POST":
		return r("/file/image", s.hUploadImage, authFull)
	case n == 2 && seg[0] == "file" && seg[1] != "":
		c.id = seg[1]
		switch method {
		case "GET":
			return r("/file/{id}", s.hGetFile, authFull)
		case "POST":
			return r("/file/{id}", s.hCreateVersion, authFull)
		case "DELETE":
			return r("/file/{id}", s.hDeleteFile, authFull)
		}
	case n == 3 && seg[0] == "file" && version(seg[2]):
		c.id = seg[1]
		switch method {
		case "GET":
			c.typ = "file"
			return r("/file/{id}/{v}", s.hDownload, authFull)
		case "DELETE":
			return r("/file/{id}/{v}", s.hDeleteVersion, authFull)
		}
	case n == 4 && seg[0] == "file" && version(seg[2]) && fileType(seg[3]) && method == "GET":
		c.id = seg[1]
		return r("/file/{id}/{v}/{type}", s.hDownload, authFull)
	case n == 5 && seg[0] == "file" && version(seg[2]) && fileType(seg[3]):
		c.id = seg[1]
		switch {
		case seg[4] == "start" && method == "PUT":
			return r("/file/{id}/{v}/{type}/start", s.hStart, authFull)
		case seg[4] == "finish" && method == "PUT":
			return r("/file/{id}/{v}/{type}/finish", s.hFinish, authFull)
		case seg[4] == "status" && method == "GET":
			return r("/file/{id}/{v}/{type}/status", s.hUploadStatus, authFull)
		}
	case (n == 3 || n == 4) && seg[0] == "analysis" && version(seg[2]) && method == "GET":
		c.id = seg[1]
		if n == 3 {
			return r("/analysis/{id}/{v}", s.hAnalysis, authFull)
		}
		if seg[3] == "security" || seg[3] == "standard" {
			c.typ = seg[3]
			return r("/analysis/{id}/{v}/"+seg[3], s.hAnalysis, authFull)
		}
	}
	return route{}, call{}, false
}

// serveAPI is the API listener's handler: WAF, rate limit, routing, auth.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	key := "UNKNOWN"
	defer func() { s.logRequest("api", r, sw, key, start) }()

	var rt route
	var c call
	ok := false
	if p, found := strings.CutPrefix(r.URL.Path, apiPrefix+"/"); found {
		rt, c, ok = s.match(r.Method, p)
	}
	if ok {
		key = rt.key
	}
	s.countRoute(key)

	// The WAF is in front of everything (§1.1).
	if !validUserAgent(r.Header.Get("User-Agent")) {
		writeWAF(sw)
		return
	}
	if s.rateLimited() {
		writeRateLimited(sw)
		return
	}
	if !ok {
		writeUnknownRoute(sw)
		return
	}
	c.s, c.w, c.r, c.key = s, sw, r, rt.key
	if rt.auth != authNone {
		sess, verified := s.sessionOf(r)
		switch {
		case sess == nil:
			writeError(sw, http.StatusUnauthorized, msgMissingCredentials)
			return
		case rt.auth == authFull && !verified:
			writeError(sw, http.StatusUnauthorized, msgRequires2FA)
			return
		}
		c.sess = sess
	}
	rt.fn(&c)
}

func (c *call) json(status int, v any)       { writeJSON(c.w, status, v) }
func (c *call) error(status int, msg string) { writeError(c.w, status, msg) }
