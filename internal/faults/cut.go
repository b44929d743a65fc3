package faults

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
)

// ErrInjected is what the handler's writes return once a body fault has
// taken the connection away (or the client left during a stall).
var ErrInjected = errors.New("faults: connection cut by an injected fault")

// cutWriter delivers a Reset, Short or Stall fault inside the handler's
// body. It is used by one handler goroutine only, like any
// http.ResponseWriter.
type cutWriter struct {
	w     http.ResponseWriter
	rc    *http.ResponseController
	ctx   context.Context
	rule  Rule
	fired func() // counts the fault

	status int // 0 until the handler's WriteHeader (or first Write)
	mode   int
	limit  int64 // stream mode: body bytes to pass before the fault
	sent   int64
	buf    bytes.Buffer // buffer mode: the whole body
	done   bool         // the fault has been delivered
	dead   bool         // ... and the connection is unusable: writes fail
}

const (
	modePass   = iota + 1 // empty body announced: nothing to cut
	modeStream            // Content-Length known: pass bytes, cut at limit
	modeBuffer            // length unknown: buffer, send at finish
)

func (c *cutWriter) Header() http.Header { return c.w.Header() }

func (c *cutWriter) WriteHeader(code int) {
	if c.status != 0 || c.dead {
		return
	}
	if code < 200 { // informational (100, 103): passes, the real one follows
		c.w.WriteHeader(code)
		return
	}
	c.status = code
	n, err := strconv.ParseInt(c.w.Header().Get("Content-Length"), 10, 64)
	switch {
	case code == http.StatusNoContent || code == http.StatusNotModified || err == nil && n == 0:
		c.mode = modePass
		c.w.WriteHeader(code)
	case err == nil && n > 0:
		c.mode = modeStream
		c.limit = min(c.rule.After, n-1)
		c.w.WriteHeader(code)
		if c.limit == 0 {
			c.fault()
		}
	default:
		c.mode = modeBuffer
	}
}

func (c *cutWriter) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.WriteHeader(http.StatusOK)
	}
	switch {
	case c.dead:
		return 0, ErrInjected
	case c.mode == modeBuffer:
		return c.buf.Write(p)
	case c.mode == modePass || c.done:
		return c.w.Write(p)
	}
	room := c.limit - c.sent
	if int64(len(p)) < room {
		n, err := c.w.Write(p)
		c.sent += int64(n)
		return n, err
	}
	n, err := c.w.Write(p[:room])
	c.sent += int64(n)
	if err != nil {
		return n, err
	}
	c.fault()
	if c.dead {
		return n, ErrInjected
	}
	m, err := c.w.Write(p[room:]) // a stall that ended: the rest follows
	return n + m, err
}

// Flush passes the handler's flushes on, except while the body is being
// buffered (the headers are not known to be final yet).
func (c *cutWriter) Flush() {
	if c.mode != modeBuffer && !c.dead {
		c.rc.Flush()
	}
}

// finish runs after the handler: it sends a buffered body with its
// length, or delivers a fault the handler's short body never reached.
func (c *cutWriter) finish() {
	if c.status == 0 {
		c.WriteHeader(http.StatusOK)
	}
	switch {
	case c.dead || c.done || c.mode == modePass:
	case c.mode == modeStream:
		c.fault() // the handler wrote less than it announced
	case c.buf.Len() == 0:
		c.w.WriteHeader(c.status)
	default:
		b := c.buf.Bytes()
		c.w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		c.w.WriteHeader(c.status)
		c.limit = min(c.rule.After, int64(len(b))-1)
		c.w.Write(b[:c.limit])
		c.fault()
		if !c.dead {
			c.w.Write(b[c.limit:])
		}
	}
}

// fault delivers the rule's fault now: what was written so far is put on
// the wire first.
func (c *cutWriter) fault() {
	c.done = true
	c.fired()
	c.rc.Flush()
	switch c.rule.Kind {
	case Stall:
		if !sleep(c.ctx, c.rule.Delay) {
			c.dead = true // the client gave up; net/http closes the connection
		}
	case Reset, Short:
		c.dead = true
		conn, _, err := c.rc.Hijack()
		if err != nil {
			// Not hijackable (HTTP/2, a recorder): the short write is
			// still noticed, since net/http closes a connection whose
			// body fell short of its Content-Length.
			return
		}
		if tc, ok := conn.(*net.TCPConn); ok && c.rule.Kind == Reset {
			tc.SetLinger(0) // close sends an RST, discarding unsent bytes
		}
		conn.Close()
	}
}
