package vrchattest

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestDeterministicContent(t *testing.T) {
	const size = 3*detBlock + 777
	a := DeterministicContent(42, size)
	whole := make([]byte, size)
	if n, err := a.ReadAt(whole, 0); n != size || err != nil {
		t.Fatalf("ReadAt = %d, %v", n, err)
	}
	// Any split reads the same bytes; another instance too.
	b := DeterministicContent(42, size)
	for _, off := range []int64{0, 1, 7, 8, detBlock - 3, detBlock, 2*detBlock + 5, size - 10} {
		p := make([]byte, 100)
		n, err := b.ReadAt(p, off)
		if want := min(100, int(size-off)); n != want || !bytes.Equal(p[:n], whole[off:off+int64(n)]) {
			t.Fatalf("off %d: n=%d err=%v", off, n, err)
		}
	}
	if _, err := a.ReadAt(make([]byte, 1), size); err != io.EOF {
		t.Fatalf("past end: %v", err)
	}
	// Blocks differ from each other; seeds differ.
	for i := 1; i < 3; i++ {
		if bytes.Equal(whole[:detBlock], whole[i*detBlock:(i+1)*detBlock]) {
			t.Fatalf("block %d repeats block 0", i)
		}
	}
	c := make([]byte, 64)
	DeterministicContent(43, size).ReadAt(c, 0)
	if bytes.Equal(c, whole[:64]) {
		t.Fatal("seeds 42 and 43 agree")
	}
}

func TestPNG(t *testing.T) {
	img, err := png.Decode(bytes.NewReader(PNG(17, 9, 1)))
	if err != nil || img.Bounds().Dx() != 17 || img.Bounds().Dy() != 9 {
		t.Fatalf("PNG: %v %v", err, img.Bounds())
	}
	if bytes.Equal(PNG(8, 8, 1), PNG(8, 8, 2)) {
		t.Fatal("seed ignored")
	}
}

func TestSeedDemo(t *testing.T) {
	s := newServer(t)
	uid, err := SeedDemo(s)
	if err != nil {
		t.Fatal(err)
	}
	totp, _, _ := s.TwoFactorCodes(uid)
	resp, b := do(t, "GET", s.URL()+"/auth/user", nil, basic(DemoUsername, DemoPassword))
	mustBody(t, resp, b, 200, totpChallenge)
	authc := cookieValue(t, resp, "auth")
	resp, b = do(t, "POST", s.URL()+"/auth/twofactorauth/totp/verify", jsonBody(`{"code":"`+totp+`"}`), cookies(authc, ""))
	mustBody(t, resp, b, 200, `{"verified":true}`)
	auth := cookies(authc, cookieValue(t, resp, "twoFactorAuth"))

	resp, b = do(t, "GET", s.URL()+"/files?n=100", nil, auth)
	mustStatus(t, resp, b, 200)
	files := decode[[]apiFile](t, b)
	byName := map[string][]apiFile{}
	for _, f := range files {
		byName[f.Name] = append(byName[f.Name], f)
	}
	if len(byName[DemoDuplicateName]) != 2 {
		t.Fatalf("duplicate names: %d", len(byName[DemoDuplicateName]))
	}
	var avatar, waiting *apiFile
	tags := map[string]int{}
	for i, f := range files {
		for _, tg := range f.Tags {
			tags[tg]++
		}
		switch f.MimeType {
		case "application/x-avatar":
			avatar = &files[i]
		case "application/x-world":
			waiting = &files[i]
		case "image/png":
			if len(f.Tags) == 0 && (len(f.Versions) < 3 || len(f.Versions) > 4) {
				t.Errorf("%s: %d versions", f.Name, len(f.Versions))
			}
			last := len(f.Versions) - 1
			resp, b := fetch(t, s, fmt.Sprintf("/file/%s/%d", f.ID, last), auth)
			mustStatus(t, resp, b, 200)
			if _, err := png.Decode(bytes.NewReader(b)); err != nil {
				t.Errorf("%s: not a PNG: %v", f.Name, err)
			}
			if md := f.Versions[last].File.MD5; md != "" && md != md5b64(b) {
				t.Errorf("%s: md5 mismatch", f.Name)
			}
		}
	}
	if tags["gallery"] != 1 || tags["icon"] != 1 || avatar == nil || avatar.Extension != ".vrca" || waiting == nil {
		t.Fatalf("demo set: tags %v avatar %v waiting %v", tags, avatar != nil, waiting != nil)
	}
	if v := waiting.Versions; v[len(v)-1].Status != "waiting" {
		t.Fatalf("unfinished: %+v", v[len(v)-1])
	}
	resp, b = do(t, "GET", s.URL()+"/analysis/"+avatar.ID+"/2", nil, auth)
	mustStatus(t, resp, b, 200)
	resp, b = do(t, "GET", s.URL()+"/analysis/"+avatar.ID+"/1", nil, auth)
	mustStatus(t, resp, b, 202)
}

// TestLargeGenerated serves a 1 GiB generated version: full download and
// ranges, with a bounded heap.
func TestLargeGenerated(t *testing.T) {
	if testing.Short() {
		t.Skip("1 GiB")
	}
	const size = 1 << 30
	s := newServer(t)
	uid, auth := loggedIn(t, s)
	src := DeterministicContent(1, size)
	id := s.AddFile(FileSpec{OwnerID: uid, Name: "big", Extension: ".vrcw", Versions: []VersionSpec{{Source: src, Size: size}}})
	f := getFile(t, s, id, auth)
	if f.Versions[1].File.SizeInBytes != size || f.Versions[1].File.Category != "multipart" {
		t.Fatalf("big version: %+v", f.Versions[1].File)
	}

	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	resp, b := do(t, "GET", s.URL()+"/file/"+id+"/1", nil, auth)
	mustStatus(t, resp, b, 302)
	loc := resp.Header.Get("Location")
	req, _ := http.NewRequest("GET", loc, nil)
	r, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	h := md5.New()
	n, err := io.CopyBuffer(h, r.Body, make([]byte, 1<<20))
	r.Body.Close()
	close(stop)
	wg.Wait()
	if err != nil || n != size || base64.StdEncoding.EncodeToString(h.Sum(nil)) != f.Versions[1].File.MD5 {
		t.Fatalf("download: %d bytes, %v", n, err)
	}
	if p := peak.Load(); p > 256<<20 {
		t.Fatalf("heap peaked at %d MiB", p>>20)
	}
	t.Logf("1 GiB served; heap peak %d MiB", peak.Load()>>20)

	for _, off := range []int64{0, size / 2, size - 4096} {
		resp, b := do(t, "GET", loc, nil, header("Range", fmt.Sprintf("bytes=%d-%d", off, off+4095)))
		mustStatus(t, resp, b, 206)
		want := make([]byte, 4096)
		src.ReadAt(want, off)
		if !bytes.Equal(b, want) {
			t.Fatalf("range at %d differs", off)
		}
	}
	if st := s.Stats(); st.DownloadBytes != size+3*4096 {
		t.Fatalf("DownloadBytes %d", st.DownloadBytes)
	}
}

// TestConcurrent exercises the locks under -race.
func TestConcurrent(t *testing.T) {
	s := newServer(t)
	uid, auth := loggedIn(t, s)
	id := s.AddFile(FileSpec{OwnerID: uid, Name: "c", Extension: "png", Versions: []VersionSpec{{Content: PNG(16, 16, 1)}}})
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 10; j++ {
				req, _ := http.NewRequest("GET", s.URL()+"/file/"+id+"/1", nil)
				req.Header.Set("User-Agent", testUA)
				auth(req)
				r, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				r.Body.Close()
				r2, err := http.Get(r.Header.Get("Location"))
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, r2.Body)
				r2.Body.Close()
				s.AddVersion(id, VersionSpec{Content: []byte{byte(i), byte(j)}})
				_ = s.Stats()
			}
		}(i)
	}
	wg.Wait()
	if n := len(getFile(t, s, id, auth).Versions); n != 82 {
		t.Fatalf("%d versions", n)
	}
}
