package vrchat

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/filesmount/filesmount/remote"
)

// vrchatAnswers seed every decoder below: VRChat's error shapes, S3's
// XML, and File lists with hostile names, extensions, versions and dates.
var vrchatAnswers = []string{
	``, `null`, `{}`, `[]`, `"x"`, `{`, "\xff", `<html>`, strings.Repeat(`{"error":`, 3000),
	`{"error":{"message":"\"Missing Credentials\"","status_code":401}}`,
	`{"error":{"message":"blocked","status_code":403,"waf_code":1}}`,
	`{"error":"flat message","status_code":500}`, `{"error":{"message":7}}`, `{"error":null}`, `{"error":""}`,
	`{"error":{"message":"\"unterminated","status_code":400}}`,
	`<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>`,
	`<Error><Message>`, `<Error></Message><Message>`, strings.Repeat("y", 400),
	`[{"id":"file_1","name":"../../etc/passwd","extension":"/../x","mimeType":"image/png","tags":["a/b",".."],` +
		`"versions":[{"version":0,"status":"complete"},{"version":1,"status":"complete","created_at":"2024-01-02T03:04:05.678Z",` +
		`"file":{"md5":"1B2M2Y8AsgTpgAmY7PhCfg==","sizeInBytes":10,"url":"http://evil/"}}]}]`,
	`{"id":"file_2","name":"a\u0000b","extension":".png","versions":[{"version":5,"status":"complete","file":{}},` +
		`{"version":-1,"status":"complete","file":{"sizeInBytes":-9}},{"version":2,"deleted":true,"status":"complete","file":{}},` +
		`{"version":3,"status":"waiting","file":{}},{"version":4,"status":"complete","created_at":"none","file":null}]}`,
	`{"id":"..","name":"","extension":" vrca ","mimeType":"application/x-avatar","versions":[{"version":9223372036854775807,` +
		`"status":"complete","created_at":"99999-01-01T00:00:00Z","file":{"md5":"not base64","sizeInBytes":1}}]}`,
	`{"id":"file_3","versions":[{"version":1,"status":"complete","created_at":"2024-13-45T99:99:99Z","file":{"md5":"AAAA"}}]}`,
	`{"id":"usr_1","username":"me","displayName":"Me","requiresTwoFactorAuth":["totp","otp"]}`, `{"verified":true}`,
}

func FuzzDecodeError(f *testing.F) {
	for _, s := range vrchatAnswers {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		msg, waf := decodeError(raw)
		if m2, w2 := decodeError(raw); m2 != msg || w2 != waf {
			t.Fatal("not deterministic")
		}
		if len(msg) > 3*len(raw)+3 {
			t.Fatalf("message of %d bytes from a %d-byte body", len(msg), len(raw))
		}
		// Through checkResponse, with a pre-signed storage URL: the
		// signature must not reach the error.
		for _, code := range []int{401, 403, 500} {
			u, _ := url.Parse("https://storage.example/obj?X-Amz-Signature=fuzzsig0secret&X-Amz-Credential=x")
			resp := &http.Response{StatusCode: code, Body: io.NopCloser(bytes.NewReader(raw)),
				Request: &http.Request{Method: http.MethodGet, URL: u}}
			err := checkResponse("download", resp)
			if err == nil || strings.Contains(err.Error(), "fuzzsig0secret") && !bytes.Contains(raw, []byte("fuzzsig0secret")) {
				t.Fatalf("checkResponse: %v", err)
			}
		}
	})
}

func FuzzDecodeFile(f *testing.F) {
	for _, s := range vrchatAnswers {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		resp := func() *http.Response {
			u, _ := url.Parse("https://api.example/api/1/file/x")
			return &http.Response{StatusCode: 200, Body: io.NopCloser(bytes.NewReader(raw)),
				Request: &http.Request{Method: http.MethodGet, URL: u}}
		}
		var file File
		if decodeJSON("show file", resp(), &file) == nil {
			checkFile(t, &file)
		}
		var files []File
		if decodeJSON("list files", resp(), &files) == nil {
			for i := range files {
				checkFile(t, &files[i])
			}
		}
		var u CurrentUser
		decodeJSON("check session", resp(), &u)
		md5Bytes(string(raw))
	})
}

// checkFile runs what the store does with a decoded File.
func checkFile(t *testing.T, f *File) {
	t.Helper()
	fileEntry(f)
	f.isAvatar()
	if ext := f.ext(); ext != "" && !strings.HasPrefix(ext, ".") {
		t.Fatalf("ext() = %q", ext)
	}
	for i := range f.Versions {
		v := &f.Versions[i]
		if v.Readable() {
			if v.Version <= 0 || v.Deleted || v.File == nil || v.Status != StatusComplete {
				t.Fatalf("Readable() of %+v", v)
			}
			e := versionEntry(f, v)
			if e.MD5 != nil && len(e.MD5) != 16 {
				t.Fatalf("md5 of %d bytes", len(e.MD5))
			}
		}
		v.Created()
		if v.File != nil {
			if b := md5Bytes(v.File.MD5); b != nil && (len(b) != 16 || base64.StdEncoding.EncodeToString(b) != v.File.MD5) {
				t.Fatalf("md5Bytes(%q) = %x", v.File.MD5, b)
			}
		}
	}
}

// apiServer answers /files (first page only: a full page repeated
// forever would never end the listing) and /file/<id> with the fuzz body.
type apiServer struct {
	mu   sync.Mutex
	body []byte
}

func (a *apiServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	body := a.body
	a.mu.Unlock()
	if r.URL.Query().Get("offset") != "" && r.URL.Query().Get("offset") != "0" {
		body = []byte("[]")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

// FuzzListing lists the Files, the tag views and a File's versions from
// an API that answers with the fuzz body, through the real client and store.
func FuzzListing(f *testing.F) {
	for _, s := range vrchatAnswers {
		f.Add([]byte(s))
	}
	api := &apiServer{}
	srv := httptest.NewServer(api)
	f.Cleanup(srv.Close)
	c, err := NewClient(Config{URL: srv.URL + "/api/1", UserAgent: "filesmount/fuzz test@example.org",
		Cookies: Cookies{Auth: "authcookie_fuzz0secret"},
		// Not paced: the fuzz body is always a 200, and each input makes
		// five requests.
		Throttle: ThrottleOptions{Rate: rate.Inf}})
	if err != nil {
		f.Fatal(err)
	}
	store := NewStore(c)
	f.Fuzz(func(t *testing.T, raw []byte) {
		api.mu.Lock()
		api.body = raw
		api.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, dir := range []remote.Entry{{ID: "/"}, {ID: "tags"}, {ID: "tag/gallery"}, {ID: "f/file_1"}, {ID: "tf/gallery/file_1"}} {
			entries, err := store.List(ctx, dir)
			if err != nil {
				if strings.Contains(err.Error(), "fuzz0secret") {
					t.Fatalf("List(%s) error shows the cookie: %v", dir.ID, err)
				}
				continue
			}
			if dir.ID == "/" && (len(entries) == 0 || entries[0].ID != "tags") {
				t.Fatalf("List(/) does not start with tags/: %v", entries)
			}
		}
	})
}
