package cli

import (
	"context"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// terminalWidth is w's terminal width in columns, 0 when w is not a
// terminal or the size is unknown.
func terminalWidth(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok || !isTerminal(w) {
		return 0
	}
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return 0
	}
	return int(ws.Col)
}

// watchKeys puts the terminal in into cbreak mode (keys without Enter,
// no echo; output unchanged) and closes the returned channel when q is
// pressed. The reading goroutine polls every 100 ms (VMIN 0, VTIME 1),
// so it ends with ctx or restore; restore waits for it and puts the
// terminal back.
func watchKeys(ctx context.Context, in *os.File) (<-chan struct{}, func()) {
	quit := make(chan struct{})
	fd := int(in.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return quit, func() {}
	}
	t := *old
	t.Lflag &^= unix.ICANON | unix.ECHO
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 0, 1
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &t); err != nil {
		return quit, func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		b := make([]byte, 1)
		for ctx.Err() == nil {
			n, err := unix.Read(fd, b)
			if err != nil && err != unix.EINTR && err != unix.EAGAIN {
				return
			}
			if n == 1 && (b[0] == 'q' || b[0] == 'Q') {
				close(quit)
				return
			}
		}
	}()
	return quit, func() {
		cancel()
		<-done
		unix.IoctlSetTermios(fd, unix.TCSETS, old)
	}
}
