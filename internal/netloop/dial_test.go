//go:build linux

package netloop

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

type dialResult struct {
	err   error
	laddr net.Addr
	raddr net.Addr
	reply []byte
	same  bool // the dialled Conn is on the dialling task's loop
}

// TestDialFromTask dials a listener from a task: the Conn is on the same
// loop and bytes flow both ways.
func TestDialFromTask(t *testing.T) {
	g := startLoops(t, 2)
	backend := listen(t)
	out := make(chan dialResult, 1)
	serveOne(t, g, func(c *Conn) {
		defer c.Close()
		var r dialResult
		defer func() { out <- r }()
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		nc, err := c.Dial(ctx, "tcp", backend.Addr().String())
		if r.err = err; err != nil {
			return
		}
		defer nc.Close()
		lc, ok := nc.(*Conn)
		r.same = ok && lc.Loop() == c.Loop()
		r.laddr, r.raddr = nc.LocalAddr(), nc.RemoteAddr()
		if _, r.err = io.WriteString(nc, "ping"); r.err != nil {
			return
		}
		buf := make([]byte, 4)
		_, r.err = io.ReadFull(nc, buf)
		r.reply = buf
	})
	bc, err := backend.Accept()
	if err != nil {
		t.Fatalf("backend accept: %v", err)
	}
	defer bc.Close()
	bc.SetDeadline(time.Now().Add(waitFor))
	got := make([]byte, 4)
	if _, err := io.ReadFull(bc, got); err != nil || string(got) != "ping" {
		t.Fatalf("backend read %q, %v; want \"ping\"", got, err)
	}
	io.WriteString(bc, "pong")
	r := recv(t, out, "dialling task")
	if r.err != nil {
		t.Fatalf("task: %v", r.err)
	}
	if string(r.reply) != "pong" {
		t.Fatalf("task read %q, want \"pong\"", r.reply)
	}
	if !r.same {
		t.Fatal("the dialled connection is not a Conn on the task's loop")
	}
	if r.raddr == nil || r.raddr.String() != backend.Addr().String() {
		t.Fatalf("RemoteAddr = %v, want %v", r.raddr, backend.Addr())
	}
	if r.laddr == nil || r.laddr.String() != bc.RemoteAddr().String() {
		t.Fatalf("LocalAddr = %v, want the backend's peer %v", r.laddr, bc.RemoteAddr())
	}
}

// dialOnce runs one Dial from a task with ctx and returns its error
// (closing a Conn it got).
func dialOnce(t *testing.T, g *Group, ctx context.Context, addr string, start chan<- struct{}) <-chan error {
	t.Helper()
	out := make(chan error, 1)
	serveOne(t, g, func(c *Conn) {
		defer c.Close()
		if start != nil {
			start <- struct{}{}
		}
		nc, err := c.Dial(ctx, "tcp", addr)
		if err == nil {
			nc.Close()
		}
		out <- err
	})
	return out
}

func wantDialOpError(t *testing.T, err error) {
	t.Helper()
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "dial" {
		t.Fatalf("err = %v (%T), want a *net.OpError with Op \"dial\"", err, err)
	}
}

func TestDialRefused(t *testing.T) {
	g := startLoops(t, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	err = recv(t, dialOnce(t, g, context.Background(), addr, nil), "dial")
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial to a closed port = %v, want ECONNREFUSED", err)
	}
	wantDialOpError(t, err)
}

func TestDialBadAddress(t *testing.T) {
	g := startLoops(t, 1)
	err := recv(t, dialOnce(t, g, context.Background(), "not-an-ip:80", nil), "dial")
	if err == nil {
		t.Fatal("dial to a host name succeeded; want an error (IP literals only)")
	}
	wantDialOpError(t, err)
}

// pendingAddr returns the address of a listening socket whose accept
// queue is full (backlog 0, one connection never accepted): Linux drops
// the next SYNs, so a connect(2) to it stays pending. It skips the test
// where a connect does not pend.
func pendingAddr(t *testing.T) string {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("bind: %v", err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatalf("listen: %v", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatalf("getsockname: %v", err)
	}
	addr := sockaddrTCP(sa).String()
	filler, err := net.DialTimeout("tcp", addr, waitFor)
	if err != nil {
		t.Fatalf("filling the accept queue: %v", err)
	}
	t.Cleanup(func() { filler.Close() })
	// A precondition, not a timing assertion: a connect now must pend.
	probe, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err == nil {
		probe.Close()
		t.Skip("a connect to a full accept queue completes here; cannot make a dial pend")
	}
	return addr
}

// pollConns waits until g's loops hold want sockets: bounded polling.
func pollConns(t *testing.T, g *Group, want int) {
	t.Helper()
	end := time.Now().Add(waitFor)
	for {
		s := g.Stats()
		if s.Conns == want {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("loops hold %d sockets after %v, want %d", s.Conns, waitFor, want)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestDialCanceledWhilePending(t *testing.T) {
	g := startLoops(t, 1)
	addr := pendingAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := make(chan struct{}, 1)
	out := dialOnce(t, g, ctx, addr, start)
	recv(t, start, "task start")
	pollConns(t, g, 2) // the served Conn and the pending dial's socket
	select {
	case err := <-out:
		t.Fatalf("Dial to a full accept queue returned before cancel: %v", err)
	default:
	}
	cancel()
	err := recv(t, out, "cancelled dial")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled dial = %v, want context.Canceled", err)
	}
	wantDialOpError(t, err)
	pollConns(t, g, 0) // the dial's socket was closed, the task's too
}

func TestDialCanceledBefore(t *testing.T) {
	g := startLoops(t, 1)
	addr := pendingAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := recv(t, dialOnce(t, g, ctx, addr, nil), "dial")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("dial with a cancelled ctx = %v, want context.Canceled", err)
	}
	wantDialOpError(t, err)
}

func TestDialContextDeadline(t *testing.T) {
	g := startLoops(t, 1)
	addr := pendingAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	err := recv(t, dialOnce(t, g, ctx, addr, nil), "dial")
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("dial past ctx's deadline = %v, want a timeout matching os.ErrDeadlineExceeded", err)
	}
	wantDialOpError(t, err)
}

// TestDialGroupClosedWhilePending closes the Group under a pending dial:
// Dial returns net.ErrClosed.
func TestDialGroupClosedWhilePending(t *testing.T) {
	g, err := Start(1)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			g.Close()
		}
	})
	addr := pendingAddr(t)
	start := make(chan struct{}, 1)
	out := dialOnce(t, g, context.Background(), addr, start)
	recv(t, start, "task start")
	pollConns(t, g, 2)
	g.Close()
	closed = true
	select {
	case err := <-out:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("dial under Close = %v, want net.ErrClosed", err)
		}
		wantDialOpError(t, err)
	default:
		t.Fatal("the pending dial had not ended when Close returned")
	}
}
