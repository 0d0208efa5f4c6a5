// Package logparsetest holds what the log parsers' tests share: reading
// a testdata file's lines.
package logparsetest

import (
	"bufio"
	"os"
	"testing"
)

// Lines returns the lines of path (a testdata file), failing tb when it
// cannot be read. Lines may be up to 1 MiB long.
func Lines(tb testing.TB, path string) [][]byte {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}
