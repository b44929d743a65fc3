package vrchat

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/filesmount/filesmount/remote"
)

// Resuming downloads. Storage honours Range, so a body that breaks midway
// (reset, stalled past IdleTimeout, closed early) is continued with a
// request for the bytes still missing instead of failing the read and
// making the cache fetch the whole run again. A version's bytes never
// change (versions are immutable), so the pieces belong together; the
// continuation must still be a 206 that starts exactly at the first missing
// byte and names the same total size, or the read fails.

// rangeOpener is one request for bytes [off, off+length) and the absolute
// end of what it returns (-1 unknown).
type rangeOpener func(ctx context.Context, off, length int64) (*remote.Body, int64, error)

// resumable wraps b so that it resumes with open. end is b's absolute end;
// without it there is no way to ask for "the rest", and b is returned as is.
func (c *Client) resumable(ctx context.Context, b *remote.Body, end int64, open rangeOpener) *remote.Body {
	if end < 0 {
		return b
	}
	p := c.Retry.WithDefaults()
	left := p.MaxAttempts - 1
	if left < 0 {
		left = 10 // only a time bound: still, a server that always breaks must not be chased forever
	}
	rb := &resumingBody{ctx: ctx, cur: b.ReadCloser, pos: b.Offset, end: end, size: b.Size, open: open, left: left}
	return &remote.Body{ReadCloser: rb, Offset: b.Offset, Ranged: b.Ranged, Size: b.Size}
}

type resumingBody struct {
	ctx     context.Context
	cur     io.ReadCloser
	pos     int64 // absolute offset of the next byte
	end     int64 // absolute offset just past the last byte
	size    int64 // the whole object's size, or remote.SizeUnknown
	open    rangeOpener
	left    int   // resumes left
	resumes int   // resumes done
	err     error // set once resuming failed: every later Read returns it
}

func (r *resumingBody) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	for {
		n, err := r.cur.Read(p)
		r.pos += int64(n)
		if err == nil || err == io.EOF || !resumable(err) || r.ctx.Err() != nil || r.pos >= r.end {
			return n, err
		}
		if r.left == 0 {
			r.err = fmt.Errorf("vrchat: download: the transfer broke at byte %d after %d resumes: %w", r.pos, r.resumes, err)
			return n, r.err
		}
		r.left--
		r.resumes++
		r.cur.Close()
		if rerr := r.resume(); rerr != nil {
			r.err = fmt.Errorf("vrchat: download: the transfer broke at byte %d (%v) and could not be resumed: %w", r.pos, err, rerr)
			return n, r.err
		}
		if n > 0 {
			return n, nil
		}
	}
}

// resume asks for [pos, end) and makes it the current body.
func (r *resumingBody) resume() error {
	b, end, err := r.open(r.ctx, r.pos, r.end-r.pos)
	if err != nil {
		return err
	}
	if !b.Ranged {
		b.Close()
		return fmt.Errorf("storage ignored the Range header (answered with the whole object): %w", remote.ErrCorrupt)
	}
	if b.Offset != r.pos || end != r.end || (r.size >= 0 && b.Size != r.size) {
		b.Close()
		return fmt.Errorf("storage answered bytes %d-%d of %d instead of %d-%d of %d: %w",
			b.Offset, end-1, b.Size, r.pos, r.end-1, r.size, remote.ErrCorrupt)
	}
	r.cur = b.ReadCloser
	return nil
}

func (r *resumingBody) Close() error { return r.cur.Close() }

// resumable reports a broken transfer, as opposed to wrong data or the
// caller giving up.
func resumable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	return errors.Is(err, remote.ErrUnavailable) || errors.Is(err, remote.ErrTimeout) || errors.Is(err, io.ErrUnexpectedEOF)
}
