//go:build !linux

package netloop

import (
	"context"
	"errors"
	"net"
	"time"
)

// ErrClosed is returned by Group methods after Close.
var ErrClosed = errors.New("netloop: closed")

// ErrWouldBlock is TryRead's answer when nothing is pending.
var ErrWouldBlock = errors.New("netloop: would block")

// ErrUnsupported is Start's error where there is no epoll(7).
var ErrUnsupported = errors.New("netloop: event loops need Linux epoll")

// Group is a set of event loops; off Linux there are none.
type Group struct{}

// Start returns ErrUnsupported off Linux: every listener stays on the
// goroutine layer.
func Start(int) (*Group, error) { return nil, ErrUnsupported }

// Loops returns 0.
func (*Group) Loops() int { return 0 }

// Adopt returns ErrUnsupported.
func (*Group) Adopt(net.Conn) (*Conn, error) { return nil, ErrUnsupported }

// Close does nothing.
func (*Group) Close() error { return nil }

// Loop is an event loop; off Linux there is none.
type Loop struct{}

// ID returns 0.
func (*Loop) ID() int { return 0 }

// Now returns time.Now().
func (*Loop) Now() time.Time { return time.Now() }

// Local returns mk(): off Linux no loop exists to keep it.
func (*Loop) Local(mk func() any) any { return mk() }

// Conn is a socket on a loop; off Linux none exists, and its methods
// fail with ErrUnsupported.
type Conn struct{}

// Loop returns nil.
func (*Conn) Loop() *Loop { return nil }

// Read returns ErrUnsupported.
func (*Conn) Read([]byte) (int, error) { return 0, ErrUnsupported }

// Write returns ErrUnsupported.
func (*Conn) Write([]byte) (int, error) { return 0, ErrUnsupported }

// WriteBuffers returns ErrUnsupported.
func (*Conn) WriteBuffers([][]byte) (int64, error) { return 0, ErrUnsupported }

// Quiet returns false.
func (*Conn) Quiet() bool { return false }

// TryRead returns ErrUnsupported.
func (*Conn) TryRead([]byte) (int, error) { return 0, ErrUnsupported }

// Close returns nil.
func (*Conn) Close() error { return nil }

// LocalAddr returns nil.
func (*Conn) LocalAddr() net.Addr { return nil }

// RemoteAddr returns nil.
func (*Conn) RemoteAddr() net.Addr { return nil }

// SetDeadline returns ErrUnsupported.
func (*Conn) SetDeadline(time.Time) error { return ErrUnsupported }

// SetReadDeadline returns ErrUnsupported.
func (*Conn) SetReadDeadline(time.Time) error { return ErrUnsupported }

// SetWriteDeadline returns ErrUnsupported.
func (*Conn) SetWriteDeadline(time.Time) error { return ErrUnsupported }

// Watch does nothing.
func (*Conn) Watch(func()) {}

// Spawn reports false.
func (*Conn) Spawn(func()) bool { return false }

// Detach returns ErrUnsupported.
func (*Conn) Detach() (net.Conn, error) { return nil, ErrUnsupported }

// Offload does nothing.
func (*Conn) Offload() {}

// Blocking calls fn.
func (*Conn) Blocking(fn func()) { fn() }

// AwaitReadable does nothing.
func (*Conn) AwaitReadable() {}

// Dial dials with net.Dialer.
func (*Conn) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// ParkIdle reports false: the caller reads on.
func (*Conn) ParkIdle(func()) bool { return false }

// Claim returns o.
func (*Conn) Claim(o net.Conn) (net.Conn, error) { return o, nil }
