//go:build linux

package e2e

import (
	"os"
	"testing"

	"github.com/filesmount/filesmount/internal/faults"
	"github.com/filesmount/filesmount/remote/cbrain/cbraintest"
)

// TestModelCBRAIN700 runs the CBRAIN model against a 7.0.0 portal (no
// browse_path, renames onto a taken name answered 200 and ignored, no
// tags in the JSON): what the mount shows must not depend on the release.
// Fewer steps than TestModelCBRAIN: the two share every operation, and
// this one checks what the release changes.
func TestModelCBRAIN700(t *testing.T) {
	if os.Getenv("FILESMOUNT_MODEL_STEPS") == "" {
		t.Setenv("FILESMOUNT_MODEL_STEPS", "60")
	}
	modelTest(t, &modelSetup{remote: "CBRAIN 7.0.0", test: "TestModelCBRAIN700", newModel: newCBModel,
		start: func(t *testing.T, inj *faults.Injector) (*modelSession, error) {
			return startCBRAINModelWith(t, inj, cbraintest.Release700, nil)
		}}, 7)
}
