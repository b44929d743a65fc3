package cbrain_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/filesmount/filesmount/internal/retry"
	"github.com/filesmount/filesmount/remote"
	"github.com/filesmount/filesmount/remote/cbrain"
)

// These tests use a plain httptest server that misbehaves on purpose.

var fastRetry = retry.Policy{Initial: time.Millisecond, Max: 5 * time.Millisecond, MaxAttempts: 5, MaxElapsed: 10 * time.Second}

func faultyPortal(t *testing.T, h http.HandlerFunc) *cbrain.Client {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	c, err := cbrain.NewClient(cbrain.Config{URL: ts.URL, Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	c.Retry = fastRetry
	c.IdleTimeout = 200 * time.Millisecond
	c.PollInterval = time.Millisecond
	return c
}

// reset drops the connection without an answer.
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		conn.Close()
	}
}

func TestGETRetriedThroughFaults(t *testing.T) {
	var n atomic.Int32
	c := faultyPortal(t, func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			w.WriteHeader(503)
		case 2:
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(429)
		case 3:
			reset(w)
		default:
			io.WriteString(w, `{"user_id": 3}`)
		}
	})
	start := time.Now()
	id, err := c.CheckSession(context.Background())
	if err != nil || id != 3 || n.Load() != 4 {
		t.Fatalf("CheckSession = %d, %v after %d requests", id, err, n.Load())
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("done after %v: Retry-After: 1 not honoured", d)
	}
}

func TestGETGivesUpSayingHow(t *testing.T) {
	var n atomic.Int32
	c := faultyPortal(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(502)
	})
	_, err := c.CheckSession(context.Background())
	var se *remote.StatusError
	if !errors.Is(err, remote.ErrUnavailable) || !errors.As(err, &se) || se.Code != 502 ||
		!strings.Contains(err.Error(), "gave up after 5 attempts") || n.Load() != 5 {
		t.Errorf("err = %v after %d requests", err, n.Load())
	}
	// A refusal is not retried.
	n.Store(0)
	c = faultyPortal(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(403)
	})
	if _, err := c.CheckSession(context.Background()); !errors.Is(err, remote.ErrPermission) || n.Load() != 1 {
		t.Errorf("403: %v after %d requests", err, n.Load())
	}
}

func TestUploadPOSTNeverRetriedBlindly(t *testing.T) {
	for _, fault := range []string{"503", "reset"} {
		t.Run(fault, func(t *testing.T) {
			var mu sync.Mutex
			var posts, lookups int
			c := faultyPortal(t, func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				switch {
				case r.URL.Path == "/session":
					io.WriteString(w, `{"user_id": 3}`)
				case r.URL.Path == "/users/3":
					io.WriteString(w, `{"login": "norm"}`)
				case r.URL.Path == "/groups":
					io.WriteString(w, `[{"id": 9, "name": "norm", "type": "UserGroup"}]`)
				case r.URL.Path == "/userfiles" && r.Method == http.MethodGet:
					lookups++
					io.WriteString(w, `[]`) // the POST never landed
				case r.URL.Path == "/userfiles" && r.Method == http.MethodPost:
					posts++
					io.Copy(io.Discard, r.Body)
					if fault == "503" {
						w.WriteHeader(503)
					} else {
						reset(w)
					}
				default:
					t.Errorf("unexpected %s %s", r.Method, r.URL)
					w.WriteHeader(404)
				}
			})
			s := cbrain.NewStore(c)
			src := remote.Source{ReaderAt: strings.NewReader("data"), Size: 4}
			_, err := s.Upload(context.Background(), remote.Entry{ID: "dp/1", IsDir: true}, "a.txt", src, nil)
			mu.Lock()
			defer mu.Unlock()
			// Every POST is preceded by a lookup that found nothing: the
			// first one before it, each later one after the failed POST.
			if !errors.Is(err, remote.ErrUnavailable) || posts < 2 || lookups != posts+1 {
				t.Errorf("err = %v; %d POSTs, %d lookups (want a lookup before every POST)", err, posts, lookups)
			}
		})
	}
}

// content serves /userfiles/7/content with a Content-Length of 100 and
// then does what body says after the first 10 bytes.
func content(t *testing.T, after func(w http.ResponseWriter, r *http.Request)) *cbrain.Store {
	c := faultyPortal(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/userfiles/7/content" {
			w.WriteHeader(404)
			return
		}
		w.Header().Set("Content-Length", "100")
		w.Write([]byte("0123456789"))
		http.NewResponseController(w).Flush()
		after(w, r)
	})
	return cbrain.NewStore(c)
}

func readEntry(t *testing.T, s *cbrain.Store) ([]byte, error) {
	t.Helper()
	b, err := s.Open(context.Background(), remote.Entry{ID: "uf/7", Name: "x.bin", Size: 100}, 0, -1)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer b.Close()
	return io.ReadAll(b)
}

func TestStalledBodyTimesOut(t *testing.T) {
	s := content(t, func(w http.ResponseWriter, r *http.Request) {
		select { // stall, until the client gives up
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	start := time.Now()
	got, err := readEntry(t, s)
	if !errors.Is(err, remote.ErrTimeout) || errors.Is(err, context.Canceled) || string(got) != "0123456789" {
		t.Errorf("read %q, %v", got, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("gave up after %v; the idle timeout is 200ms", d)
	}
}

func TestShortBodyIsAnError(t *testing.T) {
	for name, after := range map[string]func(http.ResponseWriter, *http.Request){
		"closed early": func(http.ResponseWriter, *http.Request) {}, // returns: the server closes the connection
		"reset":        func(w http.ResponseWriter, _ *http.Request) { reset(w) },
	} {
		t.Run(name, func(t *testing.T) {
			got, err := readEntry(t, content(t, after))
			if err == nil || err == io.EOF || !errors.Is(err, remote.ErrCorrupt) && !errors.Is(err, remote.ErrUnavailable) {
				t.Errorf("read %d bytes, %v; want an error", len(got), err)
			}
			t.Logf("%v", err)
		})
	}
}

// TestDeleteRepeatedOnlyWhenNotProcessed: delete_files is sent again
// after a 429 or 503 (the request never reached the portal), never after a
// dropped connection or a 500 (it may have been processed).
func TestDeleteRepeatedOnlyWhenNotProcessed(t *testing.T) {
	for _, tc := range []struct {
		fault   string
		deletes int
		ok      bool
	}{{"429", 2, true}, {"503", 2, true}, {"500", 1, false}, {"reset", 1, false}} {
		t.Run(tc.fault, func(t *testing.T) {
			var mu sync.Mutex
			deletes := 0
			c := faultyPortal(t, func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				switch {
				case r.URL.Path == "/userfiles/delete_files":
					deletes++
					if deletes == 1 {
						switch tc.fault {
						case "reset":
							reset(w)
						case "429":
							w.WriteHeader(429)
						case "503":
							w.WriteHeader(503)
						default:
							w.WriteHeader(500)
						}
						return
					}
					io.WriteString(w, `{"message":"deleting","background_activity_id":7}`)
				case r.URL.Path == "/background_activities/7":
					io.WriteString(w, `{"id":7,"status":"Completed","num_successes":1,"num_failures":0,"items":["5"],"messages":[""]}`)
				default:
					t.Errorf("unexpected %s %s", r.Method, r.URL)
					w.WriteHeader(404)
				}
			})
			_, err := c.Delete(context.Background(), 5)
			mu.Lock()
			n := deletes
			mu.Unlock()
			if (err == nil) != tc.ok || n != tc.deletes {
				t.Errorf("err %v after %d DELETEs; want ok=%v after %d", err, n, tc.ok, tc.deletes)
			}
		})
	}
}
