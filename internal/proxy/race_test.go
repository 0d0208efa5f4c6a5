//go:build race

package proxy

// raceEnabled is true in a -race build, where sync.Pool drops items at
// random and allocation counts mean nothing.
const raceEnabled = true
