package vrchat

import (
	"bytes"
	"io"
	"testing"
)

// BenchmarkSignature measures the signature of 64 MiB, as an upload
// computes it (WriteTo, on every CPU).
func BenchmarkSignature(b *testing.B) {
	src := bytes.Repeat([]byte("0123456789abcdefghij"), (64<<20)/20)
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, err := NewSignature(bytes.NewReader(src), int64(len(src))).WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
