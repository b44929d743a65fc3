package cbrain

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/filesmount/filesmount/internal/httprange"
	"github.com/filesmount/filesmount/remote"
)

// fuzzToken is the API token of the fuzzed clients: no error may show it.
const fuzzToken = "fuzz0token0secret0000000000000000"

// portalAnswers are bodies the portal (or something in front of it)
// may send: the seeds of every JSON decoder below.
var portalAnswers = []string{
	``, `null`, `{}`, `[]`, `"text"`, `0`, `true`, `{`, `[`, "\xff\xfe", `<html><body>502</body></html>`,
	`{"error":"Exceeded your disk quota"}`, `{"error":null}`, `{"error":{"nested":1}}`, `{"error":7}`,
	`{"notice":"Files are being synchronized"}`, `{"message":" padded "}`, `{"name":["is invalid","has already been taken"]}`,
	`{"name":"x","other":[1,2]}`, `"\"double quoted\""`, strings.Repeat("x", 400), strings.Repeat(`[`, 5000),
	`[{"id":1,"name":"a.txt","size":12,"type":"TextFile","browse_path":null,"data_provider_id":1}]`,
	`[{"id":2,"name":"../../etc","size":null,"type":"FileCollection","browse_path":"a/../../b/"}]`,
	`[{"id":3,"name":"a/b\u0000c","size":-5,"type":"Collection","browse_path":"//"}]`,
	`[{"id":-1,"name":"","size":9223372036854775807,"type":"","browse_path":".."}]`,
	`[{"id":1e400}]`, `[{"id":"1"}]`, `[{"size":1.5}]`, `[{"tag_ids":[1,null,"x"]}]`,
	`[{"id":1,"name":"MainStore","type":"FlatDirSshDataProvider","online":true,"read_only":false}]`,
	`[{"name":"coll/a.txt","symbolic_type":"regular","size":3},{"name":"coll/../../x","symbolic_type":"directory"},` +
		`{"name":"/coll//b/","size":null},{"name":"coll/\u0000","symbolic_type":"symlink"},{"name":"","size":-1}]`,
	`{"id":5,"type":"CompressFile","status":"Completed","items":[1,"2",3.5,null,{"a":1}],"messages":[null,"Skipped",7],` +
		`"num_successes":1,"num_failures":1}`,
	`{"id":5,"status":"InProgress","items":[1e300, -0, 1]}`,
	`{"user_id":7,"cbrain_api_token":"` + fuzzToken + `"}`, `{"user_id":"7","cbrain_api_token":"` + fuzzToken + `"}`,
	`{"background_activity_id":3}`, `{"backgroud_activity_id":"x"}`,
	// The collection viewer's answers (collection_viewer.go): escaped JSON, the rescue's warning.
	"[{&quot;name&quot;:&quot;coll/a\\u0026b&quot;,&quot;symbolic_type&quot;:&quot;regular&quot;,&quot;size&quot;:3," +
		"&quot;mtime&quot;:&quot;2026-12-07T14:53:26.981+00:00&quot;},{&quot;name&quot;:&quot;coll/it&#39;s&quot;}]\n\n",
	`<div class="warning">Error generating view code for viewer 'file_collection'.</div>`, `[{&quot;name`, `[&amp;&#39;]`,
}

func fakeResponse(raw []byte) *http.Response {
	u, _ := url.Parse("https://portal.example/userfiles?cbrain_api_token=" + fuzzToken)
	return &http.Response{StatusCode: 200, Body: io.NopCloser(bytes.NewReader(raw)),
		Request: &http.Request{Method: http.MethodGet, URL: u}, Header: http.Header{}}
}

func FuzzDecodeErrorBody(f *testing.F) {
	for _, s := range portalAnswers {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		msg := decodeErrorBody(raw)
		if msg != decodeErrorBody(raw) {
			t.Fatal("not deterministic")
		}
		// Decoding replaces each invalid byte by U+FFFD (3 bytes); an HTML
		// page becomes "(HTML page)".
		if len(msg) > 3*len(raw)+len("(HTML page)") {
			t.Fatalf("message of %d bytes from a %d-byte body", len(msg), len(raw))
		}
		// The same body in a real error answer.
		resp := fakeResponse(raw)
		resp.StatusCode = 422
		c := &Client{base: resp.Request.URL}
		err := c.checkResponse("op", resp)
		var se *remote.StatusError
		if !errors.As(err, &se) || se.Code != 422 {
			t.Fatalf("checkResponse: %v", err)
		}
		if strings.Contains(se.URL, fuzzToken) {
			t.Fatalf("the error's URL shows the token: %s", se.URL)
		}
	})
}

func FuzzErrorIn200(f *testing.F) {
	for _, s := range portalAnswers {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		msg, ok := errorIn200(raw)
		if !ok {
			if msg != "" {
				t.Fatalf("errorIn200(%q) = %q, false", raw, msg)
			}
			return
		}
		if raw[0] != '{' || !json.Valid(raw) {
			t.Fatalf("errorIn200 accepted %q", raw)
		}
		// decodeJSON reports it as a status error, whatever out is.
		var out []Userfile
		err := decodeJSON("op", fakeResponse(raw), &out)
		var se *remote.StatusError
		if !errors.As(err, &se) || se.Msg != msg {
			t.Fatalf("decodeJSON(%q) = %v, want the message %q", raw, err, msg)
		}
	})
}

func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{
		"bytes 0-99/100", "bytes 5-9/*", "bytes 0-0/1", "bytes */100", "bytes 0-1/-5", "bytes 5-1/3",
		"bytes +1-2/3", "bytes 1-x/3", "bytes -1-2/3", "bytes 0-9223372036854775807/9223372036854775808",
		"bytes  0-1/2", "BYTES 0-1/2", "bytes 0-1/2/3", "bytes 0--1/2", "", "bytes ", "items 0-1/2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		start, total, ok := parseContentRange(h)
		if !ok {
			return
		}
		if start < 0 {
			t.Fatalf("parseContentRange(%q): start %d", h, start)
		}
		// Where the header is well-formed, the strict parser (which
		// should replace this one, see internal/httprange) agrees.
		if r, err := httprange.ParseContentRange(h); err == nil && (r.Start != start || r.Total != total) {
			t.Fatalf("parseContentRange(%q) = %d, %d; httprange: %+v", h, start, total, r)
		}
	})
}

// FuzzDecodeJSON feeds a 2xx body through decodeJSON into every type the
// client decodes, then through what the store does with the result.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range portalAnswers {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		check := func(err error) {
			if err != nil && strings.Contains(err.Error(), fuzzToken) && !strings.Contains(string(raw), fuzzToken) {
				t.Fatalf("error shows the token: %v", err)
			}
		}
		var ufs []Userfile
		if err := decodeJSON("list userfiles", fakeResponse(raw), &ufs); err == nil {
			for i := range ufs {
				e := userfileEntry(&ufs[i])
				if e.IsDir && e.Size != 0 || !e.IsDir && ufs[i].Size == nil && e.Size != remote.SizeUnknown {
					t.Fatalf("userfileEntry(%+v) = %+v", ufs[i], e)
				}
			}
		} else {
			check(err)
		}
		var uf Userfile
		check(decodeJSON("show userfile", fakeResponse(raw), &uf))
		var dps []DataProvider
		check(decodeJSON("list data providers", fakeResponse(raw), &dps))
		_, err := decodeCollectionAnswer("list collection", fakeResponse(raw))
		check(err)
		_, err = decodeCollectionAnswer("list collection", fakeResponse([]byte(html.EscapeString(string(raw)))))
		check(err)
		var bac BackgroundActivity
		if err := decodeJSON("show background activity", fakeResponse(raw), &bac); err == nil {
			bac.Finished()
			ids := []int64{1, 2, 3}
			if res := itemResults(&bac, ids); len(res) != len(ids) {
				t.Fatalf("itemResults: %d results for %d ids", len(res), len(ids))
			}
		} else {
			check(err)
		}
		var multi multiOpAnswer
		if decodeJSON("op", fakeResponse(raw), &multi) == nil {
			multi.activityID()
		}
		// (The session answer holds the token itself, and decodeJSON
		// quotes 80 bytes of an undecodable body in its error: see the
		// report on client.go.)
		var s Session
		decodeJSON("check session", fakeResponse(raw), &s)
	})
}

// listingServer answers every request with the current fuzz body.
type listingServer struct {
	mu   sync.Mutex
	body []byte
	srv  *httptest.Server
}

func (l *listingServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	body := l.body
	l.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

// FuzzListing lists the provider list, a provider, a browse-path
// directory and a collection from a portal that answers with the fuzz
// body, through the real client and store.
func FuzzListing(f *testing.F) {
	for _, s := range portalAnswers {
		f.Add([]byte(s))
	}
	ls := &listingServer{}
	ls.srv = httptest.NewServer(ls)
	f.Cleanup(ls.srv.Close)
	c, err := NewClient(Config{URL: ls.srv.URL, Token: fuzzToken})
	if err != nil {
		f.Fatal(err)
	}
	c.SyncTimeout = time.Second
	store := NewStore(c)
	store.FailureTTL = time.Nanosecond // every body is listed, none answered from a kept failure
	f.Fuzz(func(t *testing.T, raw []byte) {
		ls.mu.Lock()
		ls.body = raw
		ls.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		dirs := []remote.Entry{
			{ID: "/", IsDir: true},
			{ID: "dp/1", Name: "MainStore", IsDir: true},
			{ID: "bp/1/a", Name: "a", IsDir: true},
			{ID: "uf/2", Name: "coll", IsDir: true},
			{ID: "cf/2/coll/b", Name: "b", IsDir: true},
		}
		for _, dir := range dirs {
			entries, err := store.List(ctx, dir)
			if err != nil {
				if strings.Contains(err.Error(), fuzzToken) && !strings.Contains(string(raw), fuzzToken) {
					t.Fatalf("List(%s) error shows the token: %v", dir.ID, err)
				}
				continue
			}
			for _, e := range entries {
				// Every directory listed can itself be listed: its id
				// is well-formed (a malformed one is ErrNotFound).
				kind, _, _ := strings.Cut(e.ID, "/")
				if e.IsDir && kind != "dp" && kind != "bp" && kind != "uf" && kind != "cf" {
					t.Fatalf("List(%s): directory with id %q", dir.ID, e.ID)
				}
				if e.IsDir && kind == "cf" {
					if _, _, err := parseMemberID(strings.TrimPrefix(e.ID, "cf/")); err != nil {
						t.Fatalf("List(%s): %q: %v", dir.ID, e.ID, err)
					}
				}
				if e.IsDir && e.Size != 0 {
					t.Fatalf("List(%s): directory %q of size %d", dir.ID, e.Name, e.Size)
				}
			}
		}
	})
}
