package vrchat

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand"
	"testing"

	librsync "github.com/balena-os/librsync-go"
)

func TestWeakChecksumMatchesLibrsync(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	for _, n := range []int{0, 1, 15, 16, 17, 2047, 2048, 4096} {
		for range 20 {
			b := make([]byte, n)
			rng.Read(b)
			if n > 0 && rng.Intn(4) == 0 {
				for i := range b {
					b[i] = 0xff // the largest sums
				}
			}
			if got, want := weakChecksum(b), librsync.WeakChecksum(b); got != want {
				t.Fatalf("weakChecksum of %d bytes = %08x, librsync says %08x", n, got, want)
			}
		}
	}
}

// WriteTo computes pieces of the signature in parallel; the result must
// be the sequential ReadAt's, byte for byte, and a source shorter than
// declared must fail whichever piece notices.
func TestSignatureWriteToMatchesReadAt(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	src := make([]byte, 3<<20+777)
	rng.Read(src)
	for _, piece := range []int64{1, 36, 1000, 36 * 64, sigPiece} {
		s := NewSignature(bytes.NewReader(src), int64(len(src)))
		want, err := io.ReadAll(io.NewSectionReader(s, 0, s.Size()))
		if err != nil {
			t.Fatal(err)
		}
		s.piece = piece
		var got bytes.Buffer
		n, err := s.WriteTo(&got)
		if err != nil || n != s.Size() || !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("piece %d: WriteTo wrote %d bytes (%v), equal to ReadAt's %d: %v", piece, n, err, len(want), bytes.Equal(got.Bytes(), want))
		}
	}
	short := NewSignature(bytes.NewReader(src[:1<<20]), int64(len(src)))
	short.piece = 4096
	if _, err := short.WriteTo(io.Discard); err == nil {
		t.Fatal("WriteTo of a source shorter than declared succeeded")
	}
}

// An upload that stops early (an error, or its content found already
// there) cancels a signature still being computed in the background.
func TestSignatureStopsWhenCancelled(t *testing.T) {
	src := make([]byte, 8<<20)
	s := NewSignature(bytes.NewReader(src), int64(len(src)))
	s.piece = 36 * 64
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n, err := s.writeAll(ctx, io.Discard)
	if !errors.Is(err, context.Canceled) || n == s.Size() {
		t.Fatalf("cancelled writeAll wrote %d of %d bytes, error %v; want context.Canceled before the end", n, s.Size(), err)
	}
}
