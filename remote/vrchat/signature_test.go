package vrchat_test

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	librsync "github.com/balena-os/librsync-go"

	"github.com/filesmount/filesmount/remote/vrchat"
)

func b64md5(b []byte) string {
	s := md5.Sum(b)
	return base64.StdEncoding.EncodeToString(s[:])
}

func signatureOf(t *testing.T, in []byte) []byte {
	t.Helper()
	sig := vrchat.NewSignature(bytes.NewReader(in), int64(len(in)))
	out, err := io.ReadAll(io.NewSectionReader(sig, 0, sig.Size()))
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(out)) != vrchat.SignatureSize(int64(len(in))) {
		t.Fatalf("signature of %d bytes: %d bytes, SignatureSize says %d", len(in), len(out), vrchat.SignatureSize(int64(len(in))))
	}
	return out
}

// The vectors of reference §4.6 (computed from librsync.net's algorithm).
func TestSignatureReferenceVectors(t *testing.T) {
	for _, tc := range []struct {
		name         string
		in           []byte
		fileMD5      string
		sigPrefixHex string
		sigLen       int
		sigMD5       string
	}{
		{"empty", nil, "1B2M2Y8AsgTpgAmY7PhCfg==", "727301370000080000000020", 12, "wFTc7oMFDcoZnqdLNiwHBw=="},
		{"test", []byte("test"), "CY9rzUYh03PK3k6DJie09g==",
			"727301370000080000000020058f023c928b20366943e2afd11ebc0eae2e53a93bf177a4fcf35bcc64d503704e65e202", 48, "lIoPC8D0WreV2GriGNe70g=="},
		{"5000a", bytes.Repeat([]byte("a"), 5000), "eqp97HCfpPqC83Rqv9gL2w==", "72730137000008000000002000000000e22b", 120, "q80Gr3sksYsN7/u8P483Ww=="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := b64md5(tc.in); got != tc.fileMD5 {
				t.Errorf("file md5 %s, want %s", got, tc.fileMD5)
			}
			sig := signatureOf(t, tc.in)
			if len(sig) != tc.sigLen || !strings.HasPrefix(hex.EncodeToString(sig), tc.sigPrefixHex) {
				t.Errorf("signature %d bytes %x, want %d bytes starting %s", len(sig), sig, tc.sigLen, tc.sigPrefixHex)
			}
			if got := b64md5(sig); got != tc.sigMD5 {
				t.Errorf("signature md5 %s, want %s", got, tc.sigMD5)
			}
		})
	}
}

var sigSizes = []int{0, 1, 2047, 2048, 2049, 5000, 1<<20 + 3}

func randomBytes(seed int64, n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

// The on-demand encoder gives librsync.Signature's bytes, whatever the
// offsets and sizes of the reads (multipart uploads read it in parts).
func TestSignatureMatchesLibrsync(t *testing.T) {
	for _, n := range sigSizes {
		in := randomBytes(int64(n), n)
		var want bytes.Buffer
		if _, err := librsync.Signature(bytes.NewReader(in), &want, 2048, 32, librsync.BLAKE2_SIG_MAGIC); err != nil {
			t.Fatal(err)
		}
		got := signatureOf(t, in)
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("%d bytes: signature differs from librsync.Signature", n)
		}
		// Reads of every size (iotest.TestReader) and at odd offsets.
		sig := vrchat.NewSignature(bytes.NewReader(in), int64(n))
		if err := iotest.TestReader(io.NewSectionReader(sig, 0, sig.Size()), want.Bytes()); err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		for _, off := range []int64{0, 5, 12, 13, 47, 48, sig.Size() / 2, sig.Size() - 1} {
			if off < 0 || off >= sig.Size() {
				continue
			}
			for _, l := range []int{1, 35, 36, 37, 100000} {
				p := make([]byte, l)
				m, err := sig.ReadAt(p, off)
				end := min(off+int64(l), sig.Size())
				if int64(m) != end-off || !bytes.Equal(p[:m], want.Bytes()[off:end]) || (m < l && err != io.EOF) {
					t.Fatalf("%d bytes: ReadAt(%d, %d) = %d, %v", n, l, off, m, err)
				}
			}
		}
	}
	// A source shorter than declared is an error, not a short signature.
	sig := vrchat.NewSignature(bytes.NewReader(make([]byte, 3000)), 5000)
	if _, err := io.ReadAll(io.NewSectionReader(sig, 0, sig.Size())); err == nil {
		t.Error("a truncated source gave no error")
	}
}

// rdiff (Debian package "rdiff", librsync's command line) computes the same
// signature when forced to librsync.net's parameters.
func TestSignatureMatchesRdiff(t *testing.T) {
	rdiff, err := exec.LookPath("rdiff")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("rdiff is not installed (Debian package rdiff)")
		}
		t.Skip("rdiff is not installed (apt-get install rdiff)")
	}
	dir := t.TempDir()
	for _, n := range []int{0, 1, 2048, 5000, 1<<20 + 3} {
		in := randomBytes(int64(n)+7, n)
		inPath := filepath.Join(dir, "in"+strconv.Itoa(n))
		outPath := inPath + ".sig"
		if err := os.WriteFile(inPath, in, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(rdiff, "-H", "blake2", "-R", "rollsum", "-b", "2048", "-S", "32", "signature", inPath, outPath)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("rdiff: %v: %s", err, out)
		}
		want, err := os.ReadFile(outPath)
		if err != nil {
			t.Fatal(err)
		}
		if got := signatureOf(t, in); !bytes.Equal(got, want) {
			t.Errorf("%d bytes: signature differs from rdiff's (%d vs %d bytes)", n, len(got), len(want))
		}
	}
}
