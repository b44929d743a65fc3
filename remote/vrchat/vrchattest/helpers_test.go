package vrchattest

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// ---- helpers (plain net/http, not the product client) ----

const testUA = "filesmount-test/1.0 tests@lab.org"

// client never follows redirects, so tests see the 302s.
var client = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       5 * time.Minute,
}

func newServer(t *testing.T, opts ...func(*Options)) *Server {
	t.Helper()
	o := Options{DataDir: t.TempDir()}
	for _, f := range opts {
		f(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

type reqOpt func(*http.Request)

func header(k, v string) reqOpt { return func(r *http.Request) { r.Header.Set(k, v) } }
func noUA() reqOpt              { return func(r *http.Request) { r.Header.Del("User-Agent") } }

// cookies sends "auth" (and "twoFactorAuth" if not empty).
func cookies(auth, tfa string) reqOpt {
	return func(r *http.Request) {
		v := "auth=" + auth
		if tfa != "" {
			v += "; twoFactorAuth=" + tfa
		}
		r.Header.Set("Cookie", v)
	}
}

func basic(user, pass string) reqOpt {
	enc := func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") } // encodeURIComponent
	return header("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(enc(user)+":"+enc(pass))))
}

// do sends a request with the test User-Agent. A body starting with '{'
// is sent as JSON.
func do(t *testing.T, method, u string, body io.Reader, opts ...reqOpt) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("User-Agent", testUA)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, o := range opts {
		o(req)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func jsonBody(s string) io.Reader { return strings.NewReader(s) }

func mustStatus(t *testing.T, resp *http.Response, body []byte, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d; body %s", resp.Request.Method, resp.Request.URL, resp.StatusCode, want, body)
	}
}

func mustBody(t *testing.T, resp *http.Response, body []byte, status int, want string) {
	t.Helper()
	mustStatus(t, resp, body, status)
	if string(body) != want {
		t.Fatalf("%s %s: body\n %s\nwant\n %s", resp.Request.Method, resp.Request.URL, body, want)
	}
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

func md5b64(b []byte) string {
	h := md5.Sum(b)
	return base64.StdEncoding.EncodeToString(h[:])
}

// loggedIn creates a user without 2FA and a verified session.
func loggedIn(t *testing.T, s *Server) (uid string, opt reqOpt) {
	uid = s.AddUser("u"+newUUID()[:8], "pw")
	a, tfa := s.NewSession(uid)
	return uid, cookies(a, tfa)
}

// Client-side views of the JSON.
type fileData struct {
	Category    string `json:"category"`
	FileName    string `json:"fileName"`
	MD5         string `json:"md5"`
	SizeInBytes int64  `json:"sizeInBytes"`
	Status      string `json:"status"`
	UploadID    string `json:"uploadId"`
	URL         string `json:"url"`
}

type fileVersion struct {
	Version   int       `json:"version"`
	Status    string    `json:"status"`
	CreatedAt string    `json:"created_at"`
	Deleted   bool      `json:"deleted"`
	File      *fileData `json:"file"`
	Signature *fileData `json:"signature"`
	Delta     *fileData `json:"delta"`
}

type apiFile struct {
	ID        string        `json:"id"`
	Name      string        `json:"name"`
	OwnerID   string        `json:"ownerId"`
	MimeType  string        `json:"mimeType"`
	Extension string        `json:"extension"`
	Tags      []string      `json:"tags"`
	Versions  []fileVersion `json:"versions"`
	MaskTag   string        `json:"maskTag"`
}

func getFile(t *testing.T, s *Server, id string, auth reqOpt) apiFile {
	t.Helper()
	resp, b := do(t, "GET", s.URL()+"/file/"+id, nil, auth)
	mustStatus(t, resp, b, 200)
	return decode[apiFile](t, b)
}

// fetch follows one 302 from the API with a fresh cookie-less request, as
// a correct client does, and returns the object-store response.
func fetch(t *testing.T, s *Server, path string, auth reqOpt, opts ...reqOpt) (*http.Response, []byte) {
	t.Helper()
	resp, b := do(t, "GET", s.URL()+path, nil, auth)
	mustStatus(t, resp, b, http.StatusFound)
	return do(t, "GET", resp.Header.Get("Location"), nil, opts...)
}

func md5sum(b []byte) [16]byte { return md5.Sum(b) }
