//go:build !unix

package accesslog

// newArena returns size bytes on the Go heap where mmap(2) is not
// available; see arena_unix.go.
func newArena(_ *History, size int) []byte { return make([]byte, size) }
