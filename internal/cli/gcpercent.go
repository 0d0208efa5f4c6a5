package cli

import "runtime/debug"

// serveGCPercent is the garbage collector's target (GOGC) that serve runs
// with when the environment sets none: the heap may grow to 1.5 times
// what survived the last collection, not twice. A proxied request leaves
// a few hundred bytes of garbage, so collections stay rare either way;
// measured at 200 keep-alive connections (docs/performance.md,
// "recvfrom/sendto, GOGC and peak RSS"), 50 against Go's default 100 cut
// the resident set by 2 to 3.5 MB, for garbage-collection CPU of about
// 0.5 % of the process instead of 0.2 %.
const serveGCPercent = 50

// setServeGCPercent applies serveGCPercent unless gogc, the GOGC
// environment variable, is set: the operator's value, read by the Go
// runtime itself (runtime package, "Environment Variables"), wins. It
// returns the percentage in effect.
func setServeGCPercent(gogc string) int {
	if gogc != "" {
		p := debug.SetGCPercent(-1)
		debug.SetGCPercent(p)
		return p
	}
	debug.SetGCPercent(serveGCPercent)
	return serveGCPercent
}
