package proxy

import (
	"crypto/tls"
	"net"
	"syscall"
)

// peek reports, without blocking, what is pending on an idle pooled
// connection: nothing (it can carry a request), a FIN or RST (the target
// closed it while idle), or bytes nobody asked for. A connection the
// target closed is dropped before a request is written to it, which avoids
// most keep-alive races outright; one with unsolicited bytes is dropped
// before those bytes can be read as the next request's response.
func peek(c net.Conn) peekState {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return peekIdle
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return peekClosed
	}
	st := peekIdle
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case err == syscall.EAGAIN || err == syscall.EWOULDBLOCK:
			st = peekIdle
		case err != nil, n == 0:
			st = peekClosed
		default:
			st = peekData
		}
		return true
	})
	if err != nil {
		return peekClosed
	}
	return st
}
