//go:build !linux

package cli

import (
	"context"
	"io"
	"os"
)

// terminalWidth is 0 (unknown) outside Linux; the table uses 80 columns.
func terminalWidth(io.Writer) int { return 0 }

// watchKeys reads no keys outside Linux; Ctrl-C ends --watch.
func watchKeys(context.Context, *os.File) (<-chan struct{}, func()) {
	return make(chan struct{}), func() {}
}
