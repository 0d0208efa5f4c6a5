package proxy

import (
	"crypto/tls"
	"net"
	"syscall"
)

// alive reports whether an idle pooled connection can still carry a
// request: the peer has not closed it (no FIN or RST pending) and has not
// sent unsolicited bytes. It peeks without blocking, so a connection the
// target closed while idle is dropped before a request is written to it,
// which avoids most keep-alive races outright.
func alive(c net.Conn) bool {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	ok = true
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case err == syscall.EAGAIN || err == syscall.EWOULDBLOCK:
			ok = true
		case err != nil, n == 0, n > 0:
			ok = false // closed, reset, or unexpected bytes
		}
		return true
	})
	return err == nil && ok
}
