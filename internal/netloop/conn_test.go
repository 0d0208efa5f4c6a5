//go:build linux

package netloop

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// waitFor bounds every wait of these tests for an event that must come:
// a failsafe that turns a hang into a failure, never a timing assertion.
const waitFor = 10 * time.Second

// startLoops starts a Group of n loops that the test closes at its end
// (after the cleanups registered later: listeners and clients go first).
func startLoops(t *testing.T, n int) *Group {
	t.Helper()
	g, err := Start(n)
	if err != nil {
		t.Fatalf("Start(%d): %v", n, err)
	}
	if g.Loops() != n {
		t.Fatalf("Loops() = %d, want %d", g.Loops(), n)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// dialClient connects the test's side to addr, with a failsafe deadline.
func dialClient(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, waitFor)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	c.SetDeadline(time.Now().Add(waitFor))
	t.Cleanup(func() { c.Close() })
	return c
}

// pair returns both ends of a fresh loopback TCP connection, on the Go
// netpoller: client is the test's, server is to be adopted.
func pair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln := listen(t)
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	client = dialClient(t, ln.Addr().String())
	r := recv(t, ch, "accept")
	if r.err != nil {
		t.Fatalf("accept: %v", r.err)
	}
	ln.Close()
	return client, r.c
}

// adopt moves server onto g; the Conn is closed with the Group at the
// latest.
func adopt(t *testing.T, g *Group, server net.Conn) *Conn {
	t.Helper()
	lc, err := g.Adopt(server)
	if err != nil {
		t.Fatalf("Adopt: %v", err)
	}
	return lc
}

// serveOne connects a client and runs fn as a task on the server side's
// Conn, which it also returns.
func serveOne(t *testing.T, g *Group, fn func(c *Conn)) (net.Conn, *Conn) {
	t.Helper()
	client, server := pair(t)
	lc := adopt(t, g, server)
	spawn(t, lc, fn)
	return client, lc
}

func spawn(t *testing.T, lc *Conn, fn func(c *Conn)) {
	t.Helper()
	if !lc.Spawn(func() { fn(lc) }) {
		t.Fatal("Spawn reported false on a running Group")
	}
}

// serve runs fn as a task for every connection accepted on a fresh
// listener and returns its address. The accept loop belongs to the test
// and ends at its cleanup.
func serve(t *testing.T, g *Group, fn func(c *Conn)) string {
	t.Helper()
	ln := listen(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			lc, err := g.Adopt(nc)
			if err != nil {
				t.Errorf("Adopt: %v", err)
				continue
			}
			if !lc.Spawn(func() { fn(lc) }) {
				t.Errorf("Spawn reported false on a running Group")
			}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln.Addr().String()
}

// recv waits for one value on ch, failing the test after waitFor.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	tm := time.NewTimer(waitFor)
	defer tm.Stop()
	select {
	case v := <-ch:
		return v
	case <-tm.C:
		t.Fatalf("%s: nothing after %v", what, waitFor)
		panic("unreachable")
	}
}

// barrier returns once every loop of g ran everything posted before it:
// a task that was running when barrier was called has parked (or ended).
func barrier(g *Group) { g.Stats() }

// echo is a task that writes back what it reads until EOF or an error.
func echo(c *Conn) {
	defer c.Close()
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// roundTrip writes msg on c and reads the same bytes back.
func roundTrip(c net.Conn, msg string) error {
	if _, err := io.WriteString(c, msg); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if string(got) != msg {
		return fmt.Errorf("echo %q, want %q", got, msg)
	}
	return nil
}

type readResult struct {
	n   int
	b   []byte
	err error
}

// readTask returns a task that reads once into a buffer of size n, after
// announcing it on parked, and reports what Read returned.
func readTask(n int, parked chan<- struct{}, out chan<- readResult) func(c *Conn) {
	return func(c *Conn) {
		buf := make([]byte, n)
		if parked != nil {
			parked <- struct{}{}
		}
		k, err := c.Read(buf)
		out <- readResult{k, buf[:k], err}
	}
}

func wantTimeout(t *testing.T, err error) {
	t.Helper()
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err = %v (%T), want a net.Error with Timeout() true", err, err)
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("err = %v, want errors.Is os.ErrDeadlineExceeded", err)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "read" && oe.Op != "write" {
		t.Fatalf("err = %v, want a *net.OpError for read or write", err)
	}
}

func TestEchoSequentialClients(t *testing.T) {
	g := startLoops(t, 2)
	addr := serve(t, g, echo)
	for i := range 50 {
		c := dialClient(t, addr)
		if err := roundTrip(c, fmt.Sprintf("client %d says hello", i)); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		c.Close()
	}
}

func TestEchoConcurrentClients(t *testing.T) {
	g := startLoops(t, 2)
	addr := serve(t, g, echo)
	const clients, rounds = 50, 20
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		c := dialClient(t, addr)
		wg.Go(func() {
			for r := range rounds {
				if err := roundTrip(c, fmt.Sprintf("client %d round %d", i, r)); err != nil {
					errs <- fmt.Errorf("client %d round %d: %w", i, r, err)
					return
				}
			}
			// After the client's FIN the task sees EOF and closes.
			c.(*net.TCPConn).CloseWrite()
			if n, err := c.Read(make([]byte, 1)); err != io.EOF {
				errs <- fmt.Errorf("client %d after FIN: read %d, %v; want io.EOF", i, n, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestReadDeadlineSetByTask(t *testing.T) {
	g := startLoops(t, 1)
	type res struct {
		timeout error
		after   readResult
	}
	out := make(chan res, 1)
	got := make(chan struct{}, 1)
	client, _ := serveOne(t, g, func(c *Conn) {
		defer c.Close()
		var r res
		c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		_, r.timeout = c.Read(make([]byte, 16))
		// A timed-out Conn reads again once the deadline is cleared.
		c.SetReadDeadline(time.Time{})
		got <- struct{}{}
		buf := make([]byte, 16)
		r.after.n, r.after.err = c.Read(buf)
		r.after.b = buf[:r.after.n]
		out <- r
	})
	recv(t, got, "first read")
	io.WriteString(client, "late")
	r := recv(t, out, "task")
	wantTimeout(t, r.timeout)
	if r.after.err != nil || string(r.after.b) != "late" {
		t.Fatalf("read after clearing the deadline = %q, %v; want \"late\", nil", r.after.b, r.after.err)
	}
}

// TestReadDeadlineNowSetByTask sets a deadline that has passed by the time
// Read waits but is later than the loop's clock for the iteration.
func TestReadDeadlineNowSetByTask(t *testing.T) {
	g := startLoops(t, 1)
	out := make(chan error, 1)
	serveOne(t, g, func(c *Conn) {
		defer c.Close()
		c.SetReadDeadline(time.Now())
		_, err := c.Read(make([]byte, 16))
		out <- err
	})
	wantTimeout(t, recv(t, out, "read with a deadline of now"))
}

func TestReadDeadlineFromAnotherGoroutine(t *testing.T) {
	g := startLoops(t, 1)
	parked := make(chan struct{}, 1)
	out := make(chan readResult, 1)
	_, lc := serveOne(t, g, readTask(16, parked, out))
	recv(t, parked, "task start")
	barrier(g)
	select {
	case r := <-out:
		t.Fatalf("Read returned before the deadline moved: %d, %v", r.n, r.err)
	default:
	}
	done := make(chan error, 1)
	go func() { done <- lc.SetReadDeadline(time.Unix(1, 0)) }()
	if err := recv(t, done, "SetReadDeadline"); err != nil {
		t.Fatalf("SetReadDeadline: %v", err)
	}
	wantTimeout(t, recv(t, out, "parked read").err)
}

func TestCloseFromAnotherGoroutine(t *testing.T) {
	g := startLoops(t, 1)
	parked := make(chan struct{}, 1)
	out := make(chan readResult, 1)
	client, lc := serveOne(t, g, readTask(16, parked, out))
	recv(t, parked, "task start")
	barrier(g)
	done := make(chan error, 1)
	go func() { done <- lc.Close() }()
	if err := recv(t, done, "Close"); err != nil {
		t.Fatalf("Close: %v", err)
	}
	r := recv(t, out, "parked read")
	if !errors.Is(r.err, net.ErrClosed) {
		t.Fatalf("Read after Close = %d, %v; want net.ErrClosed", r.n, r.err)
	}
	// The socket itself is closed: the client sees EOF.
	if n, err := client.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("client read = %d, %v; want io.EOF", n, err)
	}
	if err := lc.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Close = %v, want net.ErrClosed", err)
	}
}

func TestPeerFINWakesParkedRead(t *testing.T) {
	g := startLoops(t, 1)
	parked := make(chan struct{}, 1)
	out := make(chan readResult, 1)
	client, _ := serveOne(t, g, readTask(16, parked, out))
	recv(t, parked, "task start")
	barrier(g)
	client.Close()
	r := recv(t, out, "parked read")
	if r.n != 0 || r.err != io.EOF {
		t.Fatalf("Read at FIN = %d, %v; want 0, io.EOF", r.n, r.err)
	}
}

// TestDataAndFINTogether has the bytes and the FIN queued on the socket
// before it reaches the loop: reads give the bytes, then io.EOF.
func TestDataAndFINTogether(t *testing.T) {
	for _, tc := range []struct {
		size  int
		yield bool // let the loop see the socket's event before the first read
	}{{1, false}, {5, false}, {4096, false}, {1, true}, {4096, true}} {
		size := tc.size
		t.Run(fmt.Sprintf("buf%d/yield=%v", size, tc.yield), func(t *testing.T) {
			g := startLoops(t, 1)
			client, server := pair(t)
			const msg = "hello"
			io.WriteString(client, msg)
			client.(*net.TCPConn).CloseWrite()
			lc := adopt(t, g, server)
			type res struct {
				data  []byte
				err   error
				reads int
			}
			out := make(chan res, 1)
			spawn(t, lc, func(c *Conn) {
				defer c.Close()
				var r res
				if tc.yield {
					// A round trip off the loop: its next epoll_wait
					// reports the socket's data and FIN in one event.
					c.Blocking(func() {})
				}
				buf := make([]byte, size)
				for r.reads < 100 {
					r.reads++
					n, err := c.Read(buf)
					r.data = append(r.data, buf[:n]...)
					if err != nil {
						r.err = err
						break
					}
				}
				out <- r
			})
			r := recv(t, out, "reads")
			if string(r.data) != msg || r.err != io.EOF {
				t.Fatalf("read %q then %v after %d reads; want %q then io.EOF", r.data, r.err, r.reads, msg)
			}
		})
	}
}

// TestLargeWriteBackpressure writes more than the kernel's buffers can
// hold (the client's receive buffer is pinned small), so the task parks
// in Write many times; every byte must arrive, in order.
func TestLargeWriteBackpressure(t *testing.T) {
	g := startLoops(t, 1)
	const size = 16 << 20
	want := make([]byte, size)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range want {
		want[i] = byte(r.Uint32())
	}
	client, server := pair(t)
	if err := client.(*net.TCPConn).SetReadBuffer(16 << 10); err != nil {
		t.Fatalf("SetReadBuffer: %v", err)
	}
	client.SetDeadline(time.Now().Add(4 * waitFor))
	lc := adopt(t, g, server)
	type res struct {
		n   int
		err error
	}
	out := make(chan res, 1)
	spawn(t, lc, func(c *Conn) {
		defer c.Close()
		n, err := c.Write(want)
		out <- res{n, err}
	})
	got := make([]byte, 0, size)
	buf := make([]byte, 1024) // small reads: a slow reader
	for {
		n, err := client.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("client read after %d bytes: %v", len(got), err)
		}
	}
	w := recv(t, out, "write")
	if w.n != size || w.err != nil {
		t.Fatalf("Write = %d, %v; want %d, nil", w.n, w.err, size)
	}
	if len(got) != size {
		t.Fatalf("client got %d bytes, want %d", len(got), size)
	}
	if i := firstDiff(got, want); i >= 0 {
		t.Fatalf("byte %d differs: got %#x, want %#x", i, got[i], want[i])
	}
}

func firstDiff(a, b []byte) int {
	if bytes.Equal(a, b) {
		return -1
	}
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestManyReadDeadlines parks tasks with different deadlines on one loop
// (armed out of order, one moved later and one moved sooner): each must
// time out.
func TestManyReadDeadlines(t *testing.T) {
	g := startLoops(t, 1)
	dls := []time.Duration{50, 10, 40, 20, 30, 15, 45, 25}
	out := make(chan error, len(dls))
	for i, d := range dls {
		serveOne(t, g, func(c *Conn) {
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(d * time.Millisecond))
			switch i {
			case 1: // moved later
				c.SetReadDeadline(time.Now().Add(35 * time.Millisecond))
			case 6: // moved sooner
				c.SetReadDeadline(time.Now().Add(12 * time.Millisecond))
			}
			_, err := c.Read(make([]byte, 16))
			out <- err
		})
	}
	for i := range dls {
		err := recv(t, out, fmt.Sprintf("read %d", i))
		wantTimeout(t, err)
	}
}

// TestWriteDeadlineSetByTask fills the client's buffers: the parked
// Write ends at its deadline.
func TestWriteDeadlineSetByTask(t *testing.T) {
	g := startLoops(t, 1)
	client, server := pair(t)
	client.(*net.TCPConn).SetReadBuffer(16 << 10)
	lc := adopt(t, g, server)
	type res struct {
		n   int
		err error
	}
	out := make(chan res, 1)
	const size = 16 << 20
	spawn(t, lc, func(c *Conn) {
		defer c.Close()
		c.SetWriteDeadline(time.Now().Add(30 * time.Millisecond))
		n, err := c.Write(make([]byte, size))
		out <- res{n, err}
	})
	r := recv(t, out, "write")
	if r.n >= size {
		t.Fatalf("Write wrote all %d bytes to a reader that never read", r.n)
	}
	wantTimeout(t, r.err)
}

// TestQuiet: a drained socket is quiet; bytes from the peer, once the
// loop has polled them, make it not quiet until a read drains them; the
// peer's FIN makes it not quiet for good.
func TestQuiet(t *testing.T) {
	g := startLoops(t, 1)
	client, lc := serveOne(t, g, func(*Conn) {})
	onLoop := func(fn func(c *Conn)) {
		t.Helper()
		done := make(chan struct{})
		spawn(t, lc, func(c *Conn) { fn(c); close(done) })
		recv(t, done, "task")
	}
	quiet := func() bool {
		ch := make(chan bool, 1)
		onLoop(func(c *Conn) { ch <- c.Quiet() })
		return <-ch
	}
	// until polls quiet until it reports want; the loop sees the peer's
	// bytes at its next epoll_wait, so this waits for an event that must
	// come (waitFor is the failsafe).
	until := func(want bool, what string) {
		t.Helper()
		for end := time.Now().Add(waitFor); quiet() != want; {
			if time.Now().After(end) {
				t.Fatalf("Quiet never became %v %s", want, what)
			}
			barrier(g)
		}
	}
	drain := func(want string) {
		t.Helper()
		onLoop(func(c *Conn) {
			buf := make([]byte, 64)
			n, err := c.Read(buf)
			if err != nil || string(buf[:n]) != want {
				t.Errorf("Read = %q, %v; want %q", buf[:n], err, want)
			}
		})
	}
	if _, err := client.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	drain("ping")
	if !quiet() {
		t.Fatal("Quiet is false right after a read drained the socket")
	}
	if _, err := client.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	until(false, "after the peer wrote")
	drain("x")
	if !quiet() {
		t.Fatal("Quiet is false after the read that drained the peer's byte")
	}
	client.Close()
	until(false, "after the peer's FIN")
	barrier(g)
	if quiet() {
		t.Fatal("Quiet is true again after the FIN")
	}
}

// TestLoopNow: a task sees its loop's clock at the start of the iteration
// that runs it: not before the task was posted, not after the task reads
// time.Now itself.
func TestLoopNow(t *testing.T) {
	g := startLoops(t, 1)
	_, lc := serveOne(t, g, func(*Conn) {})
	barrier(g)
	type reading struct{ loop, now time.Time }
	ch := make(chan reading, 1)
	before := time.Now()
	spawn(t, lc, func(c *Conn) { ch <- reading{c.Loop().Now(), time.Now()} })
	r := recv(t, ch, "task")
	if r.loop.Before(before) || r.loop.After(r.now) {
		t.Errorf("Loop.Now = %v, want within [%v, %v]", r.loop, before, r.now)
	}
}

// TestBusyLoopYields: a loop kept busy by a stream it echoes gives its P
// back to the Go scheduler now and then (yieldEvery), so that another
// loop's goroutine readied onto the same P does not wait for sysmon's
// preemption.
func TestBusyLoopYields(t *testing.T) {
	g := startLoops(t, 1)
	client, _ := serveOne(t, g, echo)
	before := g.Stats().Yields
	msg := bytes.Repeat([]byte("y"), 1024)
	buf := make([]byte, len(msg))
	for end := time.Now().Add(waitFor); g.Stats().Yields == before; {
		if time.Now().After(end) {
			t.Fatal("a busy loop never yielded")
		}
		for range 200 {
			if _, err := client.Write(msg); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(client, buf); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestAwaitReadable: the task parks without reading until bytes arrive,
// and its Read then gets them; a passed deadline and the peer's FIN end
// the wait too, and the Read after it reports them.
func TestAwaitReadable(t *testing.T) {
	g := startLoops(t, 1)
	woke := make(chan struct{}, 1)
	drained := make(chan struct{}, 1)
	out := make(chan readResult, 1)
	client, _ := serveOne(t, g, func(c *Conn) {
		defer c.Close()
		// A Conn counts as maybe readable until a read drains its
		// socket (what arrived before it was adopted raises no edge).
		c.AwaitReadable()
		if _, err := c.Read(make([]byte, 16)); err != nil {
			t.Errorf("first read: %v", err)
		}
		drained <- struct{}{}
		c.AwaitReadable()
		woke <- struct{}{}
		buf := make([]byte, 16)
		n, err := c.Read(buf)
		out <- readResult{n, buf[:n], err}
	})
	io.WriteString(client, "a")
	recv(t, drained, "first read")
	barrier(g) // the task has gone on to park in AwaitReadable
	select {
	case <-woke:
		t.Fatal("AwaitReadable returned before any byte arrived")
	default:
	}
	io.WriteString(client, "hi")
	recv(t, woke, "wake on data")
	if r := recv(t, out, "read"); r.err != nil || string(r.b) != "hi" {
		t.Fatalf("read after the wait = %q, %v; want \"hi\", nil", r.b, r.err)
	}

	errs := make(chan error, 1)
	serveOne(t, g, func(c *Conn) {
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		c.AwaitReadable()
		_, err := c.Read(make([]byte, 16))
		errs <- err
	})
	wantTimeout(t, recv(t, errs, "wait with a deadline"))

	client, _ = serveOne(t, g, func(c *Conn) {
		defer c.Close()
		c.AwaitReadable()
		_, err := c.Read(make([]byte, 16))
		errs <- err
	})
	barrier(g)
	client.(*net.TCPConn).CloseWrite()
	if err := recv(t, errs, "wait ended by FIN"); err != io.EOF {
		t.Fatalf("read after FIN = %v, want io.EOF", err)
	}
}

// TestWriteBuffers: WriteBuffers sends its buffers in order, whole,
// through a slow reader (short writes and waits for the send buffer),
// with more buffers than one sendmsg gathers and empty ones among them.
func TestWriteBuffers(t *testing.T) {
	g := startLoops(t, 1)
	r := rand.New(rand.NewPCG(3, 4))
	var bufs [][]byte
	var want []byte
	for i := range 3 * maxIovecs {
		n := 0
		if i%5 != 0 { // every fifth is empty
			n = 1 + int(r.Uint32()%(512<<10))
		}
		b := make([]byte, n)
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		bufs = append(bufs, b)
		want = append(want, b...)
	}
	client, server := pair(t)
	if err := client.(*net.TCPConn).SetReadBuffer(16 << 10); err != nil {
		t.Fatalf("SetReadBuffer: %v", err)
	}
	client.SetDeadline(time.Now().Add(4 * waitFor))
	lc := adopt(t, g, server)
	type res struct {
		n   int64
		err error
	}
	out := make(chan res, 1)
	spawn(t, lc, func(c *Conn) {
		defer c.Close()
		n, err := c.WriteBuffers(bufs)
		out <- res{n, err}
	})
	got := make([]byte, 0, len(want))
	buf := make([]byte, 1024) // small reads: a slow reader
	for len(got) < len(want) {
		n, err := client.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("client read after %d bytes: %v", len(got), err)
		}
	}
	w := recv(t, out, "write")
	if w.n != int64(len(want)) || w.err != nil {
		t.Fatalf("WriteBuffers = %d, %v; want %d, nil", w.n, w.err, len(want))
	}
	if i := firstDiff(got, want); i >= 0 {
		t.Fatalf("byte %d of %d differs", i, len(want))
	}
}

// TestWriteBuffersToClosedPeer: a write to a peer that reset the
// connection fails with EPIPE or ECONNRESET (no SIGPIPE), and a detached
// connection writes its buffers through the netpoller.
func TestWriteBuffersToClosedPeer(t *testing.T) {
	g := startLoops(t, 1)
	client, server := pair(t)
	client.(*net.TCPConn).SetLinger(0)
	client.Close()
	lc := adopt(t, g, server)
	out := make(chan error, 1)
	spawn(t, lc, func(c *Conn) {
		defer c.Close()
		big := make([]byte, 1<<20)
		var err error
		for range 64 {
			if _, err = c.WriteBuffers([][]byte{[]byte("head"), big}); err != nil {
				break
			}
		}
		out <- err
	})
	if err := recv(t, out, "write"); !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("err = %v, want EPIPE or ECONNRESET", err)
	}

	client2, server2 := pair(t)
	lc2 := adopt(t, g, server2)
	detached := make(chan net.Conn, 1)
	spawn(t, lc2, func(c *Conn) {
		d, err := c.Detach()
		if err != nil {
			t.Error(err)
		}
		detached <- d
	})
	d := recv(t, detached, "detach")
	defer d.Close()
	if n, err := lc2.WriteBuffers([][]byte{[]byte("he"), nil, []byte("llo")}); n != 5 || err != nil {
		t.Fatalf("detached WriteBuffers = %d, %v", n, err)
	}
	got := make([]byte, 5)
	client2.SetDeadline(time.Now().Add(waitFor))
	if _, err := io.ReadFull(client2, got); err != nil || string(got) != "hello" {
		t.Fatalf("read %q, %v", got, err)
	}
}
