//go:build linux && race

package e2e

// raceEnabled: the race detector multiplies memory use, so memory budgets
// are only asserted without it.
const raceEnabled = true
