package cbraintest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// ---- helpers (plain net/http, not the product client) ----

var client = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       2 * time.Minute,
}

// newServer plays the current release whatever FILESMOUNT_CBRAIN_RELEASE
// says: these tests check its wire format; release_test.go checks 7.0.0's.
func newServer(t *testing.T) *Server { return newServerOn(t, ReleaseCurrent) }

func newServerOn(t *testing.T, r Release) *Server {
	t.Helper()
	s, err := New(Options{DataDir: t.TempDir(), Release: r})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

type reqOpt func(*http.Request)

func withHeader(k, v string) reqOpt { return func(r *http.Request) { r.Header.Set(k, v) } }
func noAccept() reqOpt              { return func(r *http.Request) { r.Header.Del("Accept") } }

// do sends a request with Accept: application/json and a Bearer token (if
// any). A string body is sent as JSON if it starts with '{', else as a form.
func do(t *testing.T, method, u, token string, body string, opts ...reqOpt) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		if strings.HasPrefix(body, "{") {
			req.Header.Set("Content-Type", "application/json")
		} else {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
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

func mustStatus(t *testing.T, resp *http.Response, body []byte, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d; body %q", resp.Request.Method, resp.Request.URL, resp.StatusCode, want, body)
	}
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return v
}

// keysInOrder returns the top-level keys of a JSON object in wire order.
func keysInOrder(t *testing.T, raw []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", raw)
	}
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

type fixture struct {
	s            *Server
	u            string
	user, other  int
	tok, otherTk string
	dp, remote   int
}

func newFixture(t *testing.T) *fixture { return newFixtureOn(t, ReleaseCurrent) }

func newFixtureOn(t *testing.T, r Release) *fixture {
	s := newServerOn(t, r)
	f := &fixture{s: s, u: s.URL()}
	admin := s.AddUser("root", "rootpw", true)
	f.user = s.AddUser("norm", "normpw", false)
	f.other = s.AddUser("other", "otherpw", false)
	f.tok, f.otherTk = s.NewToken(f.user), s.NewToken(f.other)
	f.dp = s.AddProvider("LocalDP", admin, ProviderOptions{})
	f.remote = s.AddProvider("RemoteDP", admin, ProviderOptions{Remote: true})
	return f
}

// ---- read side ----

func TestAuth(t *testing.T) {
	f := newFixture(t)
	u := f.u

	// Login, form and JSON.
	resp, b := do(t, "POST", u+"/session", "", "login=norm&password=normpw")
	mustStatus(t, resp, b, 200)
	login := decode[struct {
		UserID int    `json:"user_id"`
		Token  string `json:"cbrain_api_token"`
	}](t, b)
	if login.UserID != f.user || !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(login.Token) {
		t.Fatalf("login answer %s", b)
	}
	resp, b = do(t, "POST", u+"/session", "", `{"login":"norm","password":"normpw"}`)
	mustStatus(t, resp, b, 200)

	// Bad credentials: empty 401.
	resp, b = do(t, "POST", u+"/session", "", "login=norm&password=nope")
	mustStatus(t, resp, b, 401)
	if len(b) != 0 {
		t.Fatalf("bad login body %q", b)
	}

	// No/invalid token: empty 401.
	for _, tok := range []string{"", "0123456789abcdef0123456789abcdef"} {
		resp, b = do(t, "GET", u+"/userfiles", tok, "")
		mustStatus(t, resp, b, 401)
		if len(b) != 0 {
			t.Fatalf("401 body %q", b)
		}
	}
	// Three ways to pass the token.
	resp, b = do(t, "GET", u+"/userfiles", "", "", withHeader("Authorization", `Token token="`+login.Token+`"`))
	mustStatus(t, resp, b, 200)
	resp, b = do(t, "GET", u+"/userfiles?cbrain_api_token="+login.Token, "", "")
	mustStatus(t, resp, b, 200)
	resp, b = do(t, "GET", u+"/session", login.Token, "")
	mustStatus(t, resp, b, 200)
	// The header wins over the parameter.
	resp, b = do(t, "GET", u+"/userfiles?cbrain_api_token="+login.Token, "ffffffffffffffffffffffffffffffff", "")
	mustStatus(t, resp, b, 401)

	// Accept handling: no Accept -> HTML -> redirect to the login page when
	// not logged in; an unknown format -> empty 401; ".json" suffix works.
	resp, b = do(t, "GET", u+"/userfiles", "", "", noAccept())
	mustStatus(t, resp, b, 302)
	if !strings.HasSuffix(resp.Header.Get("Location"), "/session/new") {
		t.Fatalf("Location %q", resp.Header.Get("Location"))
	}
	resp, b = do(t, "GET", u+"/userfiles", f.tok, "", withHeader("Accept", "application/octet-stream"))
	mustStatus(t, resp, b, 401)
	if len(b) != 0 {
		t.Fatalf("unknown-format body %q", b)
	}
	resp, b = do(t, "GET", u+"/userfiles", f.tok, "", noAccept())
	if resp.StatusCode == 200 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("HTML request got JSON")
	}
	resp, b = do(t, "GET", u+"/userfiles.json", f.tok, "", noAccept())
	mustStatus(t, resp, b, 200)

	// Expired token.
	tk := f.s.NewToken(f.user)
	f.s.ExpireToken(tk)
	resp, b = do(t, "GET", u+"/userfiles", tk, "")
	mustStatus(t, resp, b, 401)

	// Logout: empty 200, then the token is dead.
	resp, b = do(t, "DELETE", u+"/session", login.Token, "")
	mustStatus(t, resp, b, 200)
	if len(b) != 0 {
		t.Fatalf("logout body %q", b)
	}
	resp, b = do(t, "GET", u+"/session", login.Token, "")
	mustStatus(t, resp, b, 401)

	// Spurious params on /session ban the IP.
	resp, b = do(t, "POST", u+"/session", "", "login=norm&password=normpw&a=1&b=2&c=3")
	mustStatus(t, resp, b, 401)
	resp, b = do(t, "GET", u+"/userfiles", f.tok, "")
	mustStatus(t, resp, b, 401)
	f.s.UnbanAll()
	resp, b = do(t, "GET", u+"/userfiles", f.tok, "")
	mustStatus(t, resp, b, 200)

	// Unknown route, and no DELETE /userfiles/:id.
	for _, mu := range [][2]string{{"GET", "/nope"}, {"DELETE", "/userfiles/1"}} {
		resp, b = do(t, mu[0], u+mu[1], f.tok, "")
		mustStatus(t, resp, b, 404)
		if string(b) != `{"status":404,"error":"Not Found"}` {
			t.Fatalf("unknown route body %s", b)
		}
	}
}

func TestPaging10000(t *testing.T) {
	f := newFixture(t)
	const n = 10000
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("file%05d.txt", i)
		if i%2 == 1 {
			name = strings.ToUpper(name[:1]) + name[1:] // mixed case must not change the order
		}
		f.s.AddFile(FileSpec{Name: name, ProviderID: f.dp, OwnerID: f.user})
	}
	var all []string
	for page := 1; ; page++ {
		start := time.Now()
		resp, b := do(t, "GET", fmt.Sprintf("%s/userfiles?per_page=1000&page=%d", f.u, page), f.tok, "")
		el := time.Since(start)
		mustStatus(t, resp, b, 200)
		for _, h := range []string{"X-Total-Count", "Link", "X-Total"} {
			if resp.Header.Get(h) != "" {
				t.Fatalf("unexpected header %s", h)
			}
		}
		items := decode[[]userfileJSON](t, b)
		if page <= 10 && len(items) != 1000 {
			t.Fatalf("page %d has %d items", page, len(items))
		}
		if page == 11 {
			if string(b) != "[]" {
				t.Fatalf("page past the end: %.100s", b)
			}
			break
		}
		if el > 2*time.Second {
			t.Errorf("page %d took %v", page, el)
		}
		for _, it := range items {
			all = append(all, it.Name)
		}
	}
	for i := range all {
		if strings.ToLower(all[i]) != fmt.Sprintf("file%05d.txt", i) {
			t.Fatalf("order broken at %d: %s", i, all[i])
		}
	}
	check := func(q string, want int) {
		t.Helper()
		resp, b := do(t, "GET", f.u+"/userfiles?"+q, f.tok, "")
		mustStatus(t, resp, b, 200)
		if got := len(decode[[]json.RawMessage](t, b)); got != want {
			t.Fatalf("%s: %d items, want %d", q, got, want)
		}
	}
	check("", 25)
	check("per_page=5000", 1000)
	check("per_page=0", 1)
	check("per_page=abc", 25)
	check("per-page=7", 7)
	check("page=999999", 0)
	resp, b := do(t, "GET", f.u+"/userfiles?ids_only=1&per_page=3", f.tok, "")
	mustStatus(t, resp, b, 200)
	if ids := decode[[]int](t, b); len(ids) != n {
		t.Fatalf("ids_only gave %d ids", len(ids))
	}
}

func TestUserfileJSONShape(t *testing.T) {
	f := newFixture(t)
	tg := f.s.AddTag("important", f.user)
	plain := f.s.AddFile(FileSpec{Name: "a.txt", ProviderID: f.dp, OwnerID: f.user, Type: "TextFile", Content: []byte("hello")})
	tagged := f.s.AddFile(FileSpec{Name: "b.txt", ProviderID: f.dp, OwnerID: f.user, TagIDs: []int{tg}})
	nullsz := f.s.AddFile(FileSpec{Name: "c.dat", ProviderID: f.dp, OwnerID: f.user, SizeNull: true})

	want := "id,name,browse_path,size,user_id,parent_id,type,group_id,data_provider_id,group_writable,num_files,hidden,immutable,archived,description"
	resp, b := do(t, "GET", fmt.Sprintf("%s/userfiles/%d", f.u, plain), f.tok, "")
	mustStatus(t, resp, b, 200)
	if got := strings.Join(keysInOrder(t, b), ","); got != want {
		t.Fatalf("keys\n got %s\nwant %s", got, want)
	}
	m := decode[map[string]any](t, b)
	if m["size"] != 5.0 || m["hidden"] != false || m["group_writable"] != false || m["num_files"] != 1.0 || m["browse_path"] != nil || m["description"] != nil {
		t.Fatalf("values: %s", b)
	}
	resp, b = do(t, "GET", fmt.Sprintf("%s/userfiles/%d", f.u, tagged), f.tok, "")
	if got := strings.Join(keysInOrder(t, b), ","); got != want+",tag_ids,tag_names" {
		t.Fatalf("tagged keys %s", got)
	}
	if !strings.Contains(string(b), `"tag_ids":[`) || !strings.Contains(string(b), `"tag_names":["important"]`) {
		t.Fatalf("tags: %s", b)
	}
	resp, b = do(t, "GET", fmt.Sprintf("%s/userfiles/%d", f.u, nullsz), f.tok, "")
	if !strings.Contains(string(b), `"size":null`) {
		t.Fatalf("null size: %s", b)
	}
	// 404 shape: id is a string.
	resp, b = do(t, "GET", f.u+"/userfiles/99999", f.tok, "")
	mustStatus(t, resp, b, 404)
	if string(b) != `{"error":"The Userfile with id = 99999 doesn't exist","message":"The object you requested does not exist or is not accessible to you.","type":"object not found","model":"Userfile","id":"99999"}` {
		t.Fatalf("404 body %s", b)
	}
	// Another user's private file is a 404 too.
	resp, b = do(t, "GET", fmt.Sprintf("%s/userfiles/%d", f.u, plain), f.otherTk, "")
	mustStatus(t, resp, b, 404)
}

func TestFilters(t *testing.T) {
	f := newFixture(t)
	proj := f.s.AddGroup("Proj", "WorkGroup", f.user, f.other)
	f.s.AddFile(FileSpec{Name: "Alpha.txt", ProviderID: f.dp, OwnerID: f.user, Type: "TextFile"})
	f.s.AddFile(FileSpec{Name: "beta.json", ProviderID: f.dp, OwnerID: f.user, Type: "JsonFile", GroupID: proj})
	f.s.AddFile(FileSpec{Name: "gamma.txt", ProviderID: f.remote, OwnerID: f.user, Type: "TextFile"})
	f.s.AddFile(FileSpec{Name: "hidden.txt", ProviderID: f.dp, OwnerID: f.user, Hidden: true})
	f.s.AddFile(FileSpec{Name: "theirs.txt", ProviderID: f.dp, OwnerID: f.other})
	f.s.AddFile(FileSpec{Name: "shared.txt", ProviderID: f.dp, OwnerID: f.other, GroupID: proj})

	names := func(tok, q string) string {
		t.Helper()
		resp, b := do(t, "GET", f.u+"/userfiles?"+q, tok, "")
		mustStatus(t, resp, b, 200)
		var out []string
		for _, it := range decode[[]userfileJSON](t, b) {
			out = append(out, it.Name)
		}
		return strings.Join(out, ",")
	}
	cases := []struct{ q, want string }{
		{"", "Alpha.txt,beta.json,gamma.txt,shared.txt"},
		{fmt.Sprintf("data_provider_id=%d", f.remote), "gamma.txt"},
		{"type=TextFile", "Alpha.txt,gamma.txt"},
		{"type=SingleFile", "shared.txt"}, // exact class only
		{"name=ALPHA.TXT", "Alpha.txt"},   // case-insensitive collation
		{"name_like=a.t", "Alpha.txt,gamma.txt"},
		{"name_like=A_p", ""},                 // escaped: a plain substring (7.0.0: a wildcard, release_test.go)
		{"name_like=%20pha.%20", "Alpha.txt"}, // n.strip
		{fmt.Sprintf("group_id[]=%d&group_id[]=999", proj), "beta.json,shared.txt"},
		{fmt.Sprintf("user_id=%d", f.other), "shared.txt"},
		{"hidden=1", ""},
		{"group_writable=0&type=JsonFile", "beta.json"},
	}
	for _, c := range cases {
		if got := names(f.tok, c.q); got != c.want {
			t.Errorf("?%s: got %q want %q", c.q, got, c.want)
		}
	}
	// Active project is sticky for the token.
	resp, b := do(t, "POST", fmt.Sprintf("%s/groups/switch?id=%d", f.u, proj), f.tok, "")
	mustStatus(t, resp, b, 200)
	if got := names(f.tok, ""); got != "beta.json,shared.txt" {
		t.Fatalf("project view %q", got)
	}
	resp, b = do(t, "POST", f.u+"/groups/switch", f.tok, "")
	mustStatus(t, resp, b, 200)
	if got := names(f.tok, ""); got != "Alpha.txt,beta.json,gamma.txt,shared.txt" {
		t.Fatalf("after clearing project %q", got)
	}
}

func TestContentIgnoresRange(t *testing.T) {
	f := newFixture(t)
	body := []byte(`{"hello":"world","pad":"0123456789"}`)
	id := f.s.AddFile(FileSpec{Name: "norm.json", ProviderID: f.dp, OwnerID: f.user, Content: body})
	resp, b := do(t, "GET", fmt.Sprintf("%s/userfiles/%d/content", f.u, id), f.tok, "", withHeader("Range", "bytes=5-9"))
	mustStatus(t, resp, b, 200)
	if !bytes.Equal(b, body) {
		t.Fatalf("body %q", b)
	}
	if got := resp.Header.Get("Content-Disposition"); got != `attachment; filename="norm.json"` {
		t.Fatalf("Content-Disposition %q", got)
	}
	if got := resp.Header.Get("Content-Type"); got != "application/json" {
		t.Fatalf("Content-Type %q", got)
	}
	if resp.Header.Get("Accept-Ranges") != "" || resp.Header.Get("ETag") != "" || resp.Header.Get("Last-Modified") != "" {
		t.Fatalf("unexpected headers %v", resp.Header)
	}
	st := f.s.Stats()
	if st.ByRoute["GET /userfiles/:id/content"] != 1 || st.ContentBytes != int64(len(body)) {
		t.Fatalf("stats %+v", st)
	}
	// Errors: unknown id and a collection without loader are empty 404s.
	coll := f.s.AddFile(FileSpec{Name: "Coll", ProviderID: f.dp, OwnerID: f.user, Type: "FileCollection",
		Members: map[string][]byte{"a.txt": []byte("A")}})
	for _, p := range []string{"/userfiles/424242/content", fmt.Sprintf("/userfiles/%d/content", coll)} {
		resp, b = do(t, "GET", f.u+p, f.tok, "")
		mustStatus(t, resp, b, 404)
		if len(b) != 0 {
			t.Fatalf("%s body %q", p, b)
		}
	}
}

func TestCollection(t *testing.T) {
	f := newFixture(t)
	id := f.s.AddFile(FileSpec{Name: "MyColl", ProviderID: f.dp, OwnerID: f.user, Type: "FileCollection",
		Members: map[string][]byte{"top.txt": []byte("top"), "sub/a.txt": []byte("AAAA"), "sub/deeper/b.nii": []byte("BB")}})
	resp, b := do(t, "GET", fmt.Sprintf("%s/userfiles/%d", f.u, id), f.tok, "")
	uf := decode[userfileJSON](t, b)
	if uf.Size == nil || *uf.Size != 9 || uf.NumFiles == nil || *uf.NumFiles != 3 || uf.Type != "FileCollection" {
		t.Fatalf("collection record %s", b)
	}
	get := func(arg string) (*http.Response, []byte) {
		return do(t, "GET", fmt.Sprintf("%s/userfiles/%d/content?content_loader=collection_file&arguments=%s", f.u, id, url.QueryEscape(arg)), f.tok, "")
	}
	resp, b = get("MyColl/sub/a.txt")
	mustStatus(t, resp, b, 200)
	if string(b) != "AAAA" || resp.Header.Get("Content-Disposition") != `attachment; filename="a.txt"` {
		t.Fatalf("member: %q %v", b, resp.Header)
	}
	resp, b = get("MyColl/sub/../top.txt") // internal .. is compacted
	mustStatus(t, resp, b, 200)
	for _, bad := range []string{"../etc/passwd", "MyColl/../../x", "sub/a.txt", "MyColl", "MyColl/sub", "/MyColl/top.txt", "MyColl/none"} {
		resp, b = get(bad)
		mustStatus(t, resp, b, 404)
		if len(b) != 0 {
			t.Fatalf("%s: body %q", bad, b)
		}
	}
	// stream
	resp, b = do(t, "GET", fmt.Sprintf("%s/userfiles/%d/stream/MyColl/sub/deeper/b.nii", f.u, id), f.tok, "")
	mustStatus(t, resp, b, 200)
	if string(b) != "BB" {
		t.Fatalf("stream %q", b)
	}
	resp, b = do(t, "GET", fmt.Sprintf("%s/userfiles/%d/stream/Other/x", f.u, id), f.tok, "")
	mustStatus(t, resp, b, 401)
	resp, b = do(t, "GET", fmt.Sprintf("%s/userfiles/%d/stream/MyColl/nothere", f.u, id), f.tok, "")
	mustStatus(t, resp, b, 404)
	// The listing (display.json) is tested in display_test.go.
}

func waitBAC(t *testing.T, f *fixture, tok string, id int) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, b := do(t, "GET", fmt.Sprintf("%s/background_activities/%d", f.u, id), tok, "")
		mustStatus(t, resp, b, 200)
		m := decode[map[string]any](t, b)
		if m["status"] != "InProgress" {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("BAC %d still %s", id, b)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestNeedsSync(t *testing.T) {
	f := newFixture(t)
	id := f.s.AddFile(FileSpec{Name: "remote.txt", ProviderID: f.remote, OwnerID: f.user, Content: []byte("far away")})
	coll := f.s.AddFile(FileSpec{Name: "RColl", ProviderID: f.remote, OwnerID: f.user, Type: "FileCollection",
		Members: map[string][]byte{"x.txt": []byte("x")}})
	cu := fmt.Sprintf("%s/userfiles/%d/content", f.u, id)
	resp, b := do(t, "GET", cu, f.tok, "")
	mustStatus(t, resp, b, 404)
	resp, b = do(t, "GET", fmt.Sprintf("%s/userfiles/%d", f.u, id), f.tok, "")
	mustStatus(t, resp, b, 200)

	resp, b = do(t, "POST", f.u+"/userfiles/sync_multiple", f.tok, fmt.Sprintf(`{"file_ids":[%d,"%d"]}`, id, coll))
	mustStatus(t, resp, b, 200)
	if got := strings.Join(keysInOrder(t, b), ","); got != "background_activity_id,message" && got != "message,background_activity_id" {
		t.Fatalf("sync answer %s", b)
	}
	ans := decode[map[string]any](t, b)
	bac := waitBAC(t, f, f.tok, int(ans["background_activity_id"].(float64)))
	if bac["status"] != "Completed" || bac["type"] != "BackgroundActivity::SyncFile" || bac["num_successes"] != 2.0 {
		t.Fatalf("BAC %v", bac)
	}
	wantKeys := "id,user_id,remote_resource_id,type,status,items,messages,current_item,num_successes,num_failures,handler_lock,options,updated_at"
	resp, b = do(t, "GET", fmt.Sprintf("%s/background_activities/%v", f.u, bac["id"]), f.tok, "")
	if got := strings.Join(keysInOrder(t, b), ","); got != wantKeys {
		t.Fatalf("BAC keys %s", got)
	}
	resp, b = do(t, "GET", cu, f.tok, "")
	mustStatus(t, resp, b, 200)
	if string(b) != "far away" {
		t.Fatalf("content %q", b)
	}
	resp, b = do(t, "GET", fmt.Sprintf("%s/userfiles/%d/content?content_loader=collection_file&arguments=RColl/x.txt", f.u, coll), f.tok, "")
	mustStatus(t, resp, b, 200)
	// An unreadable id makes the whole request a 404.
	theirs := f.s.AddFile(FileSpec{Name: "t.txt", ProviderID: f.remote, OwnerID: f.other})
	resp, b = do(t, "POST", f.u+"/userfiles/sync_multiple", f.tok, fmt.Sprintf("file_ids[]=%d&file_ids[]=%d", id, theirs))
	mustStatus(t, resp, b, 404)
}

func TestLargeStream(t *testing.T) {
	f := newFixture(t)
	size := int64(1 << 30)
	if testing.Short() || raceEnabled {
		size = 256 << 20 // the race detector makes byte generation slow
	}
	src := DeterministicContent(42, size)
	id := f.s.AddFile(FileSpec{Name: "big.bin", ProviderID: f.dp, OwnerID: f.user, Source: src, Size: size})
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/userfiles/%d/content", f.u, id), nil)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+f.tok)
	req.Header.Set("Range", "bytes=0-99")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != size {
		t.Fatalf("status %d length %d", resp.StatusCode, resp.ContentLength)
	}
	got := make([]byte, 1<<20)
	want := make([]byte, 1<<20)
	var off int64
	var peak uint64
	for {
		n, err := io.ReadFull(resp.Body, got)
		if n > 0 {
			src.ReadAt(want[:n], off)
			if !bytes.Equal(got[:n], want[:n]) {
				t.Fatalf("mismatch near offset %d", off)
			}
			off += int64(n)
			if off%(64<<20) == 0 {
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
			}
		}
		if err != nil {
			break
		}
	}
	if off != size {
		t.Fatalf("read %d of %d bytes", off, size)
	}
	if peak > before.HeapInuse+64<<20 {
		t.Fatalf("heap grew from %d to %d while streaming", before.HeapInuse, peak)
	}
	if st := f.s.Stats(); st.ContentBytes != size {
		t.Fatalf("ContentBytes %d", st.ContentBytes)
	}
}

func TestProvidersGroupsUsers(t *testing.T) {
	f := newFixture(t)
	private := f.s.AddGroup("Private", "WorkGroup", f.other)
	hidden := f.s.AddProvider("OthersDP", f.other, ProviderOptions{GroupID: private})
	resp, b := do(t, "GET", f.u+"/data_providers", f.tok, "")
	mustStatus(t, resp, b, 200)
	list := decode[[]map[string]any](t, b)
	if len(list) != 2 || list[0]["name"] != "LocalDP" || list[1]["name"] != "RemoteDP" {
		t.Fatalf("providers %s", b)
	}
	want := "id,name,type,user_id,group_id,online,read_only,description,is_browsable,is_fast_syncing,allow_file_owner_change,content_storage_shared_between_users"
	resp, b = do(t, "GET", fmt.Sprintf("%s/data_providers/%d", f.u, f.dp), f.tok, "")
	if got := strings.Join(keysInOrder(t, b), ","); got != want {
		t.Fatalf("provider keys %s", got)
	}
	resp, b = do(t, "GET", fmt.Sprintf("%s/data_providers/%d", f.u, hidden), f.tok, "")
	mustStatus(t, resp, b, 200)
	if string(b) != `{"error":"Provider not accessible by current user."}` {
		t.Fatalf("inaccessible provider %s", b)
	}
	resp, b = do(t, "GET", f.u+"/data_providers/777", f.tok, "")
	mustStatus(t, resp, b, 404)
	resp, b = do(t, "GET", fmt.Sprintf("%s/data_providers/%d/is_alive", f.u, f.dp), f.tok, "")
	if string(b) != `{"is_alive":true}` {
		t.Fatalf("is_alive %s", b)
	}
	resp, b = do(t, "GET", f.u+"/groups", f.tok, "")
	mustStatus(t, resp, b, 200)
	if string(b) != `[{"id":3,"name":"norm","description":null,"type":"UserGroup","site_id":null,"invisible":false}]` {
		t.Fatalf("groups %s", b)
	}
	resp, b = do(t, "GET", fmt.Sprintf("%s/groups/%d", f.u, private), f.tok, "")
	mustStatus(t, resp, b, 404)
	resp, b = do(t, "GET", fmt.Sprintf("%s/users/%d", f.u, f.user), f.tok, "")
	mustStatus(t, resp, b, 200)
	resp, b = do(t, "GET", fmt.Sprintf("%s/users/%d", f.u, f.other), f.tok, "")
	mustStatus(t, resp, b, 400)
}

func TestSeedDemo(t *testing.T) {
	s := newServer(t)
	uid, tok, err := SeedDemo(s)
	if err != nil || uid == 0 || tok == "" {
		t.Fatal(uid, tok, err)
	}
	resp, b := do(t, "GET", s.URL()+"/userfiles?per_page=1000", tok, "")
	mustStatus(t, resp, b, 200)
	files := decode[[]userfileJSON](t, b)
	count := map[string]int{}
	for _, f := range files {
		count[f.Name]++
	}
	if count["shared_notes.txt"] != 2 || count["sub-01_T1w.nii"] != 1 || count["pending_upload.dat"] != 1 {
		t.Fatalf("demo files %v", count)
	}
	for _, f := range files {
		if f.Name == "sub-01_T1w.nii" {
			resp, b = do(t, "GET", fmt.Sprintf("%s/userfiles/%d/content", s.URL(), f.ID), tok, "")
			mustStatus(t, resp, b, 200)
			if len(b) < 2<<20 || string(b[344:347]) != "n+1" || b[0] != 0x5c || b[1] != 0x01 {
				t.Fatalf("NIfTI header broken (len %d)", len(b))
			}
		}
	}
}
