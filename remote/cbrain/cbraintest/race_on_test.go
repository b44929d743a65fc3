//go:build race

package cbraintest

const raceEnabled = true
