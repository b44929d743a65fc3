package vrchattest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
)

// API response helpers. The live API sends compact JSON (no trailing
// newline, no HTML escaping: it is Node's JSON.stringify) with these
// headers (§1.1).

// Messages that the live API JSON-quotes inside "message" (§8).
const (
	msgMissingCredentials = `"Missing Credentials"`
	msgInvalidLogin       = `"Invalid Username/Email or Password"`
	msgRequires2FA        = `"Requires Two-Factor Authentication"` // [INF] wire form not recorded
	msgWAF                = `"please identify yourself with a properly formatted user-agent containing application name, version and contact information. thank you!"`
	wafCode               = 13799
)

// Unquoted messages (§3, §6, §7).
const (
	msgFileNotFound        = "File not found"
	msgVersionTypeNotFound = "File version type not found"
	msgCannotUpload        = "Cannot upload against a complete version entry. Create a new version of this file before uploading."
	msgDeleteInitial       = "Cannot delete the initial version of the file, just delete the entire file record."
	msgTooManySessions     = "Created too many sessions for that user"
	msgAnalysisPending     = "Analysis not yet available"
	msgUnknownEndpoint     = "The endpoint you're looking for is not implemented by our system."
	msgRateLimited         = "Too many requests, please slow down"              // [INF] no generic 429 text recorded
	msgForbidden           = `"You do not have permission to modify this file"` // [INF]
)

func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err) // only our own types are encoded
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func setAPIHeaders(h http.Header) {
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "private, no-cache")
	h.Set("Vary", "Authorization, Accept-Encoding")
	h.Set("Server", "cloudflare")
	h.Set("X-Frame-Options", "deny")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, ok := v.([]byte)
	if !ok {
		b = marshal(v)
	}
	setAPIHeaders(w.Header())
	w.WriteHeader(status)
	w.Write(b)
}

type errBody struct {
	Message    string `json:"message"`
	StatusCode int    `json:"status_code"`
	WAFCode    int    `json:"waf_code,omitempty"`
}

// writeError writes the standard envelope {"error":{"message","status_code"}}.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]errBody{"error": {Message: msg, StatusCode: status}})
}

// writeWAF is the Cloudflare WAF's answer to a missing or generic
// User-Agent (§1.1).
func writeWAF(w http.ResponseWriter) {
	writeJSON(w, http.StatusForbidden, map[string]errBody{"error": {Message: msgWAF, StatusCode: 403, WAFCode: wafCode}})
}

// writeUnknownRoute is the flat 404 of an unknown route (§8).
func writeUnknownRoute(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, struct {
		Error      string `json:"error"`
		StatusCode int    `json:"status_code"`
	}{msgUnknownEndpoint, 404})
}

// validUserAgent: "AppName/Version contact" (§1.1). Generic agents
// (Go-http-client/1.1, curl/8.0) have no contact part and fail; the docs'
// own example contact "@example.com" is blocked too.
func validUserAgent(ua string) bool {
	ua = strings.TrimSpace(ua)
	prod, contact, ok := strings.Cut(ua, " ")
	if !ok || strings.TrimSpace(contact) == "" {
		return false
	}
	name, version, ok := strings.Cut(prod, "/")
	if !ok || name == "" || version == "" || strings.ContainsAny(version, "/") {
		return false
	}
	for _, r := range name + version {
		if r <= ' ' || r >= 0x7f {
			return false
		}
	}
	return !strings.Contains(strings.ToLower(contact), "@example.com")
}
