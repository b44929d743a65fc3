//go:build linux

package e2e

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/filesmount/filesmount/remote/cbrain/cbraintest"
)

// The demo data's NIfTI-1 image (see cbraintest.SeedDemo).
const (
	demoProvider = "MainStore"
	demoNifti    = "sub-01_T1w.nii"
)

// TestNiftiToolsReadThroughMount runs unmodified analysis tools from
// Debian's packages on the sample NIfTI-1 image through the mount.
func TestNiftiToolsReadThroughMount(t *testing.T) {
	env := mountCBRAIN(t, envOptions{})
	img := filepath.Join(env.mnt, "cbrain", demoProvider, demoNifti)

	// The expected voxel sum, from the bytes the emulator serves.
	raw := cbraintest.NIfTI1(128, 128, 64)
	var sum int64
	for off := 352; off+1 < len(raw); off += 2 {
		sum += int64(int16(binary.LittleEndian.Uint16(raw[off:])))
	}

	requireCommand(t, "/usr/lib/python3/dist-packages/nibabel")
	out := run(t, "/usr/bin/python3", "-c", `
import sys, nibabel, numpy
img = nibabel.load(sys.argv[1])
data = numpy.asanyarray(img.dataobj)
print(img.shape, data.dtype, int(data.astype('int64').sum()))
`, img)
	if want := fmt.Sprintf("(128, 128, 64) int16 %d", sum); strings.TrimSpace(out) != want {
		t.Errorf("nibabel printed %q, want %q", strings.TrimSpace(out), want)
	}

	requireCommand(t, "nifti_tool")
	out = run(t, "nifti_tool", "-check_hdr", "-infiles", img)
	if !strings.Contains(out, "header IS GOOD") {
		t.Errorf("nifti_tool -check_hdr: %s", out)
	}
	out = run(t, "nifti_tool", "-disp_hdr", "-field", "dim", "-infiles", img)
	if !strings.Contains(out, "128 128 64") {
		t.Errorf("nifti_tool dims: %s", out)
	}
}
