package vrchattest

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Each DownloadMode leads to the bytes its own way: to the object store,
// through a second URL on the API host that needs the cookies, or at once.
func TestDownloadModes(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789"), 100)
	for _, mode := range []DownloadMode{DownloadToStorage, DownloadOnAPIHost, DownloadDirect} {
		t.Run(mode.String(), func(t *testing.T) {
			s := newServer(t, func(o *Options) { o.Download = mode })
			uid, auth := loggedIn(t, s)
			id := s.AddFile(FileSpec{OwnerID: uid, Name: "world", MimeType: "application/x-world", Extension: ".vrcw",
				Versions: []VersionSpec{{Content: content}}})
			resp, b := do(t, "GET", s.URL()+"/file/"+id+"/1", nil, auth, header("Range", "bytes=10-19"))
			switch mode {
			case DownloadToStorage:
				mustStatus(t, resp, b, 302)
				if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, s.S3URL()+"/") {
					t.Fatalf("Location %q", loc)
				}
			case DownloadOnAPIHost:
				mustStatus(t, resp, b, 302)
				loc := resp.Header.Get("Location")
				if loc != s.URL()+"/file/"+id+"/1/file" {
					t.Fatalf("Location %q", loc)
				}
				// The second hop is an API route: without cookies, the
				// recorded "Missing Credentials".
				resp, b = do(t, "GET", loc, nil, header("Range", "bytes=10-19"))
				mustBody(t, resp, b, 401, missingCredsBody)
				resp, b = do(t, "GET", loc, nil, auth, header("Range", "bytes=10-19"))
				if mustStatus(t, resp, b, 206); string(b) != "0123456789" {
					t.Fatalf("second hop: %q", b)
				}
			case DownloadDirect:
				if mustStatus(t, resp, b, 206); string(b) != "0123456789" || resp.Header.Get("Content-Range") != "bytes 10-19/1000" {
					t.Fatalf("direct: %q %q", b, resp.Header.Get("Content-Range"))
				}
			}
		})
	}
}

// AssetRefusal refuses non-image Files only, at the first answer or (with
// AssetRefusedAtRedirect) where the redirect leads.
func TestAssetRefusal(t *testing.T) {
	for _, status := range []int{401, 403} {
		for _, mode := range []DownloadMode{DownloadToStorage, DownloadOnAPIHost, DownloadDirect} {
			for _, atRedirect := range []bool{false, true} {
				name := mode.String() + "/" + http.StatusText(status)
				if atRedirect {
					name += "/at-redirect"
				}
				t.Run(name, func(t *testing.T) {
					s := newServer(t, func(o *Options) { o.Download, o.AssetRefusal, o.AssetRefusedAtRedirect = mode, status, atRedirect })
					uid, auth := loggedIn(t, s)
					avatar := s.AddFile(FileSpec{OwnerID: uid, Name: "a", MimeType: "application/x-avatar", Extension: ".vrca",
						Versions: []VersionSpec{{Content: []byte("bundle")}}})
					pic := s.AddFile(FileSpec{OwnerID: uid, Name: "p", MimeType: "image/png", Extension: ".png",
						Versions: []VersionSpec{{Content: PNG(4, 4, 1)}}})
					// follow the redirects by hand, with the cookies on the API host only
					get := func(id string) (int, []byte) {
						u := s.URL() + "/file/" + id + "/1"
						hops := 0
						for {
							var resp *http.Response
							var b []byte
							if strings.HasPrefix(u, s.URL()) {
								resp, b = do(t, "GET", u, nil, auth)
							} else {
								resp, b = do(t, "GET", u, nil)
							}
							if resp.StatusCode != 302 {
								if hops == 0 && atRedirect && mode != DownloadDirect && resp.StatusCode == status {
									t.Errorf("refused at the first answer, not at the redirect")
								}
								return resp.StatusCode, b
							}
							u = resp.Header.Get("Location")
							hops++
						}
					}
					if code, b := get(avatar); code != status {
						t.Errorf("avatar: HTTP %d %s, want %d", code, b, status)
					}
					if code, _ := get(pic); code != 200 {
						t.Errorf("image: HTTP %d, want 200", code)
					}
				})
			}
		}
	}
}

// The 429 carries no Retry-After; hammering (5 refused requests within
// the window) lengthens a lockout and is counted.
func TestLockoutLengthensWhenHammered(t *testing.T) {
	s := newServer(t, func(o *Options) { o.RateLockout = time.Hour })
	_, auth := loggedIn(t, s)
	s.LockOut()
	for i := 0; i < 4; i++ {
		resp, b := do(t, "GET", s.URL()+"/files", nil, auth)
		if mustStatus(t, resp, b, 429); resp.Header.Get("Retry-After") != "" {
			t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
		}
	}
	if st := s.Stats(); st.RateLimited != 4 || st.LockoutsLengthened != 0 {
		t.Fatalf("after 4: %+v", st)
	}
	s.mu.Lock()
	before := s.st.lockedUntil
	s.mu.Unlock()
	resp, b := do(t, "GET", s.URL()+"/files", nil, auth)
	mustStatus(t, resp, b, 429)
	s.mu.Lock()
	after := s.st.lockedUntil
	s.mu.Unlock()
	if st := s.Stats(); st.LockoutsLengthened != 1 || !after.After(before) {
		t.Fatalf("the 5th within the window: %+v, lockout %v → %v", st, before, after)
	}
	// A lockout that has ended lets requests through.
	s.mu.Lock()
	s.st.lockedUntil = time.Now().Add(-time.Second)
	s.mu.Unlock()
	resp, b = do(t, "GET", s.URL()+"/files", nil, auth)
	mustStatus(t, resp, b, 200)
}

// Requests spread wider than the window are not hammering.
func TestSpacedRequestsAreNotHammering(t *testing.T) {
	s := newServer(t, func(o *Options) { o.RateHammerWindow = time.Nanosecond })
	_, auth := loggedIn(t, s)
	s.SetRateLimited(true)
	for i := 0; i < 8; i++ {
		resp, b := do(t, "GET", s.URL()+"/files", nil, auth)
		mustStatus(t, resp, b, 429)
	}
	if st := s.Stats(); st.RateLimited != 8 || st.LockoutsLengthened != 0 {
		t.Fatalf("%+v", st)
	}
}
