package vrchattest

import (
	"bytes"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

var createdAtRe = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

func TestListFilesPaging(t *testing.T) {
	s := newServer(t)
	uid, auth := loggedIn(t, s)
	other := s.AddUser("other", "pw")
	s.AddFile(FileSpec{OwnerID: other, Name: "not mine", MimeType: "image/png", Extension: "png"})
	for i := 0; i < 250; i++ {
		var tags []string
		if i%10 == 0 {
			tags = []string{"gallery"}
		}
		s.AddFile(FileSpec{OwnerID: uid, Name: fmt.Sprintf("f%03d", i), MimeType: "image/png", Extension: "png", Tags: tags})
	}
	var names []string
	for _, want := range []int{100, 100, 50, 0} {
		resp, b := do(t, "GET", fmt.Sprintf("%s/files?n=100&offset=%d", s.URL(), len(names)), nil, auth)
		mustStatus(t, resp, b, 200)
		page := decode[[]apiFile](t, b)
		if len(page) != want {
			t.Fatalf("offset %d: %d files, want %d", len(names), len(page), want)
		}
		for _, f := range page {
			names = append(names, f.Name)
		}
	}
	for i, n := range names { // oldest first, only the caller's
		if n != fmt.Sprintf("f%03d", i) {
			t.Fatalf("names[%d] = %q", i, n)
		}
	}
	resp, b := do(t, "GET", s.URL()+"/files", nil, auth)
	if mustStatus(t, resp, b, 200); len(decode[[]apiFile](t, b)) != 60 {
		t.Fatalf("default n")
	}
	resp, b = do(t, "GET", s.URL()+"/files?tag=gallery&n=100", nil, auth)
	mustStatus(t, resp, b, 200)
	if g := decode[[]apiFile](t, b); len(g) != 25 || g[1].Name != "f010" || g[1].Tags[0] != "gallery" {
		t.Fatalf("tag filter: %d files", len(g))
	}
	for _, q := range []string{"n=101", "n=0", "n=x", "offset=-1", "tag="} {
		resp, b := do(t, "GET", s.URL()+"/files?"+q, nil, auth)
		mustStatus(t, resp, b, 400)
	}
}

func TestCreateFileAndVersion(t *testing.T) {
	s := newServer(t, func(o *Options) { o.MultipartThreshold = 1000 })
	uid, auth := loggedIn(t, s)
	resp, b := do(t, "POST", s.URL()+"/file", jsonBody(`{"extension":"A","mimeType":"image/jpeg","name":"string","tags":["gallery"]}`), auth)
	mustStatus(t, resp, b, 200)
	f := decode[apiFile](t, b)
	if !fileIDRe.MatchString(f.ID) || f.Extension != ".A" || f.OwnerID != uid || f.Name != "string" || len(f.Tags) != 1 || len(f.Versions) != 1 {
		t.Fatalf("created %s", b)
	}
	v0 := fmt.Sprintf(`"versions":[{"created_at":"%s","status":"complete","version":0}]`, f.Versions[0].CreatedAt)
	if !strings.Contains(string(b), v0) || !createdAtRe.MatchString(f.Versions[0].CreatedAt) {
		t.Fatalf("version 0: %s", b)
	}
	for _, body := range []string{`{"mimeType":"image/png","extension":"png"}`, `{"name":"x","mimeType":"image/nope","extension":"png"}`, `{"name":"x","mimeType":"image/png"}`, `nope`} {
		resp, b := do(t, "POST", s.URL()+"/file", jsonBody(body), auth)
		mustStatus(t, resp, b, 400)
	}

	// Versions: base64 MD5s required (not necessarily 16 bytes).
	for _, body := range []string{
		`{"signatureMd5":"not base64!","signatureSizeInBytes":4}`,
		`{"signatureMd5":"dGVzdA==","signatureSizeInBytes":4,"fileMd5":"%%%","fileSizeInBytes":4}`,
		`{"fileMd5":"dGVzdA==","fileSizeInBytes":4}`,
		`{"signatureMd5":"dGVzdA==","signatureSizeInBytes":4,"fileMd5":"dGVzdA=="}`,
	} {
		resp, b := do(t, "POST", s.URL()+"/file/"+f.ID, jsonBody(body), auth)
		mustStatus(t, resp, b, 400)
	}
	resp, b = do(t, "POST", s.URL()+"/file/"+f.ID, jsonBody(`{"signatureMd5":"dGVzdA==","signatureSizeInBytes":4,"fileMd5":"dGVzdA==","fileSizeInBytes":5000}`), auth)
	mustStatus(t, resp, b, 200)
	f = decode[apiFile](t, b)
	v := f.Versions[1]
	if len(f.Versions) != 2 || v.Version != 1 || v.Status != "waiting" || v.Delta != nil {
		t.Fatalf("version 1: %s", b)
	}
	want := fileData{Category: "multipart", FileName: "string." + f.ID + ".1.A", MD5: "dGVzdA==", SizeInBytes: 5000, Status: "waiting", URL: s.URL() + "/file/" + f.ID + "/1/file"}
	if *v.File != want {
		t.Fatalf("file part %+v, want %+v", *v.File, want)
	}
	want = fileData{Category: "simple", FileName: "string." + f.ID + ".1.A.signature", MD5: "dGVzdA==", SizeInBytes: 4, Status: "waiting", URL: s.URL() + "/file/" + f.ID + "/1/signature"}
	if *v.Signature != want {
		t.Fatalf("signature part %+v, want %+v", *v.Signature, want)
	}
	if !strings.Contains(string(b), `"uploadId":""`) {
		t.Fatalf("uploadId must be present and empty: %s", b)
	}

	// Unknown, malformed and foreign ids.
	resp, b = do(t, "GET", s.URL()+"/file/file_00000000-0000-4000-8000-000000000000", nil, auth)
	mustBody(t, resp, b, 404, `{"error":{"message":"File not found","status_code":404}}`)
	resp, b = do(t, "GET", s.URL()+"/file/undefined", nil, auth)
	mustBody(t, resp, b, 404, `{"error":{"message":"model undefined not found","status_code":404}}`)
	_, other := loggedIn(t, s)
	resp, b = do(t, "GET", s.URL()+"/file/"+f.ID, nil, other)
	mustStatus(t, resp, b, 200)
	resp, b = do(t, "DELETE", s.URL()+"/file/"+f.ID, nil, other)
	mustStatus(t, resp, b, 403)

	// DELETE /file returns the File; then 404.
	resp, b = do(t, "DELETE", s.URL()+"/file/"+f.ID, nil, auth)
	if mustStatus(t, resp, b, 200); decode[apiFile](t, b).ID != f.ID {
		t.Fatalf("delete returned %s", b)
	}
	resp, b = do(t, "GET", s.URL()+"/file/"+f.ID, nil, auth)
	mustStatus(t, resp, b, 404)
}

func TestDeleteVersionRules(t *testing.T) {
	s := newServer(t)
	uid, auth := loggedIn(t, s)
	id := s.AddFile(FileSpec{OwnerID: uid, Name: "x", MimeType: "image/png", Extension: "png",
		Versions: []VersionSpec{{Content: []byte("a")}, {Content: []byte("b")}, {Content: []byte("c")}}})
	resp, b := do(t, "DELETE", s.URL()+"/file/"+id+"/0", nil, auth)
	mustBody(t, resp, b, 400, `{"error":{"message":"Cannot delete the initial version of the file, just delete the entire file record.","status_code":400}}`)
	resp, b = do(t, "DELETE", s.URL()+"/file/"+id+"/1", nil, auth)
	mustBody(t, resp, b, 500, `{"error":{"message":"409 Cannot delete against anything but the latest version of this file: 1, 3","status_code":500}}`)
	resp, b = do(t, "DELETE", s.URL()+"/file/"+id+"/3", nil, auth)
	mustStatus(t, resp, b, 200)
	if f := decode[apiFile](t, b); len(f.Versions) != 3 || f.Versions[2].Version != 2 {
		t.Fatalf("after delete: %s", b)
	}
	resp, b = do(t, "GET", s.URL()+"/file/"+id+"/3", nil, auth)
	mustStatus(t, resp, b, 404)
	resp, b = do(t, "DELETE", s.URL()+"/file/"+id+"/2", nil, auth)
	mustStatus(t, resp, b, 200)
	// The next version reuses number 2, with new contents.
	if n := s.AddVersion(id, VersionSpec{Content: []byte("new")}); n != 2 {
		t.Fatalf("AddVersion = %d", n)
	}
	if resp, b := fetch(t, s, "/file/"+id+"/2", auth); resp.StatusCode != 200 || string(b) != "new" {
		t.Fatalf("reused version: %d %q", resp.StatusCode, b)
	}
}

func TestDownloads(t *testing.T) {
	s := newServer(t)
	uid, auth := loggedIn(t, s)
	content := bytes.Repeat([]byte("0123456789"), 1000)
	id := s.AddFile(FileSpec{OwnerID: uid, Name: "pic", MimeType: "image/png", Extension: "png", Versions: []VersionSpec{
		{Content: content},
		{Content: []byte("waiting"), Status: "waiting"},
	}})
	s.ResetStats()

	resp, b := do(t, "GET", s.URL()+"/file/"+id+"/1", nil, auth)
	mustStatus(t, resp, b, 302)
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), s.S3URL()+"/files.vrchat.cloud/pic."+id+".1.png?") {
		t.Fatalf("Location %q", resp.Header.Get("Location"))
	}
	api, _ := url.Parse(s.URL())
	if loc.Hostname() == api.Hostname() {
		t.Fatalf("object store on the API host %q", loc.Host)
	}
	q := loc.Query()
	if q.Get("AWSAccessKeyId") != "FAKE" || q.Get("Expires") == "" || q.Get("Signature") == "" {
		t.Fatalf("not pre-signed: %s", loc)
	}
	resp, b = do(t, "GET", loc.String(), nil)
	if mustStatus(t, resp, b, 200); !bytes.Equal(b, content) || resp.Header.Get("Content-Type") != "image/png" ||
		resp.Header.Get("ETag") != `"`+fmt.Sprintf("%x", md5sum(content))+`"` {
		t.Fatalf("object: %d bytes, headers %v", len(b), resp.Header)
	}
	resp, b = do(t, "GET", loc.String(), nil, header("Range", "bytes=10-19"))
	if mustStatus(t, resp, b, 206); string(b) != "0123456789" || resp.Header.Get("Content-Range") != "bytes 10-19/10000" {
		t.Fatalf("range: %q %q", b, resp.Header.Get("Content-Range"))
	}
	// Signature part.
	resp, b = fetch(t, s, "/file/"+id+"/1/signature", auth)
	if mustStatus(t, resp, b, 200); int64(len(b)) != sigSize(int64(len(content))) || !bytes.HasPrefix(b, rsSigHeader) ||
		resp.Header.Get("Content-Type") != "application/x-rsync-signature" {
		t.Fatalf("signature: %d bytes %q", len(b), resp.Header.Get("Content-Type"))
	}
	// Tampering, another method, an extra signed header, cookies.
	resp, b = do(t, "GET", strings.Replace(loc.String(), "Expires=", "Expires=1", 1), nil)
	mustStatus(t, resp, b, 403)
	resp, b = do(t, "HEAD", loc.String(), nil)
	mustStatus(t, resp, b, 403)
	resp, b = do(t, "GET", loc.String(), nil, header("Content-Type", "image/png"))
	if mustStatus(t, resp, b, 403); !bytes.Contains(b, []byte("<Code>SignatureDoesNotMatch</Code>")) {
		t.Fatalf("tampered: %s", b)
	}
	resp, b = do(t, "GET", loc.String(), nil, header("Cookie", "auth=leak"))
	mustStatus(t, resp, b, 200)
	st := s.Stats()
	if st.CookiesSeenOnS3 != 1 || st.DownloadBytes != int64(2*len(content)+10+int(sigSize(10000))) ||
		st.ByRoute["GET /file/{id}/{v}"] != 1 || st.ByRoute["GET /file/{id}/{v}/{type}"] != 1 || st.ByRoute["GET s3"] != 6 || st.ByRoute["HEAD s3"] != 1 {
		t.Fatalf("stats %+v", st)
	}

	// Not downloadable: v0, a waiting version, a missing part, past the end.
	for _, p := range []string{"/0", "/0/file", "/2", "/2/file", "/1/delta"} {
		resp, b := do(t, "GET", s.URL()+"/file/"+id+p, nil, auth)
		mustBody(t, resp, b, 404, `{"error":{"message":"File version type not found","status_code":404}}`)
	}
	resp, b = do(t, "GET", s.URL()+"/file/"+id+"/9", nil, auth)
	mustStatus(t, resp, b, 404)
	resp, b = do(t, "GET", s.URL()+"/file/"+id+"/1", nil)
	mustBody(t, resp, b, 401, missingCredsBody)

	// Expired URL.
	s.SetURLTTL(-time.Minute)
	resp, b = fetch(t, s, "/file/"+id+"/1", auth)
	if mustStatus(t, resp, b, 403); !bytes.Contains(b, []byte("<Code>AccessDenied</Code><Message>Request has expired</Message>")) ||
		resp.Header.Get("Content-Type") != "application/xml" {
		t.Fatalf("expired: %s", b)
	}
}

func TestVersionSpecs(t *testing.T) {
	s := newServer(t)
	uid, auth := loggedIn(t, s)
	content := []byte("hello")
	id := s.AddFile(FileSpec{OwnerID: uid, Name: "n", Extension: "vrca", Versions: []VersionSpec{
		{Content: content, BadMD5: true},
		{Content: content, NoMD5: true, NoSignature: true},
		{Content: content, Deleted: true},
		{Content: content, Status: "queued"},
		{Content: content, Status: "error"},
	}})
	f := getFile(t, s, id, auth)
	if f.MimeType != "application/x-avatar" || f.Extension != ".vrca" {
		t.Fatalf("mime %q ext %q", f.MimeType, f.Extension)
	}
	v := f.Versions
	if v[1].File.MD5 == md5b64(content) || v[1].File.MD5 == "" || v[1].Signature.MD5 == "" {
		t.Fatalf("BadMD5: %+v", v[1].File)
	}
	if v[2].File.MD5 != "" || v[2].Signature != nil {
		t.Fatalf("NoMD5: %+v", v[2])
	}
	if !v[3].Deleted || v[4].Status != "queued" || v[5].Status != "error" || v[5].File.Status != "complete" {
		t.Fatalf("statuses: %+v", v)
	}
	if resp, b := fetch(t, s, "/file/"+id+"/1", auth); resp.StatusCode != 200 || string(b) != "hello" {
		t.Fatalf("BadMD5 download %d", resp.StatusCode)
	}
	for _, n := range []string{"3", "4", "5"} {
		resp, b := do(t, "GET", s.URL()+"/file/"+id+"/"+n, nil, auth)
		mustStatus(t, resp, b, 404)
	}
}
