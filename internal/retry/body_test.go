package retry

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/filesmount/filesmount/remote"
)

func TestIdleTimeoutAbortsAStall(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	go pw.Write([]byte("abc")) // then nothing
	var cancelled atomic.Bool
	r := IdleTimeoutReader(pr, 50*time.Millisecond, func() { cancelled.Store(true); pr.CloseWithError(context.Canceled) })
	buf := make([]byte, 10)
	if n, err := r.Read(buf); n != 3 || err != nil {
		t.Fatalf("first read: %d, %v", n, err)
	}
	start := time.Now()
	_, err := r.Read(buf)
	if !errors.Is(err, remote.ErrTimeout) || errors.Is(err, context.Canceled) || !cancelled.Load() {
		t.Errorf("stalled read: %v (cancelled %v)", err, cancelled.Load())
	}
	if d := time.Since(start); d < 50*time.Millisecond || d > time.Second {
		t.Errorf("aborted after %v, want about 50ms", d)
	}
	if _, err := r.Read(buf); !errors.Is(err, remote.ErrTimeout) {
		t.Errorf("read after the abort: %v", err)
	}
}

func TestIdleTimeoutIgnoresASlowConsumer(t *testing.T) {
	var cancelled atomic.Bool
	r := IdleTimeoutReader(io.NopCloser(strings.NewReader("abcdef")), 20*time.Millisecond, func() { cancelled.Store(true) })
	buf := make([]byte, 2)
	var got []byte
	for {
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(40 * time.Millisecond) // the consumer is slow, not the server
	}
	if string(got) != "abcdef" || cancelled.Load() {
		t.Errorf("got %q, cancelled %v", got, cancelled.Load())
	}
	r.Close()
}

func TestIdleTimeoutCloseCancels(t *testing.T) {
	var cancelled atomic.Bool
	r := IdleTimeoutReader(io.NopCloser(strings.NewReader("x")), time.Second, func() { cancelled.Store(true) })
	r.Close()
	if !cancelled.Load() {
		t.Error("Close did not release the request's context")
	}
}

type errReader struct {
	data string
	err  error
}

func (e *errReader) Read(p []byte) (int, error) {
	if e.data == "" {
		return 0, e.err
	}
	n := copy(p, e.data)
	e.data = e.data[n:]
	return n, nil
}

func readAll(r io.Reader) (string, error) {
	b, err := io.ReadAll(r)
	return string(b), err
}

func TestExactLength(t *testing.T) {
	nop := func(r io.Reader) io.ReadCloser { return io.NopCloser(r) }
	if got, err := readAll(ExactLengthReader(nop(strings.NewReader("hello")), 5)); got != "hello" || err != nil {
		t.Errorf("exact: %q, %v", got, err)
	}
	if got, err := readAll(ExactLengthReader(nop(strings.NewReader("hello")), -1)); got != "hello" || err != nil {
		t.Errorf("unknown length: %q, %v", got, err)
	}
	// Short: an error, never a clean EOF.
	got, err := readAll(ExactLengthReader(nop(strings.NewReader("hel")), 5))
	if got != "hel" || !errors.Is(err, remote.ErrCorrupt) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short: %q, %v", got, err)
	}
	// The transport's own report of a short body.
	_, err = readAll(ExactLengthReader(nop(&errReader{"he", io.ErrUnexpectedEOF}), -1))
	if !errors.Is(err, remote.ErrCorrupt) || !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), "after 2 of an unknown length") {
		t.Errorf("transport short: %v", err)
	}
	// Long: the extra bytes are not delivered.
	got, err = readAll(ExactLengthReader(nop(strings.NewReader("hello world")), 5))
	if got != "hello" || !errors.Is(err, remote.ErrCorrupt) {
		t.Errorf("long: %q, %v", got, err)
	}
	reset := errors.New("connection reset by peer")
	_, err = readAll(ExactLengthReader(nop(&errReader{"he", reset}), 5))
	if !errors.Is(err, remote.ErrUnavailable) || !errors.Is(err, reset) {
		t.Errorf("reset: %v", err)
	}
	_, err = readAll(ExactLengthReader(nop(&errReader{"he", context.Canceled}), 5))
	if err != context.Canceled {
		t.Errorf("the caller's cancellation must pass unchanged: %v", err)
	}
}
