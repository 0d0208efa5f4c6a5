//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package proxy

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// reusePort sets SO_REUSEPORT on a listening socket before bind, so
// several processes can accept on one address: the new binary binds while
// the old one still serves, then the old one drains on SIGTERM.
func reusePort(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	})
	if err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("set SO_REUSEPORT on %s: %w", address, serr)
	}
	return nil
}
