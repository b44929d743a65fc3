package vrchat_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/filesmount/filesmount/internal/retry"
	"github.com/filesmount/filesmount/remote"
	"github.com/filesmount/filesmount/remote/vrchat"
)

// These tests use a plain httptest server that misbehaves on purpose.

var fastRetry = retry.Policy{Initial: time.Millisecond, Max: 5 * time.Millisecond, MaxAttempts: 4, MaxElapsed: 10 * time.Second}

func faultyAPI(t *testing.T, h http.HandlerFunc) (*vrchat.Client, string) {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	c, err := vrchat.NewClient(vrchat.Config{URL: ts.URL, UserAgent: "filesmount/test test@filesmount.test"})
	if err != nil {
		t.Fatal(err)
	}
	c.Retry = fastRetry
	c.IdleTimeout = 200 * time.Millisecond
	return c, ts.URL
}

// hangUp drops the connection without (the rest of) an answer.
func hangUp(w http.ResponseWriter) {
	http.NewResponseController(w).Flush()
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		conn.Close()
	}
}

const fileJSON = `{"id":"file_1","name":"P","mimeType":"image/png","extension":".png","versions":[
	{"version":0,"status":"complete"},
	{"version":1,"status":"complete","file":{"md5":"AAAAAAAAAAAAAAAAAAAAAA==","sizeInBytes":3,"status":"complete"}}]}`

func TestGETRetriedThroughFaults(t *testing.T) {
	var n atomic.Int32
	c, _ := faultyAPI(t, func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			w.WriteHeader(503)
		case 2:
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(429)
		case 3:
			hangUp(w)
		default:
			io.WriteString(w, fileJSON)
		}
	})
	f, err := c.File(context.Background(), "file_1")
	if err != nil || f.ID != "file_1" || n.Load() != 4 {
		t.Fatalf("File = %+v, %v after %d requests", f, err, n.Load())
	}
}

func TestVersionRefusalIsNotRetried(t *testing.T) {
	// VRChat's "500 with a 409 inside": a refusal, not an outage.
	var n atomic.Int32
	c, _ := faultyAPI(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(500)
		io.WriteString(w, `{"error":{"message":"409 Cannot delete against anything but the latest version","status_code":500}}`)
	})
	if _, err := c.File(context.Background(), "file_1"); !errors.Is(err, remote.ErrConflict) || n.Load() != 1 {
		t.Errorf("err = %v after %d requests", err, n.Load())
	}
}

func TestPOSTsNeverRetriedBlindly(t *testing.T) {
	for _, fault := range []string{"503", "reset"} {
		t.Run(fault, func(t *testing.T) {
			var mu sync.Mutex
			posts := map[string]int{}
			fail := func(w http.ResponseWriter) {
				if fault == "503" {
					w.WriteHeader(503)
				} else {
					hangUp(w)
				}
			}
			c, _ := faultyAPI(t, func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				switch {
				case r.Method == http.MethodPost:
					posts[r.URL.Path]++
					io.Copy(io.Discard, r.Body)
					fail(w)
				case r.URL.Path == "/files":
					io.WriteString(w, `[]`)
				case r.URL.Path == "/file/file_1":
					io.WriteString(w, fileJSON) // the POST never landed
				default:
					t.Errorf("unexpected %s %s", r.Method, r.URL)
					w.WriteHeader(404)
				}
			})
			s := vrchat.NewStore(c)
			ctx := context.Background()
			src := remote.Source{ReaderAt: strings.NewReader("png"), Size: 3}
			// POST /file/{id}: a new version of an existing File.
			if _, err := s.Upload(ctx, remote.Entry{ID: "f/file_1", Name: "P", IsDir: true}, "x.png", src, nil); err == nil {
				t.Error("upload of a version succeeded")
			}
			// POST /file: a new File.
			dir, err := s.Mkdir(ctx, remote.Entry{ID: "/", IsDir: true}, "New")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Upload(ctx, dir, "x.png", src, nil); err == nil {
				t.Error("upload of a new File succeeded")
			}
			mu.Lock()
			defer mu.Unlock()
			if posts["/file/file_1"] != 1 || posts["/file"] != 1 {
				t.Errorf("POSTs: %v; want one each", posts)
			}
		})
	}
}

// storage serves a version of data through the API's redirect to a
// storage host whose answers fault(request number, w, r) may spoil; it
// returns true if it answered.
func storage(t *testing.T, data []byte, fault func(n int, w http.ResponseWriter, r *http.Request) bool) (*vrchat.Store, *atomic.Int32) {
	var n atomic.Int32
	c, base := faultyAPI(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/file/file_1/1":
			http.Redirect(w, r, "/storage/obj?X-Amz-Signature=s", http.StatusFound)
		case "/storage/obj":
			if !fault(int(n.Add(1)), w, r) {
				http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
			}
		default:
			w.WriteHeader(404)
		}
	})
	_ = base
	return vrchat.NewStore(c), &n
}

// partial answers a request (ranged or not) with the right headers but
// only the first k bytes of its body, then hangs up or stalls.
func partial(w http.ResponseWriter, r *http.Request, data []byte, k int, stall bool) {
	start, end := 0, len(data)-1
	if h := r.Header.Get("Range"); h != "" {
		s, e, _ := strings.Cut(strings.TrimPrefix(h, "bytes="), "-")
		start, _ = strconv.Atoi(s)
		if e != "" {
			end, _ = strconv.Atoi(e)
		}
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, len(data)))
		w.Header().Set("Content-Length", strconv.Itoa(end-start+1))
		w.WriteHeader(http.StatusPartialContent)
	} else {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	}
	w.Write(data[start : start+k])
	if stall {
		http.NewResponseController(w).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		return
	}
	hangUp(w)
}

func testData() []byte {
	data := make([]byte, 100_000)
	for i := range data {
		data[i] = byte(i * 7 / 3)
	}
	return data
}

func read(t *testing.T, s *vrchat.Store, off, length int64) ([]byte, error) {
	t.Helper()
	b, err := s.Open(context.Background(), remote.Entry{ID: "v/file_1/1", Name: "1.png", Size: 100_000}, off, length)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer b.Close()
	if b.Offset != off {
		t.Errorf("body starts at %d, asked for %d", b.Offset, off)
	}
	return io.ReadAll(b)
}

func TestDownloadResumesAfterABreak(t *testing.T) {
	data := testData()
	for _, c := range []struct {
		name        string
		off, length int64
		stall       bool
	}{
		{"whole, reset", 0, -1, false},
		{"range, reset", 1000, 50_000, false},
		{"range, stall", 1000, 50_000, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var ranges []string
			s, n := storage(t, data, func(n int, w http.ResponseWriter, r *http.Request) bool {
				ranges = append(ranges, r.Header.Get("Range"))
				if n <= 2 { // two breaks, each after 1234 more bytes
					partial(w, r, data, 1234, c.stall)
					return true
				}
				return false
			})
			got, err := read(t, s, c.off, c.length)
			want := data[c.off:]
			if c.length > 0 {
				want = want[:c.length]
			}
			if err != nil || !bytes.Equal(got, want) || n.Load() != 3 {
				t.Fatalf("read %d bytes (want %d, equal %v), %v, after requests %q", len(got), len(want), bytes.Equal(got, want), err, ranges)
			}
			end := c.off + int64(len(want)) - 1
			if ranges[1] != fmt.Sprintf("bytes=%d-%d", c.off+1234, end) || ranges[2] != fmt.Sprintf("bytes=%d-%d", c.off+2468, end) {
				t.Errorf("resumed with %q", ranges)
			}
		})
	}
}

func TestDownloadFailsRatherThanServeWrongBytes(t *testing.T) {
	data := testData()
	t.Run("always stalls", func(t *testing.T) {
		s, n := storage(t, data, func(_ int, w http.ResponseWriter, r *http.Request) bool {
			partial(w, r, data, 10, true)
			return true
		})
		start := time.Now()
		got, err := read(t, s, 0, 1000)
		t.Logf("%v", err)
		// 4 attempts in all: the first request and 3 resumes.
		if !errors.Is(err, remote.ErrTimeout) || errors.Is(err, context.Canceled) || len(got) != 40 || n.Load() != 4 {
			t.Errorf("read %d bytes, %v after %d requests", len(got), err, n.Load())
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("gave up after %v", d)
		}
	})
	t.Run("resume answered with the whole object", func(t *testing.T) {
		s, n := storage(t, data, func(n int, w http.ResponseWriter, r *http.Request) bool {
			switch n {
			case 1:
				partial(w, r, data, 10, false)
			default: // no Range support after all
				w.Write(data)
			}
			return true
		})
		got, err := read(t, s, 0, 1000)
		t.Logf("%v", err)
		if !errors.Is(err, remote.ErrCorrupt) || !bytes.Equal(got, data[:len(got)]) || n.Load() != 2 {
			t.Errorf("read %d bytes, %v after %d requests", len(got), err, n.Load())
		}
	})
	t.Run("short without Range", func(t *testing.T) {
		// A broken 200 whose resume also breaks at once: an error, never EOF.
		s, _ := storage(t, data, func(n int, w http.ResponseWriter, r *http.Request) bool {
			partial(w, r, data, 0, false)
			return true
		})
		got, err := read(t, s, 0, -1)
		t.Logf("%v", err)
		if err == nil || !(errors.Is(err, remote.ErrCorrupt) || errors.Is(err, remote.ErrUnavailable)) || len(got) != 0 {
			t.Errorf("read %d bytes, %v", len(got), err)
		}
	})
}
