package faults

import (
	"errors"
	"io"
)

// Corrupt returns r with one byte altered (inverted): the one at offset
// size/2 of a content of size bytes. Emulators serve it while announcing
// the real length and checksum, so that only a client that verifies what
// it read (MD5, or comparing with a known copy) notices. The middle byte,
// rather than the first, so that a client reading the header alone is
// not alerted by a broken magic number.
func Corrupt(r io.Reader, size int64) io.Reader {
	return &corrupter{r: r, at: size / 2}
}

// CorruptSeeker is Corrupt for a reader that http.ServeContent can seek
// (ranges: the altered byte stays at its offset whatever range is read).
func CorruptSeeker(rs io.ReadSeeker, size int64) io.ReadSeeker {
	return &corrupter{r: rs, at: size / 2}
}

type corrupter struct {
	r   io.Reader
	at  int64 // offset of the byte to alter
	pos int64 // offset of the next byte Read returns
}

func (c *corrupter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if i := c.at - c.pos; i >= 0 && i < int64(n) {
		p[i] ^= 0xff
	}
	c.pos += int64(n)
	return n, err
}

func (c *corrupter) Seek(off int64, whence int) (int64, error) {
	s, ok := c.r.(io.Seeker)
	if !ok {
		return 0, errors.New("faults: Corrupt: the reader cannot seek")
	}
	pos, err := s.Seek(off, whence)
	if err == nil {
		c.pos = pos
	}
	return pos, err
}
