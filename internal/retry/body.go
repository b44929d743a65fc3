package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/filesmount/filesmount/remote"
)

// WatchBody wraps a response body with both guards: IdleTimeoutReader
// (idle, cancel) and ExactLengthReader (want, -1 if unknown). Its errors
// (but not io.EOF) start with what, which names the request, so that the
// one line the filesystem logs says what failed.
func WatchBody(rc io.ReadCloser, what string, want int64, idle time.Duration, cancel func()) io.ReadCloser {
	return &labelled{ExactLengthReader(IdleTimeoutReader(rc, idle, cancel), want), what}
}

type labelled struct {
	io.ReadCloser
	what string
}

func (l *labelled) Read(p []byte) (int, error) {
	n, err := l.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%s: %w", l.what, err)
	}
	return n, err
}

// IdleTimeoutReader aborts r when a Read waits more than idle for a byte:
// it calls cancel (which should cancel the request's context, the only
// way to unblock a read of an HTTP body; if nil, r is closed instead), and
// that Read and every later one return an error wrapping
// remote.ErrTimeout. Time between Reads does not count: a slow consumer
// is not a stalled server. Close closes r and calls cancel. idle <= 0
// disables the guard.
func IdleTimeoutReader(r io.ReadCloser, idle time.Duration, cancel func()) io.ReadCloser {
	if idle <= 0 {
		return &cancelCloser{ReadCloser: r, cancel: cancel}
	}
	ir := &idleReader{r: r, idle: idle, cancel: cancel}
	ir.t = time.AfterFunc(time.Hour, ir.fire)
	ir.t.Stop()
	return ir
}

type idleReader struct {
	r      io.ReadCloser
	idle   time.Duration
	cancel func()
	t      *time.Timer
	fired  atomic.Bool
	once   sync.Once
}

func (ir *idleReader) fire() {
	ir.fired.Store(true)
	if ir.cancel != nil {
		ir.cancel()
	} else {
		ir.r.Close()
	}
}

func (ir *idleReader) Read(p []byte) (int, error) {
	if ir.fired.Load() {
		return 0, ir.timeout()
	}
	ir.t.Reset(ir.idle)
	n, err := ir.r.Read(p)
	ir.t.Stop()
	if err != nil && err != io.EOF && ir.fired.Load() {
		// Not the context's "canceled", which would read as the caller
		// giving up (EINTR) rather than the server stalling.
		return n, ir.timeout()
	}
	return n, err
}

func (ir *idleReader) timeout() error {
	return fmt.Errorf("no data received for %s: %w", ir.idle, remote.ErrTimeout)
}

func (ir *idleReader) Close() error {
	var err error
	ir.once.Do(func() {
		ir.t.Stop()
		err = ir.r.Close()
		if ir.cancel != nil {
			ir.cancel()
		}
	})
	return err
}

type cancelCloser struct {
	io.ReadCloser
	cancel func()
}

func (c *cancelCloser) Close() error {
	err := c.ReadCloser.Close()
	if c.cancel != nil {
		c.cancel()
	}
	return err
}

// ExactLengthReader makes r's errors say what went wrong, so that a broken
// transfer is never taken for the end of the object:
//
//   - if want >= 0 and r ends before want bytes (or the transport reports
//     io.ErrUnexpectedEOF), Read returns an error wrapping remote.ErrCorrupt
//     and io.ErrUnexpectedEOF, never io.EOF; bytes beyond want are not
//     returned but reported the same way;
//   - other read errors (a reset connection) wrap remote.ErrUnavailable;
//     errors that already wrap remote.ErrTimeout, and the caller's own
//     context cancellation, are passed on.
func ExactLengthReader(r io.ReadCloser, want int64) io.ReadCloser {
	return &exactReader{r: r, want: want}
}

type exactReader struct {
	r    io.ReadCloser
	want int64
	got  int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.got += int64(n)
	if e.want >= 0 && e.got > e.want {
		n -= int(e.got - e.want)
		e.got = e.want
		return n, fmt.Errorf("body longer than the announced %d bytes: %w", e.want, remote.ErrCorrupt)
	}
	switch {
	case err == nil:
		return n, nil
	case err == io.EOF:
		if e.want >= 0 && e.got < e.want {
			return n, e.short()
		}
		return n, io.EOF
	case errors.Is(err, io.ErrUnexpectedEOF):
		return n, e.short()
	case errors.Is(err, remote.ErrTimeout):
		return n, fmt.Errorf("body stalled after %d bytes: %w", e.got, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return n, err
	}
	return n, fmt.Errorf("body broken after %d bytes: %w: %w", e.got, err, remote.ErrUnavailable)
}

func (e *exactReader) short() error {
	want := "an unknown length"
	if e.want >= 0 {
		want = fmt.Sprintf("%d bytes", e.want)
	}
	return fmt.Errorf("body ended after %d of %s: %w: %w", e.got, want, remote.ErrCorrupt, io.ErrUnexpectedEOF)
}

func (e *exactReader) Close() error { return e.r.Close() }
