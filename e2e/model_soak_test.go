//go:build linux

package e2e

import "fmt"

// modelSoakStats counts a soak's work and judges outcomes under faults.
type modelSoakStats struct {
	actions, steps int
}

func (s *modelSoakStats) judge(r *mRunner, m, before mModel, a mAction, want, got mOutcome) string {
	if !sameOutcome(want, got) {
		return fmt.Sprintf("action %q: the mount answered %v, the model expects %v", a.String(), got, want)
	}
	return ""
}
