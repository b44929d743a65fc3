package vrchat

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	librsync "github.com/balena-os/librsync-go"
	"golang.org/x/crypto/blake2b"
)

// The signature VRChat expects with every version (reference §4.6) is
// librsync.net's default: the "rs_sig" format with BLAKE2 strong sums,
// 2048-byte blocks and 32-byte sums, i.e. what
// librsync.Signature(r, w, 2048, 32, librsync.BLAKE2_SIG_MAGIC) writes, and
// what `rdiff -H blake2 -R rollsum -b 2048 -S 32 signature` writes.
const (
	sigBlockLen  = 2048
	sigStrongLen = 32
	sigHeaderLen = 12
	sigRecordLen = 4 + sigStrongLen // weak rollsum + strong sum per block
	// sigChunkBlocks is how many input blocks one read of the source
	// covers, so that a signature costs few reads of the staged file.
	sigChunkBlocks = 64
)

// SignatureSize is the size of the signature of n bytes:
// 12 + ceil(n/2048)*36.
func SignatureSize(n int64) int64 {
	return sigHeaderLen + (n+sigBlockLen-1)/sigBlockLen*sigRecordLen
}

// Signature is the librsync BLAKE2 signature of a source, computed on
// demand: ReadAt derives the requested bytes from the blocks of the source
// they describe. Nothing is stored, neither in memory nor on disk, so the
// signature of a multi-GiB file (about 18 MiB per GiB) costs no memory, a
// multipart upload of it can start at any part, and a retry simply reads
// again. The price is hashing the source twice (once for the MD5 that
// must be declared before uploading, once while uploading), which is
// cheap next to the upload itself.
//
// It does not call librsync.Signature, because that function also builds
// an in-memory lookup table of every block (measured: 7 MiB kept for a
// 256 MiB input, so about 28 MiB per GiB) that only delta computation
// needs. It uses the same primitives
// (librsync's rollsum and BLAKE2b-256) and tests check that the bytes are
// identical to librsync.Signature's and to rdiff's.
type Signature struct {
	src   io.ReaderAt
	size  int64 // of the source
	piece int64 // WriteTo's unit of work; sigPiece unless a test sets it
}

// NewSignature describes the signature of the first size bytes of src.
func NewSignature(src io.ReaderAt, size int64) *Signature {
	return &Signature{src: src, size: size, piece: sigPiece}
}

// Size is the signature's length in bytes.
func (s *Signature) Size() int64 { return SignatureSize(s.size) }

// header is the 12-byte rs_sig header: magic, block length, strong length.
func sigHeader() []byte {
	h := make([]byte, sigHeaderLen)
	binary.BigEndian.PutUint32(h[0:], uint32(librsync.BLAKE2_SIG_MAGIC))
	binary.BigEndian.PutUint32(h[4:], sigBlockLen)
	binary.BigEndian.PutUint32(h[8:], sigStrongLen)
	return h
}

// ReadAt implements io.ReaderAt. It is safe for concurrent use if the
// source is.
func (s *Signature) ReadAt(p []byte, off int64) (int, error) {
	total := s.Size()
	if off < 0 {
		return 0, errors.New("vrchat: signature: negative offset")
	}
	if off >= total {
		return 0, io.EOF
	}
	n := 0
	if off < sigHeaderLen {
		n = copy(p, sigHeader()[off:])
	}
	var chunk []byte
	for n < len(p) && off+int64(n) < total {
		pos := off + int64(n) - sigHeaderLen // offset within the records
		first := pos / sigRecordLen
		// Blocks first.. up to what p still needs, at most sigChunkBlocks.
		last := (pos + int64(len(p)-n) - 1) / sigRecordLen
		if last-first >= sigChunkBlocks {
			last = first + sigChunkBlocks - 1
		}
		start := first * sigBlockLen
		end := min((last+1)*sigBlockLen, s.size)
		if int64(cap(chunk)) < end-start {
			chunk = make([]byte, end-start)
		}
		in := chunk[:end-start]
		if m, err := s.src.ReadAt(in, start); m < len(in) {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF // the source is shorter than declared
			}
			return n, fmt.Errorf("vrchat: signature: reading the source at %d: %w", start, err)
		}
		var rec [sigRecordLen]byte
		skip := pos - first*sigRecordLen // bytes of the first record already given
		for b := 0; b*sigBlockLen < len(in) && n < len(p); b++ {
			block := in[b*sigBlockLen : min((b+1)*sigBlockLen, len(in))]
			binary.BigEndian.PutUint32(rec[:4], weakChecksum(block))
			sum := blake2b.Sum256(block)
			copy(rec[4:], sum[:sigStrongLen])
			n += copy(p[n:], rec[skip:])
			skip = 0
		}
	}
	if off+int64(n) >= total {
		return n, io.EOF
	}
	return n, nil
}

// weakChecksum is librsync.WeakChecksum (the rs_sig rollsum of one block)
// with its sums in local variables: librsync-go's Rollsum.Update keeps
// them in the struct, and that loop was half of a signature's CPU time
// (about 2 s per GiB). The sums are mod 2^16, so 32-bit arithmetic
// truncated at the end gives the same digest.
func weakChecksum(block []byte) uint32 {
	var s1, s2 uint32
	for _, b := range block {
		s1 += uint32(b)
		s2 += s1
	}
	n := uint32(len(block))
	s1 += n * librsync.ROLLSUM_CHAR_OFFSET
	s2 += n * (n + 1) / 2 * librsync.ROLLSUM_CHAR_OFFSET
	return s2<<16 | s1&0xffff
}

// sigPiece is how much of a signature one worker of WriteTo computes at a
// time (about 14.5 MiB of source).
const sigPiece = 256 << 10

// WriteTo writes the whole signature to w, computing pieces of it on
// every CPU at once: the records of different blocks are independent, and
// one CPU computes about 370 MB of source per second, which made the
// signature most of the time an upload spent before sending a byte
// (VRChat must be told the signature's MD5 before the upload starts).
// Pieces are written in order; at most twice as many pieces as workers
// are held in memory.
func (s *Signature) WriteTo(w io.Writer) (int64, error) {
	return s.writeAll(context.Background(), w)
}

// writeAll is WriteTo that stops, with ctx's error, once ctx is done.
func (s *Signature) writeAll(parent context.Context, w io.Writer) (int64, error) {
	total := s.Size()
	workers := max(1, runtime.GOMAXPROCS(0))
	type piece struct {
		off  int64
		data []byte
		err  error
		done chan struct{}
	}
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	jobs := make(chan *piece)
	order := make(chan *piece, 2*workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range jobs {
				n, err := s.ReadAt(p.data, p.off)
				if err == io.EOF && n == len(p.data) {
					err = nil
				}
				p.data, p.err = p.data[:n], err
				close(p.done)
			}
		}()
	}
	go func() {
		defer close(order)
		defer close(jobs)
		for off := int64(0); off < total; off += s.piece {
			p := &piece{off: off, data: make([]byte, min(s.piece, total-off)), done: make(chan struct{})}
			select {
			case order <- p: // bounds the pieces in memory
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- p:
			case <-ctx.Done():
				p.err = ctx.Err() // never computed
				close(p.done)
				return
			}
		}
	}()
	defer wg.Wait()
	var written int64
	for p := range order {
		<-p.done
		if p.err != nil {
			cancel()
			return written, p.err
		}
		n, err := w.Write(p.data)
		written += int64(n)
		if err != nil {
			cancel()
			return written, err
		}
	}
	if written < total { // the producer stopped early
		return written, context.Cause(ctx)
	}
	return written, nil
}
