package vrchattest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/filesmount/filesmount/internal/faults"
)

// rawGet is a GET whose body errors are returned, not fatal.
func rawGet(t *testing.T, u string) (*http.Response, []byte, error) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("User-Agent", testUA)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func TestFaultsOnAPI(t *testing.T) {
	s := newServer(t)
	_, auth := loggedIn(t, s)
	s.Faults().Add(faults.Rule{Kind: faults.Status, Status: 429, RetryAfter: "5", Route: "=GET /files", Count: 1},
		faults.Rule{Kind: faults.Status, Status: 502, Route: "/file/{id}", Count: 1})
	resp, b := do(t, "GET", s.URL()+"/files?n=10", nil, auth)
	mustBody(t, resp, b, 429, `{"error":{"message":"Too many requests, please slow down","status_code":429}}`)
	if resp.Header.Get("Retry-After") != "5" {
		t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
	resp, b = do(t, "GET", s.URL()+"/files?n=10", nil, auth)
	mustStatus(t, resp, b, 200)
	resp, b = do(t, "GET", s.URL()+"/file/file_nope", nil, auth)
	mustBody(t, resp, b, 502, `{"error":{"message":"Bad Gateway","status_code":502}}`)
	if st := s.Stats(); st.ByRoute["GET /files"] != 2 || st.ByRoute["GET /file/{id}"] != 1 {
		t.Fatalf("faulted requests must be counted: %+v", st.ByRoute)
	}
	if s.Faults().Total() != 2 {
		t.Fatalf("fault stats %v", s.Faults().Stats())
	}
}

func TestFaultsOnStorage(t *testing.T) {
	in := faults.New(1)
	s := newServer(t, func(o *Options) { o.Faults = in })
	uid, auth := loggedIn(t, s)
	content := bytes.Repeat([]byte("0123456789"), 10000)
	id := s.AddFile(FileSpec{OwnerID: uid, Name: "pic", Extension: "png", Versions: []VersionSpec{{Content: content}}})
	resp, b := do(t, "GET", s.URL()+"/file/"+id+"/1", nil, auth)
	mustStatus(t, resp, b, 302)
	loc := resp.Header.Get("Location")

	in.Add(faults.Rule{Kind: faults.Status, Status: 503, Route: "s3", Count: 1},
		faults.Rule{Kind: faults.Short, After: 4096, Route: "GET s3", Count: 1},
		faults.Rule{Kind: faults.Reset, After: 100, Route: "GET s3", Count: 1})
	resp, b, err := rawGet(t, loc)
	if err != nil || resp.StatusCode != 503 || s3Code(b) != "SlowDown" || resp.Header.Get("Server") != "AmazonS3" {
		t.Fatalf("503: %d %s %v", resp.StatusCode, b, err)
	}
	resp, b, err = rawGet(t, loc)
	if !errors.Is(err, io.ErrUnexpectedEOF) || resp.ContentLength != int64(len(content)) || len(b) != 4096 {
		t.Fatalf("short: length %d, read %d, %v", resp.ContentLength, len(b), err)
	}
	_, b, err = rawGet(t, loc)
	if err == nil || len(b) >= len(content) {
		t.Fatalf("reset: read %d, %v", len(b), err)
	}
	// The API listener was not touched; the rules are used up.
	if resp, b, err = rawGet(t, loc); err != nil || !bytes.Equal(b, content) {
		t.Fatalf("after the faults: %d %d bytes %v", resp.StatusCode, len(b), err)
	}
	if st := in.Stats(); st[faults.Status] != 1 || st[faults.Short] != 1 || st[faults.Reset] != 1 {
		t.Fatalf("fault stats %v", st)
	}
}

func TestCorruptDownloads(t *testing.T) {
	s := newServer(t)
	uid, auth := loggedIn(t, s)
	content := make([]byte, 10001)
	DeterministicContent(3, int64(len(content))).ReadAt(content, 0)
	id := s.AddFile(FileSpec{OwnerID: uid, Name: "pic", Extension: "png", Versions: []VersionSpec{{Content: content}}})
	s.SetCorruptDownloads(true)
	resp, b := fetch(t, s, "/file/"+id+"/1", auth)
	mustStatus(t, resp, b, 200)
	if len(b) != len(content) || resp.ContentLength != int64(len(content)) || md5sum(b) == md5sum(content) ||
		resp.Header.Get("ETag") != fmt.Sprintf(`"%x"`, md5sum(content)) {
		t.Fatalf("corrupt: %d bytes, ETag %q", len(b), resp.Header.Get("ETag"))
	}
	if b[5000] == content[5000] || !bytes.Equal(b[:5000], content[:5000]) || !bytes.Equal(b[5001:], content[5001:]) {
		t.Fatal("exactly the middle byte must differ")
	}
	resp, b = fetch(t, s, "/file/"+id+"/1", auth, header("Range", "bytes=4999-5001"))
	if mustStatus(t, resp, b, 206); b[0] != content[4999] || b[1] == content[5000] || b[2] != content[5001] {
		t.Fatalf("range: %x vs %x", b, content[4999:5002])
	}
	s.SetCorruptDownloads(false)
	if resp, b = fetch(t, s, "/file/"+id+"/1", auth); !bytes.Equal(b, content) {
		t.Fatal("knob off: bytes differ")
	}
}

func TestWrongETag(t *testing.T) {
	const part = 256 << 10
	s := newServer(t, func(o *Options) { o.MultipartThreshold = 512 << 10; o.MinPartSize = part })
	_, auth := loggedIn(t, s)
	content := make([]byte, 2*part+10)
	DeterministicContent(5, int64(len(content))).ReadAt(content, 0)
	id, _ := newVersion(t, s, auth, "application/x-avatar", "vrca", content, []byte("sig"))
	base := "/file/" + id + "/1/file"
	s.SetWrongETag(true)
	var etags []string
	for i, c := range [][]byte{content[:part], content[part:]} {
		resp, b := put(t, start(t, s, auth, fmt.Sprintf("%s/start?partNumber=%d", base, i+1)), c)
		mustStatus(t, resp, b, 200)
		et := resp.Header.Get("ETag")
		if et == fmt.Sprintf(`"%x"`, md5sum(c)) || len(et) != 34 {
			t.Fatalf("part %d: ETag %q should be well-formed but wrong", i+1, et)
		}
		etags = append(etags, strings.Trim(et, `"`))
	}
	resp, b := do(t, "PUT", s.URL()+base+"/finish", jsonBody(fmt.Sprintf(`{"etags":[%q,%q]}`, etags[0], etags[1])), auth)
	if mustStatus(t, resp, b, 400); !strings.Contains(string(b), "InvalidPart") {
		t.Fatalf("finish: %s", b)
	}
	// The bytes were stored right: the real ETags finish the upload.
	s.SetWrongETag(false)
	resp, b = do(t, "PUT", s.URL()+base+"/finish",
		jsonBody(fmt.Sprintf(`{"etags":["%x","%x"]}`, md5sum(content[:part]), md5sum(content[part:]))), auth)
	mustStatus(t, resp, b, 200)
}

func TestVersionsStayQueued(t *testing.T) {
	s := newServer(t)
	_, auth := loggedIn(t, s)
	content, sig := PNG(8, 8, 1), []byte("sig")
	id, _ := newVersion(t, s, auth, "image/png", "png", content, sig)
	s.SetVersionsStayQueued(true)
	for _, p := range []struct {
		kind, ct string
		body     []byte
	}{{"file", "image/png", content}, {"signature", "application/x-rsync-signature", sig}} {
		u := start(t, s, auth, "/file/"+id+"/1/"+p.kind+"/start")
		resp, b := put(t, u, p.body, "Content-MD5", md5b64(p.body), "Content-Type", p.ct)
		mustStatus(t, resp, b, 200)
		resp, b = do(t, "PUT", s.URL()+"/file/"+id+"/1/"+p.kind+"/finish", nil, auth)
		mustStatus(t, resp, b, 200)
	}
	for i := range 5 {
		v := getFile(t, s, id, auth).Versions[1]
		if v.Status != "queued" || v.File.Status != "complete" || v.Signature.Status != "complete" {
			t.Fatalf("poll %d: version %q, parts %q %q", i, v.Status, v.File.Status, v.Signature.Status)
		}
	}
	resp, b := do(t, "GET", s.URL()+"/file/"+id+"/1", nil, auth)
	mustStatus(t, resp, b, 404) // not downloadable while queued
}
