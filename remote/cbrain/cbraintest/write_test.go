package cbraintest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"
)

// upload posts a multipart form like cbrain-cli does.
func upload(t *testing.T, f *fixture, tok, filename string, content []byte, fields map[string]string) (*http.Response, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	if filename != "" {
		fw, _ := mw.CreateFormFile("upload_file", filename)
		fw.Write(content)
	}
	mw.Close()
	return do(t, "POST", f.u+"/userfiles", tok, "", func(r *http.Request) {
		r.Body = io.NopCloser(bytes.NewReader(buf.Bytes()))
		r.ContentLength = int64(buf.Len())
		r.Header.Set("Content-Type", mw.FormDataContentType())
	})
}

func findByName(t *testing.T, f *fixture, tok, name string, dp int) []userfileJSON {
	t.Helper()
	resp, b := do(t, "GET", fmt.Sprintf("%s/userfiles?name=%s&data_provider_id=%d", f.u, name, dp), tok, "")
	mustStatus(t, resp, b, 200)
	return decode[[]userfileJSON](t, b)
}

func TestUpload(t *testing.T) {
	s, err := New(Options{DataDir: t.TempDir(), UploadDelay: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	f := &fixture{s: s, u: s.URL()}
	f.user = s.AddUser("norm", "pw", false)
	f.tok = s.NewToken(f.user)
	f.dp = s.AddProvider("DP", f.user, ProviderOptions{})
	fields := map[string]string{"data_provider_id": fmt.Sprint(f.dp), "userfile[group_id]": "99"}

	resp, b := upload(t, f, f.tok, "dir/new.txt", []byte("uploaded!"), fields)
	mustStatus(t, resp, b, 201)
	if string(b) != `{"notice":"File Uploaded"}` {
		t.Fatalf("upload answer %s", b)
	}
	list := findByName(t, f, f.tok, "new.txt", f.dp)
	if len(list) != 1 || list[0].Size != nil || list[0].Type != "TextFile" || *list[0].NumFiles != 1 {
		t.Fatalf("just uploaded: %+v", list)
	}
	id := list[0].ID
	resp, b = do(t, "GET", fmt.Sprintf("%s/userfiles/%d/content", f.u, id), f.tok, "")
	mustStatus(t, resp, b, 404) // still being copied
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, b = do(t, "GET", fmt.Sprintf("%s/userfiles/%d", f.u, id), f.tok, "")
		if uf := decode[userfileJSON](t, b); uf.Size != nil {
			if *uf.Size != 9 {
				t.Fatalf("size %d", *uf.Size)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("size never set")
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, b = do(t, "GET", fmt.Sprintf("%s/userfiles/%d/content", f.u, id), f.tok, "")
	mustStatus(t, resp, b, 200)
	if string(b) != "uploaded!" {
		t.Fatalf("content %q", b)
	}

	// Duplicate: 422 with a "notice" key.
	resp, b = upload(t, f, f.tok, "new.txt", []byte("again"), fields)
	mustStatus(t, resp, b, 422)
	want := `{"notice":"File 'new.txt' could not be added.\nName has already been taken.\n\nNote: a Data Provider cannot have two files with the same name. It might help to rename the file before uploading it, or upload it to a different Data Provider.\n"}`
	if string(b) != want {
		t.Fatalf("duplicate answer %s", b)
	}
	resp, b = upload(t, f, f.tok, "bad name.txt", []byte("x"), fields)
	mustStatus(t, resp, b, 422)
	if !strings.Contains(string(b), `Name contains invalid characters.`) {
		t.Fatalf("illegal name answer %s", b)
	}
	// No userfile[...] at all: 500.
	resp, b = upload(t, f, f.tok, "other.txt", []byte("x"), map[string]string{"data_provider_id": fmt.Sprint(f.dp)})
	mustStatus(t, resp, b, 500)
	if string(b) != `{"error":"param is missing or the value is empty: userfile"}` {
		t.Fatalf("500 body %s", b)
	}
	// No file part: empty 422.
	resp, b = upload(t, f, f.tok, "", nil, fields)
	mustStatus(t, resp, b, 422)
	if len(b) != 0 {
		t.Fatalf("blank upload body %q", b)
	}
	// Quota: HTTP 200 with an error.
	s.SetQuotaExceeded(f.user, true)
	resp, b = upload(t, f, f.tok, "q.txt", []byte("x"), fields)
	mustStatus(t, resp, b, 200)
	if string(b) != `{"error":"Disk Quota Exceeded for user 'norm' on data provider 'DP'"}` {
		t.Fatalf("quota body %s", b)
	}
	s.SetQuotaExceeded(f.user, false)
	// Never completes.
	s.SetUploadNeverCompletes(true)
	resp, b = upload(t, f, f.tok, "stuck.bin", []byte("x"), fields)
	mustStatus(t, resp, b, 201)
	time.Sleep(400 * time.Millisecond)
	if l := findByName(t, f, f.tok, "stuck.bin", f.dp); len(l) != 1 || l[0].Size != nil {
		t.Fatalf("stuck upload %+v", l)
	}
}

func TestUpdate(t *testing.T) {
	f := newFixture(t)
	proj := f.s.AddGroup("P", "WorkGroup", f.user, f.other)
	tg := f.s.AddTag("t1", f.user)
	a := f.s.AddFile(FileSpec{Name: "a.txt", ProviderID: f.dp, OwnerID: f.user, GroupID: proj, TagIDs: []int{tg}, GroupWritable: true})
	f.s.AddFile(FileSpec{Name: "b.txt", ProviderID: f.dp, OwnerID: f.user})
	u := fmt.Sprintf("%s/userfiles/%d", f.u, a)
	get := func() userfileJSON {
		_, b := do(t, "GET", u, f.tok, "")
		return decode[userfileJSON](t, b)
	}
	resp, b := do(t, "PUT", u, f.tok, `{"userfile":{"description":"hi","name":"c.txt"},"tag_ids":[`+fmt.Sprint(tg)+`]}`)
	mustStatus(t, resp, b, 200)
	if len(b) != 0 {
		t.Fatalf("update body %q", b)
	}
	if g := get(); g.Name != "c.txt" || *g.Description != "hi" || len(g.TagIDs) != 1 {
		t.Fatalf("after update %+v", g)
	}
	// Rename conflicts, case-insensitive, counting the file itself.
	for _, n := range []string{"B.TXT", "C.txt"} {
		resp, b = do(t, "PATCH", u, f.tok, `{"userfile":{"name":"`+n+`"}}`)
		mustStatus(t, resp, b, 422)
		if string(b) != `{"name":["could not be changed on the storage provider. A file with that name likely already exists."]}` {
			t.Fatalf("conflict %s", b)
		}
	}
	resp, b = do(t, "PUT", u, f.tok, `{"userfile":{"name":"bad/name"}}`)
	mustStatus(t, resp, b, 422)
	if !strings.Contains(string(b), `"contains illegal characters."`) {
		t.Fatalf("illegal %s", b)
	}
	// No tag_ids: the caller's tags are cleared.
	if g := get(); len(g.TagIDs) != 0 {
		t.Fatalf("tags not cleared: %+v", g)
	}
	// Non-owner with write access (group_writable): silent no-op 200.
	resp, b = do(t, "PUT", u, f.otherTk, `{"userfile":{"name":"zzz.txt"}}`)
	mustStatus(t, resp, b, 200)
	if g := get(); g.Name != "c.txt" {
		t.Fatalf("non-owner renamed: %+v", g)
	}
	// Form encoding works too; read-only provider refuses renames with 400.
	resp, b = do(t, "PUT", u, f.tok, "userfile[hidden]=1")
	mustStatus(t, resp, b, 200)
	if g := get(); !g.Hidden {
		t.Fatalf("hidden not set")
	}
	ro := f.s.AddProvider("RO", 1, ProviderOptions{ReadOnly: true})
	r := f.s.AddFile(FileSpec{Name: "r.txt", ProviderID: ro, OwnerID: f.user})
	resp, b = do(t, "PUT", fmt.Sprintf("%s/userfiles/%d", f.u, r), f.tok, `{"userfile":{"name":"r2.txt"}}`)
	mustStatus(t, resp, b, 400)
	if string(b) != `{"error":"Error: provider RO is read_only."}` {
		t.Fatalf("read-only %s", b)
	}
}

func TestMultiOps(t *testing.T) {
	f := newFixture(t)
	dp2 := f.s.AddProvider("Second", 1, ProviderOptions{})
	a := f.s.AddFile(FileSpec{Name: "a.txt", ProviderID: f.dp, OwnerID: f.user, Content: []byte("aaaa")})
	b2 := f.s.AddFile(FileSpec{Name: "b.txt", ProviderID: f.dp, OwnerID: f.user, Content: []byte("bbbb")})
	coll := f.s.AddFile(FileSpec{Name: "Col", ProviderID: f.dp, OwnerID: f.user, Type: "FileCollection",
		Members: map[string][]byte{"x/y.txt": []byte("yy")}})
	theirs := f.s.AddFile(FileSpec{Name: "t.txt", ProviderID: f.dp, OwnerID: f.other})

	// Blank file_ids: 302.
	for _, p := range []string{"/userfiles/change_provider", "/userfiles/download"} {
		resp, b := do(t, "POST", f.u+p, f.tok, `{"file_ids":[]}`)
		mustStatus(t, resp, b, 302)
	}
	resp, b := do(t, "DELETE", f.u+"/userfiles/delete_files", f.tok, `{"file_ids":[]}`)
	mustStatus(t, resp, b, 302)
	resp, b = do(t, "DELETE", f.u+"/userfiles/delete_files", f.tok, fmt.Sprintf(`{"file_ids":[%d]}`, theirs))
	mustStatus(t, resp, b, 400)

	// Copy: new id in messages (an integer).
	resp, b = do(t, "POST", f.u+"/userfiles/change_provider", f.tok, fmt.Sprintf(`{"file_ids":[%d],"data_provider_id_for_mv_cp":%d,"copy":"1"}`, a, dp2))
	mustStatus(t, resp, b, 200)
	ans := decode[map[string]any](t, b)
	if ans["message"] != "Your files are being copied in the background.\n" {
		t.Fatalf("copy answer %s", b)
	}
	bac := waitBAC(t, f, f.tok, int(ans["background_activity_id"].(float64)))
	msgs := bac["messages"].([]any)
	if bac["status"] != "Completed" || len(msgs) != 1 {
		t.Fatalf("copy BAC %v", bac)
	}
	newID := int(msgs[0].(float64))
	resp, b = do(t, "GET", fmt.Sprintf("%s/userfiles/%d/content", f.u, newID), f.tok, "")
	mustStatus(t, resp, b, 200)
	if string(b) != "aaaa" || newID == a {
		t.Fatalf("copy content %q id %d", b, newID)
	}
	// Move b.txt and the collection: same ids. Then moving a.txt fails (name taken), unless crushed.
	resp, b = do(t, "POST", f.u+"/userfiles/change_provider", f.tok, fmt.Sprintf("file_ids[]=%d&file_ids[]=%d&file_ids[]=%d&data_provider_id_for_mv_cp=%d&move=1", b2, coll, a, dp2))
	mustStatus(t, resp, b, 200)
	bac = waitBAC(t, f, f.tok, int(decode[map[string]any](t, b)["background_activity_id"].(float64)))
	if bac["status"] != "PartiallyCompleted" || bac["num_failures"] != 1.0 {
		t.Fatalf("move BAC %v", bac)
	}
	resp, b = do(t, "GET", fmt.Sprintf("%s/userfiles/%d", f.u, b2), f.tok, "")
	if decode[userfileJSON](t, b).DataProviderID != dp2 {
		t.Fatalf("not moved: %s", b)
	}
	resp, b = do(t, "POST", f.u+"/userfiles/change_provider", f.tok, fmt.Sprintf(`{"file_ids":[%d],"data_provider_id_for_mv_cp":%d,"move":true,"crush_destination":"crush"}`, a, dp2))
	bac = waitBAC(t, f, f.tok, int(decode[map[string]any](t, b)["background_activity_id"].(float64)))
	if bac["status"] != "Completed" {
		t.Fatalf("crush move %v", bac)
	}

	// Compress: typo key, .gz rename, content gzipped; uncompress reverts.
	resp, b = do(t, "POST", f.u+"/userfiles/compress", f.tok, fmt.Sprintf(`{"file_ids":[%d,%d]}`, b2, coll))
	mustStatus(t, resp, b, 200)
	if !strings.Contains(string(b), `"backgroud_activity_id":`) || !strings.Contains(string(b), `"2 files being compressed in background.\n"`) {
		t.Fatalf("compress answer %s", b)
	}
	waitBAC(t, f, f.tok, int(decode[map[string]any](t, b)["backgroud_activity_id"].(float64)))
	resp, b = do(t, "GET", fmt.Sprintf("%s/userfiles/%d/content", f.u, b2), f.tok, "")
	mustStatus(t, resp, b, 200)
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if plain, _ := io.ReadAll(zr); string(plain) != "bbbb" || resp.Header.Get("Content-Disposition") != `attachment; filename="b.txt.gz"` {
		t.Fatalf("compressed %q %v", plain, resp.Header)
	}
	resp, b = do(t, "GET", fmt.Sprintf("%s/userfiles/%d", f.u, coll), f.tok, "")
	if uf := decode[userfileJSON](t, b); !uf.Archived || uf.Name != "Col" || *uf.NumFiles != 1 {
		t.Fatalf("archived coll %s", b)
	}
	resp, b = do(t, "POST", f.u+"/userfiles/uncompress", f.tok, fmt.Sprintf(`{"file_ids":[%d,%d]}`, b2, coll))
	waitBAC(t, f, f.tok, int(decode[map[string]any](t, b)["backgroud_activity_id"].(float64)))
	resp, b = do(t, "GET", fmt.Sprintf("%s/userfiles/%d/content?content_loader=collection_file&arguments=Col/x/y.txt", f.u, coll), f.tok, "")
	mustStatus(t, resp, b, 200)
	resp, b = do(t, "POST", f.u+"/userfiles/compress", f.tok, fmt.Sprintf(`{"file_ids":[%d]}`, theirs))
	if !strings.Contains(string(b), `"backgroud_activity_id":null`) {
		t.Fatalf("nothing to compress %s", b)
	}

	// Download: single file raw; collection as tar.gz; null size refused with 200.
	resp, b = do(t, "POST", f.u+"/userfiles/download", f.tok, fmt.Sprintf(`{"file_ids":[%d]}`, b2))
	mustStatus(t, resp, b, 200)
	if string(b) != "bbbb" {
		t.Fatalf("download %q", b)
	}
	resp, b = do(t, "POST", f.u+"/userfiles/download", f.tok, fmt.Sprintf(`{"file_ids":[%d,%d]}`, b2, coll))
	mustStatus(t, resp, b, 200)
	zr, err = gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, h.Name)
	}
	if strings.Join(names, ",") != "b.txt,Col/,Col/x/,Col/x/y.txt" {
		t.Fatalf("tar entries %v", names)
	}
	nul := f.s.AddFile(FileSpec{Name: "n.dat", ProviderID: f.dp, OwnerID: f.user, SizeNull: true})
	resp, b = do(t, "POST", f.u+"/userfiles/download", f.tok, fmt.Sprintf(`{"file_ids":[%d]}`, nul))
	mustStatus(t, resp, b, 200)
	if !strings.HasPrefix(string(b), `{"error":"Size of the file n.dat is not yet determined`) {
		t.Fatalf("null-size download %s", b)
	}
	resp, b = do(t, "POST", f.u+"/userfiles/download", f.tok, fmt.Sprintf(`{"file_ids":[%d]}`, theirs))
	mustStatus(t, resp, b, 302)

	// Delete: file visible until the BAC runs, then gone.
	resp, b = do(t, "DELETE", f.u+"/userfiles/delete_files", f.tok, fmt.Sprintf(`{"file_ids":[%d,%d]}`, b2, theirs))
	mustStatus(t, resp, b, 200)
	if got := strings.Join(keysInOrder(t, b), ","); got != "message,background_activity_id" {
		t.Fatalf("delete keys %s", got)
	}
	bac = waitBAC(t, f, f.tok, int(decode[map[string]any](t, b)["background_activity_id"].(float64)))
	if bac["status"] != "Completed" || len(bac["items"].([]any)) != 1 {
		t.Fatalf("delete BAC %v", bac)
	}
	resp, b = do(t, "GET", fmt.Sprintf("%s/userfiles/%d", f.u, b2), f.tok, "")
	mustStatus(t, resp, b, 404)

	resp, b = do(t, "POST", f.u+"/userfiles/detect_file_type", f.tok, `{"file_name":"x.json"}`)
	if string(b) != `{"type":"JsonFile"}` {
		t.Fatalf("detect %s", b)
	}
	// POST only (config/routes.rb): a GET is a show of that "id".
	resp, b = do(t, "GET", f.u+"/userfiles/detect_file_type?file_name=x.json", f.tok, "")
	mustStatus(t, resp, b, 404)
	if !strings.Contains(string(b), `"type":"object not found"`) {
		t.Fatalf("GET detect_file_type: %s", b)
	}
}
