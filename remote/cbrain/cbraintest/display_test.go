package cbraintest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// oddMembers are collection members whose names need escaping in JSON and
// in HTML, plus what list_files leaves out (dot files, dot directories).
var oddMembers = map[string][]byte{
	`a&b.txt`:           []byte("amp"),
	`<lt>.txt`:          []byte("angle"),
	`q"uote.txt`:        []byte("quote"),
	`it's.txt`:          []byte("apostrophe"),
	"sub/deep.txt":      []byte("deep"),
	".hidden":           []byte("dot"),
	".dotdir/inner.txt": []byte("in a dot directory"),
}

// wantListed is what list_files(:all, :regular) shows of oddMembers, in
// its (byte) order.
var wantListed = []string{`Odd/<lt>.txt`, `Odd/a&b.txt`, `Odd/it's.txt`, `Odd/q"uote.txt`, `Odd/sub/deep.txt`}

func displayURL(f *fixture, id int, extra string) string {
	return fmt.Sprintf("%s/userfiles/%d/display.json?viewer=file_collection%s", f.u, id, extra)
}

func displayFixture(t *testing.T, opts DisplayOptions) (*fixture, int, int) {
	s, err := New(Options{DataDir: t.TempDir(), Display: opts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	f := &fixture{s: s, u: s.URL()}
	admin := s.AddUser("root", "rootpw", true)
	f.user = s.AddUser("norm", "normpw", false)
	f.tok = s.NewToken(f.user)
	f.dp = s.AddProvider("LocalDP", admin, ProviderOptions{})
	f.remote = s.AddProvider("RemoteDP", admin, ProviderOptions{Remote: true})
	local := s.AddFile(FileSpec{Name: "Odd", ProviderID: f.dp, OwnerID: f.user, Type: "FileCollection", Members: oddMembers})
	remote := s.AddFile(FileSpec{Name: "Odd", ProviderID: f.remote, OwnerID: f.user, Type: "FileCollection", Members: oddMembers})
	// A symlink and an empty directory: lstat says link and directory,
	// neither is :regular.
	for _, id := range []int{local, remote} {
		s.mu.Lock()
		root := s.st.files[id].data
		s.mu.Unlock()
		if err := os.Symlink("a&b.txt", filepath.Join(root, "link.txt")); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(filepath.Join(root, "empty"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return f, local, remote
}

var rubyTimeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$`)

// checkListing decodes a synced listing and checks it against the source.
func checkListing(t *testing.T, body []byte, plain bool, offset string) {
	t.Helper()
	raw := body
	if !plain {
		if json.Valid(body) {
			t.Fatalf("listing is valid JSON as is, want HTML-escaped: %.200s", body)
		}
		if !bytes.HasPrefix(body, []byte("[{&quot;name&quot;:&quot;")) {
			t.Fatalf("escaped listing starts %.60q", body)
		}
		raw = []byte(html.UnescapeString(string(body)))
	}
	if !bytes.HasSuffix(raw, []byte("]\n\n")) {
		t.Errorf("listing ends %q, want the template's two line breaks", raw[max(0, len(raw)-10):])
	}
	var list []map[string]any
	if err := json.Unmarshal(raw, &list); err != nil {
		t.Fatalf("listing: %v: %.300s", err, raw)
	}
	var names []string
	for _, e := range list {
		names = append(names, e["name"].(string))
		if e["symbolic_type"] != "regular" {
			t.Errorf("%v: symbolic_type %v", e["name"], e["symbolic_type"])
		}
		for _, k := range []string{"atime", "ctime", "mtime"} {
			s, _ := e[k].(string)
			if !rubyTimeRE.MatchString(s) || !strings.HasSuffix(s, offset) {
				t.Errorf("%v: %s %q, want xmlschema(3) with offset %s", e["name"], k, s, offset)
			}
		}
	}
	if strings.Join(names, "|") != strings.Join(wantListed, "|") {
		t.Errorf("listed %q\nwant   %q", names, wantListed)
	}
	var objs []json.RawMessage
	json.Unmarshal(raw, &objs)
	for _, o := range objs {
		if keys := strings.Join(keysInOrder(t, o), ","); keys != "name,symbolic_type,size,uid,gid,atime,ctime,mtime" {
			t.Errorf("keys %s, want FileInfo's instance variables as dp.rb sets them", keys)
		}
	}
	// ActiveSupport escapes < > & in JSON strings (\u003c ...).
	if bytes.Contains(raw, []byte("<lt>")) || !bytes.Contains(raw, []byte(`\u003clt\u003e`)) {
		t.Errorf("< > not escaped as ActiveSupport does: %.200s", raw)
	}
}

// TestDisplayVariants plays the display action under every option and
// counts what the real portal would file.
func TestDisplayVariants(t *testing.T) {
	montreal := time.FixedZone("EST", -5*3600)
	for _, v := range []struct {
		name string
		opts DisplayOptions
	}{
		{"default", DisplayOptions{TimeZone: time.UTC}},
		{"PlainJSON", DisplayOptions{PlainJSON: true, TimeZone: time.UTC}},
		{"ViewerErrors", DisplayOptions{ViewerErrors: true, TimeZone: time.UTC}},
		{"TimeZone-0500", DisplayOptions{TimeZone: montreal}},
	} {
		t.Run(v.name, func(t *testing.T) {
			f, local, remote := displayFixture(t, v.opts)
			offset := "+00:00"
			if v.opts.TimeZone == montreal {
				offset = "-05:00"
			}
			reports := func(msgs, excs int64) {
				t.Helper()
				st := f.s.Stats()
				if st.ErrorMessages != msgs || st.ExceptionLogs != excs {
					t.Errorf("portal filed %d error messages and %d exception logs, want %d and %d",
						st.ErrorMessages, st.ExceptionLogs, msgs, excs)
				}
				f.s.ResetStats()
			}
			// Synced (a local, fast-syncing provider): the listing.
			resp, b := do(t, "GET", displayURL(f, local, "&apply_div=false"), f.tok, "")
			mustStatus(t, resp, b, 200)
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
			checkListing(t, b, v.opts.PlainJSON, offset)
			reports(0, 0)

			// Without apply_div=false: render :action => :display has no
			// JSON template: the rescue's warning.
			resp, b = do(t, "GET", displayURL(f, local, ""), f.tok, "")
			mustStatus(t, resp, b, 200)
			if !strings.HasPrefix(string(b), `<div class="warning">Error generating view code for viewer 'file_collection'.`) ||
				!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
				t.Errorf("without apply_div: %s %q", resp.Header.Get("Content-Type"), b)
			}
			reports(1, 1)

			// Not synced: the warning (or the viewer's errors), every time.
			for i := 0; i < 2; i++ {
				resp, b = do(t, "GET", displayURL(f, remote, "&apply_div=false"), f.tok, "")
				mustStatus(t, resp, b, 200)
				if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
					t.Errorf("unsynced: Content-Type %q", resp.Header.Get("Content-Type"))
				}
			}
			if v.opts.ViewerErrors {
				if !strings.Contains(string(b), "Viewer invalid for this file (no reason given)") {
					t.Errorf("unsynced, viewer errors: %q", b)
				}
				reports(0, 0)
			} else {
				if !strings.Contains(string(b), "Admins have been notified") {
					t.Errorf("unsynced: %q", b)
				}
				reports(2, 2)
			}
			// A member of the unsynced collection: the cache has none, 404.
			member := fmt.Sprintf("%s/userfiles/%d/content?content_loader=collection_file&arguments=%s", f.u, remote, url.QueryEscape(`Odd/a&b.txt`))
			resp, b = do(t, "GET", member, f.tok, "")
			mustStatus(t, resp, b, 404)
			// content_viewer=off skips the viewer's condition: the
			// provider side is listed (provider_collection_index).
			resp, b = do(t, "GET", displayURL(f, remote, "&apply_div=false&content_viewer=off"), f.tok, "")
			mustStatus(t, resp, b, 200)
			checkListing(t, b, v.opts.PlainJSON, offset)
			reports(0, 0)

			// Synced: listed, and its members read.
			resp, b = do(t, "POST", f.u+"/userfiles/sync_multiple", f.tok, fmt.Sprintf(`{"file_ids":[%d]}`, remote))
			mustStatus(t, resp, b, 200)
			waitBAC(t, f, f.tok, int(decode[map[string]any](t, b)["background_activity_id"].(float64)))
			resp, b = do(t, "GET", displayURL(f, remote, "&apply_div=false"), f.tok, "")
			mustStatus(t, resp, b, 200)
			checkListing(t, b, v.opts.PlainJSON, offset)
			resp, b = do(t, "GET", member, f.tok, "")
			mustStatus(t, resp, b, 200)
			if string(b) != "amp" {
				t.Errorf("member %q", b)
			}
			reports(0, 0)

			// An offline provider: cache_collection_index raises.
			f.s.SetProviderOnline(f.dp, false)
			resp, b = do(t, "GET", displayURL(f, local, "&apply_div=false"), f.tok, "")
			mustStatus(t, resp, b, 200)
			if !strings.Contains(string(b), "Error generating view code") {
				t.Errorf("offline: %q", b)
			}
			reports(1, 1)

			// An unknown id: the rescue itself fails on @userfile.name.
			resp, b = do(t, "GET", displayURL(f, 999, "&apply_div=false"), f.tok, "")
			mustStatus(t, resp, b, 500)
			if string(b) != "{\"error\":\"undefined method `name' for nil:NilClass\"}" {
				t.Errorf("unknown id: %s", b)
			}
			reports(1, 2)
		})
	}
}
