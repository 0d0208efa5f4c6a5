//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package proxy

import (
	"errors"
	"syscall"
)

// reusePort reports that SO_REUSEPORT is not available on this platform.
func reusePort(network, address string, c syscall.RawConn) error {
	return errors.New("listeners[].reuse_port: SO_REUSEPORT is not supported on this platform")
}
