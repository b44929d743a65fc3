package vrchattest

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// newVersion creates a File and a waiting version for file and sig.
func newVersion(t *testing.T, s *Server, auth reqOpt, mime, ext string, file, sig []byte) (id string, f apiFile) {
	t.Helper()
	resp, b := do(t, "POST", s.URL()+"/file", jsonBody(fmt.Sprintf(`{"name":"up","mimeType":%q,"extension":%q}`, mime, ext)), auth)
	mustStatus(t, resp, b, 200)
	id = decode[apiFile](t, b).ID
	body := fmt.Sprintf(`{"fileMd5":%q,"fileSizeInBytes":%d,"signatureMd5":%q,"signatureSizeInBytes":%d}`, md5b64(file), len(file), md5b64(sig), len(sig))
	resp, b = do(t, "POST", s.URL()+"/file/"+id, jsonBody(body), auth)
	mustStatus(t, resp, b, 200)
	return id, decode[apiFile](t, b)
}

func start(t *testing.T, s *Server, auth reqOpt, path string) string {
	t.Helper()
	resp, b := do(t, "PUT", s.URL()+path, nil, auth)
	mustStatus(t, resp, b, 200)
	u := decode[map[string]string](t, b)["url"]
	if !strings.HasPrefix(u, s.S3URL()+"/files.vrchat.cloud/") {
		t.Fatalf("start url %q", u)
	}
	return u
}

// put sends body to a pre-signed URL with optional headers (no cookies).
func put(t *testing.T, u string, body []byte, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	var opts []reqOpt
	for i := 0; i < len(hdr); i += 2 {
		opts = append(opts, header(hdr[i], hdr[i+1]))
	}
	return do(t, "PUT", u, bytes.NewReader(body), append(opts, func(r *http.Request) {
		if !containsHeader(hdr, "Content-Type") {
			r.Header.Del("Content-Type")
		}
	})...)
}

func containsHeader(hdr []string, k string) bool {
	for i := 0; i < len(hdr); i += 2 {
		if hdr[i] == k {
			return true
		}
	}
	return false
}

func s3Code(b []byte) string {
	_, after, _ := strings.Cut(string(b), "<Code>")
	code, _, _ := strings.Cut(after, "</Code>")
	return code
}

func TestSimpleUpload(t *testing.T) {
	s := newServer(t)
	_, auth := loggedIn(t, s)
	content, sig := PNG(32, 32, 1), []byte("rs\x016signature bytes")
	id, f := newVersion(t, s, auth, "image/png", "png", content, sig)
	if f.Versions[1].File.Category != "simple" {
		t.Fatalf("category %q", f.Versions[1].File.Category)
	}
	s.ResetStats()
	u := start(t, s, auth, "/file/"+id+"/1/file/start")
	md5h := md5b64(content)

	for _, tc := range []struct {
		hdr  []string
		code string
	}{
		{nil, "SignatureDoesNotMatch"},
		{[]string{"Content-MD5", md5h}, "SignatureDoesNotMatch"},
		{[]string{"Content-Type", "image/png"}, "SignatureDoesNotMatch"},
		{[]string{"Content-MD5", md5h, "Content-Type", "application/octet-stream"}, "SignatureDoesNotMatch"},
		{[]string{"Content-MD5", md5b64([]byte("other")), "Content-Type", "image/png"}, "SignatureDoesNotMatch"},
	} {
		resp, b := put(t, u, content, tc.hdr...)
		if mustStatus(t, resp, b, 403); s3Code(b) != tc.code {
			t.Fatalf("%v: %s", tc.hdr, b)
		}
	}
	// Right headers, wrong body: BadDigest.
	resp, b := put(t, u, append([]byte{}, content[:len(content)-1]...), "Content-MD5", md5h, "Content-Type", "image/png")
	if mustStatus(t, resp, b, 400); s3Code(b) != "BadDigest" {
		t.Fatalf("bad digest: %s", b)
	}
	// Finish before any upload.
	resp, b = do(t, "PUT", s.URL()+"/file/"+id+"/1/file/finish", nil, auth)
	mustStatus(t, resp, b, 400)

	resp, b = put(t, u, content, "Content-MD5", md5h, "Content-Type", "image/png")
	if mustStatus(t, resp, b, 200); resp.Header.Get("ETag") != fmt.Sprintf(`"%x"`, md5sum(content)) {
		t.Fatalf("ETag %q", resp.Header.Get("ETag"))
	}
	resp, b = do(t, "PUT", s.URL()+"/file/"+id+"/1/file/finish", nil, auth) // the SDK: no body
	mustStatus(t, resp, b, 200)
	f = decode[apiFile](t, b)
	if f.Versions[1].File.Status != "complete" || f.Versions[1].Status != "waiting" {
		t.Fatalf("after file finish: %s", b)
	}
	resp, b = do(t, "PUT", s.URL()+"/file/"+id+"/1/file/start", nil, auth)
	mustBody(t, resp, b, 400, `{"error":{"message":"Cannot upload against a complete version entry. Create a new version of this file before uploading.","status_code":400}}`)

	// The signature, VRCX-style (start with {}, finish with numbers).
	resp, b = do(t, "PUT", s.URL()+"/file/"+id+"/1/signature/start", jsonBody(`{}`), auth)
	mustStatus(t, resp, b, 200)
	su := decode[map[string]string](t, b)["url"]
	resp, b = put(t, su, sig, "Content-MD5", md5b64(sig), "Content-Type", "image/png")
	mustStatus(t, resp, b, 403)
	resp, b = put(t, su, sig, "Content-MD5", md5b64(sig), "Content-Type", "application/x-rsync-signature")
	mustStatus(t, resp, b, 200)
	resp, b = do(t, "PUT", s.URL()+"/file/"+id+"/1/signature/finish", jsonBody(`{"maxParts":0,"nextPartNumber":0}`), auth)
	mustStatus(t, resp, b, 200)
	if f := decode[apiFile](t, b); f.Versions[1].Status != "complete" || f.Versions[1].Signature.Status != "complete" {
		t.Fatalf("after signature finish: %s", b)
	}
	resp, b = fetch(t, s, "/file/"+id+"/1", auth)
	if mustStatus(t, resp, b, 200); !bytes.Equal(b, content) {
		t.Fatal("downloaded bytes differ")
	}
	if st := s.Stats(); st.ByRoute["PUT s3"] != 9 || st.ByRoute["PUT /file/{id}/{v}/{type}/finish"] != 3 || st.CookiesSeenOnS3 != 0 {
		t.Fatalf("stats %+v", st)
	}

	// A chunked PUT (no Content-Length) is refused like S3 does.
	id2, _ := newVersion(t, s, auth, "image/png", "png", content, sig)
	u2 := start(t, s, auth, "/file/"+id2+"/1/file/start")
	req, _ := http.NewRequest("PUT", u2, io.NopCloser(bytes.NewReader(content)))
	req.Header.Set("Content-MD5", md5h)
	req.Header.Set("Content-Type", "image/png")
	r2, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != 411 {
		t.Fatalf("chunked PUT: %d", r2.StatusCode)
	}
}

func TestSimpleFinishChecksDeclared(t *testing.T) {
	s := newServer(t)
	_, auth := loggedIn(t, s)
	// Declared md5 "dGVzdA==" (base64 "test", 4 bytes: not an MD5) is
	// accepted by POST /file/{id}, but S3 refuses it as Content-MD5.
	resp, b := do(t, "POST", s.URL()+"/file", jsonBody(`{"name":"x","mimeType":"image/png","extension":"png"}`), auth)
	id := decode[apiFile](t, b).ID
	resp, b = do(t, "POST", s.URL()+"/file/"+id, jsonBody(`{"fileMd5":"dGVzdA==","fileSizeInBytes":4,"signatureMd5":"dGVzdA==","signatureSizeInBytes":4}`), auth)
	mustStatus(t, resp, b, 200)
	u := start(t, s, auth, "/file/"+id+"/1/file/start")
	resp, b = put(t, u, []byte("test"), "Content-MD5", "dGVzdA==", "Content-Type", "image/png")
	if mustStatus(t, resp, b, 400); s3Code(b) != "InvalidDigest" {
		t.Fatalf("%s", b)
	}
	// Declared size differs from the uploaded one: finish says so.
	content := []byte("actual content")
	resp, b = do(t, "POST", s.URL()+"/file/"+id, jsonBody(fmt.Sprintf(`{"fileMd5":%q,"fileSizeInBytes":99,"signatureMd5":"dGVzdA==","signatureSizeInBytes":4}`, md5b64(content))), auth)
	mustStatus(t, resp, b, 200)
	u = start(t, s, auth, "/file/"+id+"/2/file/start")
	resp, b = put(t, u, content, "Content-MD5", md5b64(content), "Content-Type", "image/png")
	mustStatus(t, resp, b, 200)
	resp, b = do(t, "PUT", s.URL()+"/file/"+id+"/2/file/finish", nil, auth)
	if mustStatus(t, resp, b, 400); !strings.Contains(string(b), "does not match the declared size 99") {
		t.Fatalf("%s", b)
	}
}

func TestFinishVariants(t *testing.T) {
	s := newServer(t)
	_, auth := loggedIn(t, s)
	for _, body := range []string{"", `{}`, `{"maxParts":0,"nextPartNumber":0}`, `{"maxParts":"0","nextPartNumber":"0"}`, `{"etags":["x"],"maxParts":"0","nextPartNumber":"0"}`} {
		content, sig := []byte("content "+body), []byte("sig")
		id, _ := newVersion(t, s, auth, "application/x-avatar", ".vrca", content, sig)
		u := start(t, s, auth, "/file/"+id+"/1/file/start")
		resp, b := put(t, u, content, "Content-MD5", md5b64(content), "Content-Type", "application/x-avatar")
		mustStatus(t, resp, b, 200)
		var rd io.Reader
		if body != "" {
			rd = jsonBody(body)
		}
		resp, b = do(t, "PUT", s.URL()+"/file/"+id+"/1/file/finish", rd, auth)
		if mustStatus(t, resp, b, 200); decode[apiFile](t, b).Versions[1].File.Status != "complete" {
			t.Fatalf("%q: %s", body, b)
		}
	}
	id, _ := newVersion(t, s, auth, "image/png", "png", []byte("a"), []byte("b"))
	for _, body := range []string{`not json`, `[1]`, `{"etags":"x"}`} {
		resp, b := do(t, "PUT", s.URL()+"/file/"+id+"/1/file/finish", jsonBody(body), auth)
		mustStatus(t, resp, b, 400)
	}
}

func TestMultipartUpload(t *testing.T) {
	const part = 256 << 10
	s := newServer(t, func(o *Options) { o.MultipartThreshold = 512 << 10; o.MinPartSize = part; o.QueuedPolls = 2 })
	_, auth := loggedIn(t, s)
	content := make([]byte, 3*part+1234) // parts: part, part, part+1234
	DeterministicContent(7, int64(len(content))).ReadAt(content, 0)
	sig := []byte("small signature")
	id, f := newVersion(t, s, auth, "application/x-avatar", "vrca", content, sig)
	if f.Versions[1].File.Category != "multipart" || f.Versions[1].Signature.Category != "simple" {
		t.Fatalf("categories: %s", f.Versions[1].File.Category)
	}
	base := "/file/" + id + "/1/file"
	resp, b := do(t, "GET", s.URL()+base+"/status", nil, auth)
	mustStatus(t, resp, b, 200)
	if st := decode[uploadStatus](t, b); st.NextPartNumber != 0 || st.MaxParts != 1000 || len(st.Etags) != 0 || st.FileName != f.Versions[1].File.FileName {
		t.Fatalf("status %s", b)
	}
	chunks := [][]byte{content[:part], content[part : 2*part], content[2*part:]}
	var etags []string
	for i, c := range chunks[:2] {
		u := start(t, s, auth, fmt.Sprintf("%s/start?partNumber=%d", base, i+1))
		pu, _ := url.Parse(u)
		if pu.Query().Get("partNumber") != fmt.Sprint(i+1) || pu.Query().Get("uploadId") == "" {
			t.Fatalf("part url %s", u)
		}
		resp, b := put(t, u, c, "Content-MD5", md5b64(c)) // parts must not carry it
		if mustStatus(t, resp, b, 403); s3Code(b) != "SignatureDoesNotMatch" {
			t.Fatalf("%s", b)
		}
		resp, b = put(t, u, c, "Content-Type", "application/x-avatar")
		mustStatus(t, resp, b, 403)
		resp, b = put(t, u, c)
		mustStatus(t, resp, b, 200)
		et := resp.Header.Get("ETag")
		if et != fmt.Sprintf(`"%x"`, md5sum(c)) {
			t.Fatalf("ETag %q", et)
		}
		etags = append(etags, strings.Trim(et, `"`))
	}
	// Resume: status reports the stored parts.
	resp, b = do(t, "GET", s.URL()+base+"/status", nil, auth)
	mustStatus(t, resp, b, 200)
	st := decode[uploadStatus](t, b)
	if st.NextPartNumber != 2 || len(st.Etags) != 2 || st.Etags[1] != etags[1] || st.UploadID == "" {
		t.Fatalf("status %s", b)
	}
	u := start(t, s, auth, base+"/start?partNumber=3")
	resp, b = put(t, u, chunks[2])
	mustStatus(t, resp, b, 200)
	etags = append(etags, strings.Trim(resp.Header.Get("ETag"), `"`))

	for _, bad := range []string{
		``, `{"maxParts":0,"nextPartNumber":0}`, `{"etags":[]}`,
		fmt.Sprintf(`{"etags":[%q,%q]}`, etags[1], etags[0]),
		fmt.Sprintf(`{"etags":[%q,%q,%q,"0123"]}`, etags[0], etags[1], etags[2]),
	} {
		var rd io.Reader
		if bad != "" {
			rd = jsonBody(bad)
		}
		resp, b := do(t, "PUT", s.URL()+base+"/finish", rd, auth)
		mustStatus(t, resp, b, 400)
	}
	resp, b = do(t, "PUT", s.URL()+base+"/finish", jsonBody(fmt.Sprintf(`{"etags":["%s","\"%s\"","%s"],"maxParts":"0","nextPartNumber":"0"}`, etags[0], etags[1], etags[2])), auth)
	mustStatus(t, resp, b, 200)
	f = decode[apiFile](t, b)
	if f.Versions[1].File.Status != "complete" || f.Versions[1].Status != "waiting" {
		t.Fatalf("after finish: %s", b)
	}
	resp, b = do(t, "GET", s.URL()+base+"/status", nil, auth)
	mustStatus(t, resp, b, 504) // the live server times out

	// Signature, then the version is "queued" for QueuedPolls GETs.
	su := start(t, s, auth, "/file/"+id+"/1/signature/start")
	resp, b = put(t, su, sig, "Content-MD5", md5b64(sig), "Content-Type", "application/x-rsync-signature")
	mustStatus(t, resp, b, 200)
	resp, b = do(t, "PUT", s.URL()+"/file/"+id+"/1/signature/finish", nil, auth)
	if mustStatus(t, resp, b, 200); decode[apiFile](t, b).Versions[1].Status != "queued" {
		t.Fatalf("after both: %s", b)
	}
	for i, want := range []string{"queued", "queued", "complete"} {
		if got := getFile(t, s, id, auth).Versions[1].Status; got != want {
			t.Fatalf("poll %d: %q, want %q", i, got, want)
		}
	}
	resp, b = fetch(t, s, "/file/"+id+"/1", auth)
	if mustStatus(t, resp, b, 200); !bytes.Equal(b, content) || resp.Header.Get("ETag") == "" || !strings.HasSuffix(resp.Header.Get("ETag"), `-3"`) {
		t.Fatalf("download: %d bytes, ETag %q", len(b), resp.Header.Get("ETag"))
	}
}

func TestMultipartRules(t *testing.T) {
	const part = 64 << 10
	s := newServer(t, func(o *Options) { o.MultipartThreshold = 100; o.MinPartSize = part })
	_, auth := loggedIn(t, s)
	content := make([]byte, 2*part)
	DeterministicContent(9, int64(len(content))).ReadAt(content, 0)
	id, _ := newVersion(t, s, auth, "application/x-world", "vrcw", content, []byte("sig"))
	base := "/file/" + id + "/1/file"
	// Too small a first part.
	var etags []string
	for i, c := range [][]byte{content[:100], content[100:]} {
		resp, b := put(t, start(t, s, auth, fmt.Sprintf("%s/start?partNumber=%d", base, i+1)), c)
		mustStatus(t, resp, b, 200)
		etags = append(etags, strings.Trim(resp.Header.Get("ETag"), `"`))
	}
	resp, b := do(t, "PUT", s.URL()+base+"/finish", jsonBody(fmt.Sprintf(`{"etags":[%q,%q]}`, etags[0], etags[1])), auth)
	if mustStatus(t, resp, b, 400); !strings.Contains(string(b), "EntityTooSmall") {
		t.Fatalf("%s", b)
	}
	// Re-upload part 1 at full size (part 2 is then wrong: md5 mismatch at finish).
	resp, b = put(t, start(t, s, auth, base+"/start?partNumber=1"), content[:part])
	mustStatus(t, resp, b, 200)
	e1 := strings.Trim(resp.Header.Get("ETag"), `"`)
	resp, b = do(t, "PUT", s.URL()+base+"/finish", jsonBody(fmt.Sprintf(`{"etags":[%q,%q]}`, e1, etags[1])), auth)
	if mustStatus(t, resp, b, 400); !strings.Contains(string(b), "does not match the declared") {
		t.Fatalf("%s", b)
	}
	// The upload was consumed: a fresh start gives a new uploadId; the old one is gone.
	u := start(t, s, auth, base+"/start?partNumber=1")
	resp, b = put(t, u, content[:part])
	mustStatus(t, resp, b, 200)
	e1 = strings.Trim(resp.Header.Get("ETag"), `"`)
	resp, b = put(t, start(t, s, auth, base+"/start?partNumber=2"), content[part:])
	mustStatus(t, resp, b, 200)
	e2 := strings.Trim(resp.Header.Get("ETag"), `"`)
	resp, b = do(t, "PUT", s.URL()+base+"/finish", jsonBody(fmt.Sprintf(`{"etags":[%q,%q]}`, e1, e2)), auth)
	mustStatus(t, resp, b, 200)
	resp, b = put(t, u, content[:part])
	if mustStatus(t, resp, b, 404); s3Code(b) != "NoSuchUpload" {
		t.Fatalf("%s", b)
	}
}

func TestImageUpload(t *testing.T) {
	s := newServer(t)
	_, auth := loggedIn(t, s)
	img := PNG(40, 30, 3)
	form := func(content []byte, fields ...string) (io.Reader, string) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for i := 0; i < len(fields); i += 2 {
			mw.WriteField(fields[i], fields[i+1])
		}
		fw, _ := mw.CreateFormFile("file", "blob")
		fw.Write(content)
		mw.Close()
		return &buf, mw.FormDataContentType()
	}
	body, ct := form(img, "tag", "gallery", "maskTag", "circle")
	resp, b := do(t, "POST", s.URL()+"/file/image", body, auth, header("Content-Type", ct))
	mustStatus(t, resp, b, 200)
	f := decode[apiFile](t, b)
	if len(f.Tags) != 1 || f.Tags[0] != "gallery" || f.MimeType != "image/png" || f.Extension != ".png" || f.MaskTag != "circle" ||
		len(f.Versions) != 2 || f.Versions[1].Status != "complete" || f.Versions[1].Signature != nil ||
		f.Versions[1].File.MD5 != "" || f.Versions[1].File.Category != "simple" || f.Versions[1].File.SizeInBytes != int64(len(img)) {
		t.Fatalf("image File: %s", b)
	}
	if strings.Contains(string(b), `"md5"`) {
		t.Fatalf("md5 must be absent: %s", b)
	}
	resp, b = fetch(t, s, "/file/"+f.ID+"/1/file", auth)
	if mustStatus(t, resp, b, 200); !bytes.Equal(b, img) {
		t.Fatal("image bytes differ")
	}
	resp, b = do(t, "GET", s.URL()+"/files?tag=gallery", nil, auth)
	if mustStatus(t, resp, b, 200); len(decode[[]apiFile](t, b)) != 1 {
		t.Fatalf("%s", b)
	}
	body, ct = form([]byte("not an image"), "tag", "icon")
	resp, b = do(t, "POST", s.URL()+"/file/image", body, auth, header("Content-Type", ct))
	mustBody(t, resp, b, 400, `{"error":{"message":"You must upload a valid image!","status_code":400}}`)
	body, ct = form(img)
	resp, b = do(t, "POST", s.URL()+"/file/image", body, auth, header("Content-Type", ct))
	mustStatus(t, resp, b, 400)
}

func TestAnalysis(t *testing.T) {
	s := newServer(t)
	uid, auth := loggedIn(t, s)
	id := s.AddFile(FileSpec{OwnerID: uid, Name: "av", Extension: ".vrca", Versions: []VersionSpec{{Content: []byte("a")}, {Content: []byte("bb")}}})
	s.SetAnalysis(id, 2, true)
	for _, sfx := range []string{"", "/security", "/standard"} {
		resp, b := do(t, "GET", s.URL()+"/analysis/"+id+"/1"+sfx, nil, auth)
		mustBody(t, resp, b, 202, `{"error":{"message":"Analysis not yet available","status_code":202}}`)
		resp, b = do(t, "GET", s.URL()+"/analysis/"+id+"/2"+sfx, nil, auth)
		mustStatus(t, resp, b, 200)
		a := decode[map[string]any](t, b)
		stats, _ := a["avatarStats"].(map[string]any)
		if a["success"] != true || a["fileSize"] != float64(2) || a["performanceRating"] == "" || a["encryptionKey"] == "" ||
			!createdAtRe.MatchString(a["created_at"].(string)) || a["uncompressedSize"] == nil || stats["raycastCount"] == nil {
			t.Fatalf("analysis %s", b)
		}
	}
	resp, b := do(t, "GET", s.URL()+"/analysis/"+id+"/1", nil)
	mustStatus(t, resp, b, 401)
}
