//go:build linux

package netloop

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// errCanceled is a dial's error when its context was cancelled; its text
// is the net package's ("operation was canceled").
type canceledError struct{}

func (canceledError) Error() string        { return "operation was canceled" }
func (canceledError) Is(target error) bool { return target == context.Canceled }

// dialTimeout is a dial's error when its deadline passed: "i/o timeout",
// matching os.ErrDeadlineExceeded and context.DeadlineExceeded, as the
// net package's does.
type dialTimeout struct{}

func (dialTimeout) Error() string   { return "i/o timeout" }
func (dialTimeout) Timeout() bool   { return true }
func (dialTimeout) Temporary() bool { return true }
func (dialTimeout) Is(target error) bool {
	return target == os.ErrDeadlineExceeded || target == context.DeadlineExceeded
}

// Dial connects to addr (an IP literal host:port) from the calling task
// of c's loop, with a non-blocking connect(2) the loop completes, and
// returns the new Conn on the same loop. network is "tcp", "tcp4" or
// "tcp6". ctx's deadline bounds the connect and its cancellation ends it.
// Errors are the net package's shapes: *net.OpError with Op "dial"
// wrapping an *os.SyscallError ("connect": ECONNREFUSED, ENETUNREACH,
// ...), an "i/o timeout" matching os.ErrDeadlineExceeded and
// context.DeadlineExceeded, or an error matching context.Canceled.
func (c *Conn) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if d := c.det.Load(); d != nil || c.l.cur == nil {
		var nd net.Dialer
		return nd.DialContext(ctx, network, addr)
	}
	l := c.l
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	raddr := net.TCPAddrFromAddrPort(ap)
	dialErr := func(err error) error {
		return &net.OpError{Op: "dial", Net: network, Addr: raddr, Err: err}
	}
	family, sa := unix.AF_INET, unix.Sockaddr(nil)
	if a := ap.Addr().Unmap(); a.Is4() {
		sa = &unix.SockaddrInet4{Port: int(ap.Port()), Addr: a.As4()}
	} else {
		family = unix.AF_INET6
		sa = &unix.SockaddrInet6{Port: int(ap.Port()), Addr: a.As16()}
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, dialErr(os.NewSyscallError("socket", err))
	}
	// The net package's defaults for TCP: no Nagle delay.
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	nc := &Conn{l: l, fd: fd, raddr: raddr, rready: true}
	err = unix.Connect(fd, sa)
	switch {
	case err == nil:
		nc.wready = true
	case err == unix.EINPROGRESS || err == unix.EINTR:
	default:
		unix.Close(fd)
		return nil, dialErr(os.NewSyscallError("connect", err))
	}
	if err := l.register(nc); err != nil {
		unix.Close(fd)
		return nil, dialErr(err)
	}
	if !nc.wready {
		if dl, ok := ctx.Deadline(); ok {
			nc.wdl.Store(deadline(dl))
		}
		var stop func() bool
		if ctx.Done() != nil {
			stop = context.AfterFunc(ctx, func() { nc.SetWriteDeadline(time.Unix(1, 0)) })
		}
		for !nc.wready {
			if ctx.Err() != nil || nc.expired(nc.wdl.Load()) || nc.closed.Load() {
				break
			}
			if !nc.wait(&nc.wwait, &nc.wdl, waitWrite) {
				break
			}
		}
		if stop != nil {
			stop()
		}
		if !nc.wready {
			if nc.fd >= 0 { // not closed by the loop's shutdown already
				l.unregister(nc)
				unix.Close(fd)
				nc.fd = -1
			}
			switch {
			case errors.Is(ctx.Err(), context.Canceled):
				return nil, dialErr(canceledError{})
			case l.done || nc.closed.Load():
				return nil, dialErr(net.ErrClosed)
			}
			return nil, dialErr(dialTimeout{})
		}
		nc.wdl.Store(0)
		if soerr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); err != nil || soerr != 0 {
			l.unregister(nc)
			unix.Close(fd)
			nc.fd = -1
			if err == nil {
				err = unix.Errno(soerr)
			}
			return nil, dialErr(os.NewSyscallError("connect", err))
		}
	}
	if lsa, err := unix.Getsockname(fd); err == nil {
		nc.laddr = sockaddrTCP(lsa)
	}
	return nc, nil
}

func sockaddrTCP(sa unix.Sockaddr) *net.TCPAddr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]).To16(), Port: a.Port}
	case *unix.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
	}
	return nil
}
