package proxy

import "time"

// nowAfter returns the current time as t plus the monotonic time elapsed
// since t, for the request's later timestamps (sent, headerAt,
// respondedAt), which all follow one time.Now taken when the head was
// read. It reads one clock where time.Now reads two: time.Since reads
// only the monotonic clock when t carries a monotonic reading
// (https://pkg.go.dev/time#hdr-Monotonic_Clocks), and time.Now reads the
// wall clock as well. The result carries a monotonic reading, so
// durations between these timestamps are what time.Now's would give; its
// wall clock is t's plus the elapsed time, which differs from time.Now's
// only if the wall clock was stepped during the request. A zero t gives
// time.Now().
func nowAfter(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t.Add(time.Since(t))
}
