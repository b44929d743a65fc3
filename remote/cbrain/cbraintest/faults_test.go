package cbraintest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/filesmount/filesmount/internal/faults"
)

// rawGet is a JSON GET whose body errors are returned, not fatal.
func rawGet(t *testing.T, u, token string) (*http.Response, []byte, error) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func TestFaultsOnContent(t *testing.T) {
	f := newFixture(t)
	body := bytes.Repeat([]byte("0123456789"), 20000)
	id := f.s.AddFile(FileSpec{Name: "big.txt", ProviderID: f.dp, OwnerID: f.user, Content: body})
	u := fmt.Sprintf("%s/userfiles/%d/content", f.u, id)
	f.s.Faults().Add(
		faults.Rule{Kind: faults.Status, Status: 503, RetryAfter: "3", Route: "GET /userfiles/:id/content", Count: 2},
		faults.Rule{Kind: faults.Reset, After: 1000, Route: fmt.Sprintf("/userfiles/%d/", id), Count: 1},
	)
	// Other routes are not affected.
	resp, b := do(t, "GET", fmt.Sprintf("%s/userfiles/%d", f.u, id), f.tok, "")
	mustStatus(t, resp, b, 200)
	for range 2 {
		resp, b, err := rawGet(t, u, f.tok)
		if err != nil || resp.StatusCode != 503 || string(b) != `{"error":"Service Unavailable"}` || resp.Header.Get("Retry-After") != "3" {
			t.Fatalf("503: %d %q Retry-After=%q %v", resp.StatusCode, b, resp.Header.Get("Retry-After"), err)
		}
	}
	resp, b, err := rawGet(t, u, f.tok)
	if resp.StatusCode != 200 || err == nil || len(b) >= len(body) {
		t.Fatalf("reset: %d, read %d, %v", resp.StatusCode, len(b), err)
	}
	if resp, b, err = rawGet(t, u, f.tok); err != nil || !bytes.Equal(b, body) {
		t.Fatalf("after the faults: %d, %d bytes, %v", resp.StatusCode, len(b), err)
	}
	if st := f.s.Stats(); st.ByRoute["GET /userfiles/:id/content"] != 4 {
		t.Fatalf("faulted requests must be counted: %+v", st.ByRoute)
	}
	if st := f.s.Faults().Stats(); st[faults.Status] != 2 || st[faults.Reset] != 1 {
		t.Fatalf("fault stats %v", st)
	}
}

func TestFaultsFromOptions(t *testing.T) {
	in := faults.New(1)
	s, err := New(Options{DataDir: t.TempDir(), Faults: in})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Faults() != in {
		t.Fatal("Faults must return Options.Faults")
	}
	uid := s.AddUser("norm", "normpw", false)
	tok := s.NewToken(uid)
	dp := s.AddProvider("LocalDP", uid, ProviderOptions{})
	s.AddFile(FileSpec{Name: "a.txt", ProviderID: dp, OwnerID: uid, Content: []byte("A")})
	// A JSON listing has no Content-Length of its own: the short body
	// still announces its full length.
	in.Add(faults.Rule{Kind: faults.Short, After: 10, Route: "=GET /userfiles", Count: 1})
	resp, b, err := rawGet(t, s.URL()+"/userfiles", tok)
	if !errors.Is(err, io.ErrUnexpectedEOF) || len(b) != 10 || resp.ContentLength <= 10 {
		t.Fatalf("short: length %d, read %q, %v", resp.ContentLength, b, err)
	}
}

func TestCorruptDownloads(t *testing.T) {
	f := newFixture(t)
	body := []byte("0123456789abcdefghij")
	id := f.s.AddFile(FileSpec{Name: "a.txt", ProviderID: f.dp, OwnerID: f.user, Content: body})
	u := fmt.Sprintf("%s/userfiles/%d/content", f.u, id)
	f.s.SetCorruptDownloads(true)
	resp, b := do(t, "GET", u, f.tok, "")
	mustStatus(t, resp, b, 200)
	if resp.ContentLength != int64(len(body)) || len(b) != len(body) || b[10] != ^body[10] ||
		!bytes.Equal(b[:10], body[:10]) || !bytes.Equal(b[11:], body[11:]) {
		t.Fatalf("corrupt: %q (length %d), want only byte 10 of %q altered", b, resp.ContentLength, body)
	}
	f.s.SetCorruptDownloads(false)
	if resp, b = do(t, "GET", u, f.tok, ""); !bytes.Equal(b, body) {
		t.Fatalf("knob off: %q", b)
	}
}
