package cbraintest

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// 7.0.0's userfile JSON: no browse_path, no tags (release.go).
func TestRelease700UserfileJSON(t *testing.T) {
	f := newFixtureOn(t, Release700)
	tg := f.s.AddTag("important", f.user)
	id := f.s.AddFile(FileSpec{Name: "a.txt", ProviderID: f.dp, OwnerID: f.user, TagIDs: []int{tg}, BrowsePath: "sub/dir"})
	want := "id,name,size,user_id,parent_id,type,group_id,data_provider_id,group_writable,num_files,hidden,immutable,archived,description"
	resp, b := do(t, "GET", fmt.Sprintf("%s/userfiles/%d", f.u, id), f.tok, "")
	mustStatus(t, resp, b, 200)
	if got := strings.Join(keysInOrder(t, b), ","); got != want {
		t.Fatalf("show keys\n got %s\nwant %s", got, want)
	}
	// The column is there: filtering on it still works.
	resp, b = do(t, "GET", f.u+"/userfiles?browse_path=sub/dir", f.tok, "")
	mustStatus(t, resp, b, 200)
	list := decode[[]map[string]any](t, b)
	if len(list) != 1 || list[0]["name"] != "a.txt" {
		t.Fatalf("index %s", b)
	}
	if _, ok := list[0]["browse_path"]; ok {
		t.Errorf("index shows browse_path: %s", b)
	}
	if got := f.s.FileTagIDs(id); len(got) != 1 || got[0] != tg {
		t.Errorf("the portal's tags %v, want [%d]", got, tg)
	}
}

// 7.0.0 answers a rename onto a taken name with an empty 200 and changes
// nothing; an illegal name gets provider_rename's one message.
func TestRelease700Rename(t *testing.T) {
	f := newFixtureOn(t, Release700)
	a := f.s.AddFile(FileSpec{Name: "a.txt", ProviderID: f.dp, OwnerID: f.user})
	f.s.AddFile(FileSpec{Name: "b.txt", ProviderID: f.dp, OwnerID: f.user})
	u := fmt.Sprintf("%s/userfiles/%d", f.u, a)
	for _, n := range []string{"b.txt", "B.TXT", "A.txt"} {
		resp, b := do(t, "PUT", u, f.tok, `{"userfile":{"name":"`+n+`"}}`)
		mustStatus(t, resp, b, 200)
		if len(b) != 0 {
			t.Errorf("rename to %s: body %q", n, b)
		}
		if _, b := do(t, "GET", u, f.tok, ""); decode[userfileJSON](t, b).Name != "a.txt" {
			t.Errorf("rename to taken %s happened: %s", n, b)
		}
	}
	resp, b := do(t, "PUT", u, f.tok, `{"userfile":{"name":"bad name"}}`)
	mustStatus(t, resp, b, 422)
	if string(b) != `{"name":["contains illegal characters."]}` {
		t.Errorf("illegal name: %s", b)
	}
	resp, b = do(t, "PUT", u, f.tok, `{"userfile":{"name":"c.txt"}}`)
	mustStatus(t, resp, b, 200)
	if _, b := do(t, "GET", u, f.tok, ""); decode[userfileJSON](t, b).Name != "c.txt" {
		t.Errorf("a free name was not taken: %s", b)
	}
}

// 7.0.0 hands name_like to LIKE as it is: % and _ are wildcards.
func TestRelease700NameLikeWildcards(t *testing.T) {
	f := newFixtureOn(t, Release700)
	f.s.AddFile(FileSpec{Name: "Alpha.txt", ProviderID: f.dp, OwnerID: f.user})
	f.s.AddFile(FileSpec{Name: "a_b.txt", ProviderID: f.dp, OwnerID: f.user})
	for q, want := range map[string]string{"A_p": "Alpha.txt", "a%25t": "a_b.txt,Alpha.txt", "a_b": "a_b.txt"} {
		resp, b := do(t, "GET", f.u+"/userfiles?name_like="+q, f.tok, "")
		mustStatus(t, resp, b, 200)
		var got []string
		for _, it := range decode[[]userfileJSON](t, b) {
			got = append(got, it.Name)
		}
		if strings.Join(got, ",") != want {
			t.Errorf("name_like=%s: %v, want %s", q, got, want)
		}
	}
}

func TestReleaseFromEnv(t *testing.T) {
	for env, want := range map[string]Release{"": ReleaseCurrent, "current": ReleaseCurrent, "7.0.0": Release700} {
		t.Setenv(ReleaseEnv, env)
		if got, err := ReleaseFromEnv(); got != want || err != nil {
			t.Errorf("%s=%q: %q, %v", ReleaseEnv, env, got, err)
		}
	}
	t.Setenv(ReleaseEnv, "7.0")
	if _, err := New(Options{DataDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "unknown CBRAIN release") {
		t.Errorf("a misspelt release: %v", err)
	}
}

// clientFrom is an HTTP client whose connections leave from local, an
// address of this machine (127.0.0.2 is one on Linux only).
func clientFrom(t *testing.T, local string) *http.Client {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(local, "0"))
	if err != nil {
		t.Skipf("%s is not an address of this machine (%v): loopback aliases are Linux's", local, err)
	}
	ln.Close()
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

// The token is bound to the address that logged in; a request from
// another one deactivates it for good (lib/session_helpers.rb).
func TestTokenBoundToTheLoginAddress(t *testing.T) {
	from2 := clientFrom(t, "127.0.0.2")
	f := newFixture(t)
	send := func(c *http.Client, method, path, body, tok string) (int, string) {
		req, _ := http.NewRequest(method, f.u+path, strings.NewReader(body))
		req.Header.Set("Accept", "application/json")
		if body != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}
	code, body := send(from2, "POST", "/session", "login=norm&password=normpw", "")
	if code != 200 {
		t.Fatalf("login: %d %s", code, body)
	}
	tok := decode[struct {
		Token string `json:"cbrain_api_token"`
	}](t, []byte(body)).Token
	for i := 0; i < 3; i++ {
		if code, body := send(from2, "GET", "/session", "", tok); code != 200 {
			t.Fatalf("same address, request %d: %d %s", i, code, body)
		}
	}
	if code, body := send(client, "GET", "/session", "", tok); code != 401 || body != "" {
		t.Fatalf("from 127.0.0.1: %d %q, want an empty 401", code, body)
	}
	if code, body := send(from2, "GET", "/session", "", tok); code != 401 || body != "" {
		t.Fatalf("back on the login address: %d %q, want an empty 401 (deactivated for good)", code, body)
	}
	if n := f.s.Stats().TokenIPChanges; n != 1 {
		t.Errorf("TokenIPChanges = %d, want 1", n)
	}
	// A token made outside a login is bound on first use.
	tok2 := f.s.NewToken(f.user)
	if code, _ := send(client, "GET", "/session", "", tok2); code != 200 {
		t.Fatalf("first use: %d", code)
	}
	if code, _ := send(from2, "GET", "/session", "", tok2); code != 401 {
		t.Fatalf("second address: %d, want 401", code)
	}
}

// ListenAlso serves one state on a second address, on the same port.
func TestListenAlso(t *testing.T) {
	f := newFixture(t)
	addr, err := f.s.ListenAlso("::1")
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	if _, port, _ := net.SplitHostPort(addr); port != fmt.Sprint(f.s.Port()) {
		t.Fatalf("listening on %s, not port %d", addr, f.s.Port())
	}
	if resp, b := do(t, "GET", "http://"+addr+"/session", f.tok, ""); resp.StatusCode != 200 {
		t.Fatalf("over IPv6 first: %d %s", resp.StatusCode, b)
	}
	// The same token over IPv4 now comes from another address.
	if resp, b := do(t, "GET", f.u+"/session", f.tok, ""); resp.StatusCode != 401 || len(b) != 0 {
		t.Fatalf("over IPv4 after IPv6: %d %q, want an empty 401", resp.StatusCode, b)
	}
}
