package cbraintest

import (
	"encoding/binary"
	"io"
	"math"
)

// DeterministicContent returns size pseudo-random bytes that are cheap to
// compute at any offset: byte i is part of the 8-byte word i/8, whose
// value is splitmix64(seed, i/8). Tests use it to make 1 GiB files
// without disk or memory.
func DeterministicContent(seed int64, size int64) io.ReaderAt {
	return detContent{seed: uint64(seed), size: size}
}

type detContent struct {
	seed uint64
	size int64
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func (d detContent) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, io.ErrUnexpectedEOF
	}
	if off >= d.size {
		return 0, io.EOF
	}
	n := len(p)
	if rem := d.size - off; int64(n) > rem {
		n = int(rem)
	}
	var w [8]byte
	i := 0
	for i < n {
		pos := off + int64(i)
		word := uint64(pos / 8)
		binary.LittleEndian.PutUint64(w[:], splitmix64(d.seed*0x2545f4914f6cdd1d^word))
		i += copy(p[i:n], w[pos%8:])
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// NIfTI1 returns a valid single-file NIfTI-1 image ("n+1", vox_offset 352)
// of nx*ny*nz int16 voxels, 1 mm isotropic, with a bright sphere on a
// gradient so viewers show something recognisable.
func NIfTI1(nx, ny, nz int) []byte {
	nvox := nx * ny * nz
	b := make([]byte, 352+2*nvox)
	le := binary.LittleEndian
	le.PutUint32(b[0:], 348) // sizeof_hdr
	b[38] = 'r'              // regular
	dims := []int{3, nx, ny, nz, 1, 1, 1, 1}
	for i, d := range dims {
		le.PutUint16(b[40+2*i:], uint16(d))
	}
	le.PutUint16(b[70:], 4)                  // datatype DT_INT16
	le.PutUint16(b[72:], 16)                 // bitpix
	pix := []float32{1, 1, 1, 1, 1, 1, 1, 1} // pixdim[0] = qfac = 1
	for i, v := range pix {
		le.PutUint32(b[76+4*i:], math.Float32bits(v))
	}
	le.PutUint32(b[108:], math.Float32bits(352)) // vox_offset
	le.PutUint32(b[112:], math.Float32bits(1))   // scl_slope
	b[123] = 2 | 8                               // xyzt_units: mm, s
	copy(b[148:228], "cbraintest synthetic T1w")
	le.PutUint16(b[252:], 1) // qform_code: scanner
	le.PutUint16(b[254:], 1) // sform_code: scanner
	// Identity rotation (quatern b,c,d = 0), origin at the volume centre.
	ox, oy, oz := -float32(nx)/2, -float32(ny)/2, -float32(nz)/2
	le.PutUint32(b[268:], math.Float32bits(ox))
	le.PutUint32(b[272:], math.Float32bits(oy))
	le.PutUint32(b[276:], math.Float32bits(oz))
	srow := [3][4]float32{{1, 0, 0, ox}, {0, 1, 0, oy}, {0, 0, 1, oz}}
	for r := 0; r < 3; r++ {
		for k := 0; k < 4; k++ {
			le.PutUint32(b[280+16*r+4*k:], math.Float32bits(srow[r][k]))
		}
	}
	copy(b[344:348], "n+1\x00") // magic; bytes 348..351: no extension
	cx, cy, cz := float64(nx)/2, float64(ny)/2, float64(nz)/2
	rad := math.Min(cx, math.Min(cy, cz)) * 0.6
	maxv, minv := int16(math.MinInt16), int16(math.MaxInt16)
	o := 352
	for z := 0; z < nz; z++ {
		for y := 0; y < ny; y++ {
			for x := 0; x < nx; x++ {
				v := int16(x + y) // gradient
				dx, dy, dz := float64(x)-cx, float64(y)-cy, float64(z)-cz
				if dx*dx+dy*dy+dz*dz < rad*rad {
					v += 1000
				}
				le.PutUint16(b[o:], uint16(v))
				o += 2
				maxv, minv = max(maxv, v), min(minv, v)
			}
		}
	}
	le.PutUint32(b[124:], math.Float32bits(float32(maxv))) // cal_max
	le.PutUint32(b[128:], math.Float32bits(float32(minv))) // cal_min
	return b
}
