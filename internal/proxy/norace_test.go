//go:build !race

package proxy

// raceEnabled is true in a -race build (race_test.go).
const raceEnabled = false
