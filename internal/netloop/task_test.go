//go:build linux

package netloop

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// TestBlockingKeepsLoopServing parks a task in Blocking on a one-loop
// Group: another connection on the same loop is served meanwhile, and the
// first task resumes once Blocking's function returns.
func TestBlockingKeepsLoopServing(t *testing.T) {
	g := startLoops(t, 1)
	ch := make(chan struct{})
	var closeCh sync.Once
	t.Cleanup(func() { closeCh.Do(func() { close(ch) }) })
	entered := make(chan struct{}, 1)
	resumed := make(chan struct{}, 1)
	a, la := serveOne(t, g, func(c *Conn) {
		defer c.Close()
		c.Blocking(func() {
			entered <- struct{}{}
			<-ch
		})
		resumed <- struct{}{}
		io.WriteString(c, "resumed")
	})
	recv(t, entered, "Blocking's function")
	b, lb := serveOne(t, g, echo)
	if la.Loop() != lb.Loop() {
		t.Fatalf("both connections should be on the one loop: %d and %d", la.Loop().ID(), lb.Loop().ID())
	}
	for _, msg := range []string{"one", "two", "three"} {
		if err := roundTrip(b, msg); err != nil {
			t.Fatalf("echo on the same loop while a task is in Blocking: %v", err)
		}
	}
	select {
	case <-resumed:
		t.Fatal("the task resumed before Blocking's function returned")
	default:
	}
	closeCh.Do(func() { close(ch) })
	recv(t, resumed, "resume after Blocking")
	got, err := io.ReadAll(a)
	if err != nil || string(got) != "resumed" {
		t.Fatalf("client of the blocked task read %q, %v; want \"resumed\", nil", got, err)
	}
}

// TestBlockingOffLoop calls Blocking outside a loop task: fn just runs.
func TestBlockingOffLoop(t *testing.T) {
	ran := false
	var c *Conn
	c.Blocking(func() { ran = true })
	if !ran {
		t.Fatal("Blocking on a nil Conn did not run fn")
	}
}

// TestDetachOffload moves a task off its loop: after Detach and Offload
// it blocks on a channel (the loop serves others meanwhile) and then
// still echoes, through c and through the detached net.Conn.
func TestDetachOffload(t *testing.T) {
	g := startLoops(t, 1)
	ch := make(chan struct{})
	var closeCh sync.Once
	t.Cleanup(func() { closeCh.Do(func() { close(ch) }) })
	detached := make(chan error, 1)
	offloaded := make(chan struct{}, 1)
	a, la := serveOne(t, g, func(c *Conn) {
		defer c.Close()
		gc, err := c.Detach()
		if err == nil {
			if _, isLoop := gc.(*Conn); isLoop {
				err = errors.New("Detach returned a loop Conn")
			}
		}
		detached <- err
		if err != nil {
			return
		}
		c.Offload()
		offloaded <- struct{}{}
		<-ch // blocks this goroutine only
		// Echo once through c (which forwards to gc), then through gc.
		buf := make([]byte, 64)
		for _, conn := range []net.Conn{c, gc} {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			if _, err := conn.Write(buf[:n]); err != nil {
				return
			}
		}
	})
	if err := recv(t, detached, "Detach"); err != nil {
		t.Fatalf("Detach: %v", err)
	}
	recv(t, offloaded, "Offload")
	b, lb := serveOne(t, g, echo)
	if la.Loop() != lb.Loop() {
		t.Fatal("both connections should be on the one loop")
	}
	if err := roundTrip(b, "loop still serves"); err != nil {
		t.Fatalf("echo on the loop while the offloaded task blocks: %v", err)
	}
	closeCh.Do(func() { close(ch) })
	if err := roundTrip(a, "via c"); err != nil {
		t.Fatalf("offloaded echo through c: %v", err)
	}
	if err := roundTrip(a, "via gc"); err != nil {
		t.Fatalf("offloaded echo through the detached conn: %v", err)
	}
	if n, err := a.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after the offloaded task ended: read %d, %v; want io.EOF", n, err)
	}
}

type watchEvent struct {
	data []byte
	err  error
}

// TestWatch has a task set a Watch function and park in Blocking: the
// function runs on the loop when the peer's bytes come, TryRead returns
// them, and it sees io.EOF at the peer's FIN.
func TestWatch(t *testing.T) {
	g := startLoops(t, 1)
	ch := make(chan struct{})
	var closeCh sync.Once
	t.Cleanup(func() { closeCh.Do(func() { close(ch) }) })
	events := make(chan watchEvent, 64)
	watching := make(chan struct{}, 1)
	finished := make(chan struct{}, 1)
	client, _ := serveOne(t, g, func(c *Conn) {
		defer c.Close()
		buf := make([]byte, 64)
		c.Watch(func() {
			// Drain what is pending: one call per readiness edge.
			for {
				n, err := c.TryRead(buf)
				if errors.Is(err, ErrWouldBlock) {
					return
				}
				select {
				case events <- watchEvent{append([]byte(nil), buf[:n]...), err}:
				default:
				}
				if err != nil {
					return
				}
			}
		})
		watching <- struct{}{}
		c.Blocking(func() { <-ch })
		c.Watch(nil)
		finished <- struct{}{}
	})
	recv(t, watching, "Watch")
	barrier(g)
	io.WriteString(client, "ping")
	var got []byte
	for string(got) != "ping" {
		ev := recv(t, events, "watch data")
		if ev.err != nil {
			t.Fatalf("TryRead: %v after %q", ev.err, got)
		}
		got = append(got, ev.data...)
	}
	client.Close()
	for {
		ev := recv(t, events, "watch EOF")
		if ev.err == io.EOF {
			break
		}
		if ev.err != nil || len(ev.data) > 0 {
			t.Fatalf("after the peer's FIN: TryRead %q, %v; want io.EOF", ev.data, ev.err)
		}
	}
	closeCh.Do(func() { close(ch) })
	recv(t, finished, "task end")
}

// TestTryReadWouldBlock checks TryRead's answer with nothing pending.
func TestTryReadWouldBlock(t *testing.T) {
	g := startLoops(t, 1)
	out := make(chan error, 1)
	serveOne(t, g, func(c *Conn) {
		defer c.Close()
		buf := make([]byte, 8)
		_, err := c.TryRead(buf)
		if err == nil {
			_, err = c.TryRead(buf) // Adopt may leave rready set once
		}
		out <- err
	})
	if err := recv(t, out, "TryRead"); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("TryRead with nothing pending = %v, want ErrWouldBlock", err)
	}
}

// TestGroupCloseEndsEverything closes a Group while tasks are parked in
// Read and in Write on two loops: Close returns after each of them saw
// net.ErrClosed, and the Group refuses new work. goleak (TestMain) then
// checks the loops' goroutines are gone.
func TestGroupCloseEndsEverything(t *testing.T) {
	g, err := Start(2)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			g.Close()
		}
	})
	const readers = 6
	out := make(chan error, readers+1)
	parked := make(chan struct{}, readers+1)
	for range readers {
		serveOne(t, g, func(c *Conn) {
			parked <- struct{}{}
			_, err := c.Read(make([]byte, 16))
			out <- err
		})
	}
	client, server := pair(t)
	client.(*net.TCPConn).SetReadBuffer(16 << 10)
	wc := adopt(t, g, server)
	spawn(t, wc, func(c *Conn) {
		parked <- struct{}{}
		_, err := c.Write(make([]byte, 16<<20))
		out <- err
	})
	for range readers + 1 {
		recv(t, parked, "task start")
	}
	barrier(g)
	if s := g.Stats(); s.Conns != readers+1 || s.Tasks-s.Free != readers+1 {
		t.Fatalf("Stats before Close = %+v, want %d conns and %d busy tasks", s, readers+1, readers+1)
	}
	closeDone := make(chan struct{})
	go func() {
		g.Close()
		close(closeDone)
	}()
	recv(t, closeDone, "Group.Close")
	closed = true
	// Close ended the tasks before it returned: every result is there.
	for i := range readers + 1 {
		select {
		case err := <-out:
			if !errors.Is(err, net.ErrClosed) {
				t.Errorf("task %d: %v, want net.ErrClosed", i, err)
			}
		default:
			t.Fatalf("only %d of %d tasks had ended when Close returned", i, readers+1)
		}
	}
	// The writer's socket was closed too: its client reads what was sent,
	// then EOF.
	if _, err := io.Copy(io.Discard, client); err != nil {
		t.Fatalf("writer's client after Close: %v", err)
	}
	if s := g.Stats(); s != (Stats{}) {
		t.Fatalf("Stats after Close = %+v, want zeros", s)
	}
	if wc.Spawn(func() {}) {
		t.Fatal("Spawn after Close reported true")
	}
	_, server2 := pair(t)
	if _, err := g.Adopt(server2); !errors.Is(err, ErrClosed) {
		t.Fatalf("Adopt after Close = %v, want ErrClosed", err)
	}
	if err := g.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestCloseWithTaskInBlocking closes the Group while a task waits in
// Blocking: Close does not wait for fn, and fn's goroutine ends once fn
// returns (goleak checks).
func TestCloseWithTaskInBlocking(t *testing.T) {
	g := startLoops(t, 1)
	ch := make(chan struct{})
	entered := make(chan struct{}, 1)
	fnDone := make(chan struct{})
	serveOne(t, g, func(c *Conn) {
		c.Blocking(func() {
			defer close(fnDone)
			entered <- struct{}{}
			<-ch
		})
	})
	recv(t, entered, "Blocking's function")
	closeDone := make(chan struct{})
	go func() {
		g.Close()
		close(closeDone)
	}()
	recv(t, closeDone, "Group.Close with a task in Blocking")
	close(ch)
	recv(t, fnDone, "Blocking's function end")
}

// TestLocal: each loop makes its Local value once, on the first call, and
// returns that same value to every later task of the loop; another loop
// has its own.
func TestLocal(t *testing.T) {
	g := startLoops(t, 2)
	made := 0
	mk := func() any { made++; return new(int) }
	type got struct {
		loop int
		v    *int
	}
	ch := make(chan got, 1)
	byLoop := map[int]*int{}
	tasks := map[int]int{}
	for range 6 {
		// One task at a time (each waits for the last to report), so made
		// is never written by two loops at once.
		serveOne(t, g, func(c *Conn) {
			defer c.Close()
			v, _ := c.Loop().Local(mk).(*int)
			*v++
			ch <- got{c.Loop().ID(), v}
		})
		r := recv(t, ch, "the task's Local")
		tasks[r.loop]++
		if p, ok := byLoop[r.loop]; ok && p != r.v {
			t.Errorf("loop %d gave a second task another value", r.loop)
		}
		byLoop[r.loop] = r.v
	}
	if len(byLoop) != 2 || byLoop[0] == byLoop[1] {
		t.Fatalf("values by loop %v, want one for each of the 2 loops, distinct", byLoop)
	}
	if made != 2 {
		t.Errorf("mk ran %d times, want once per loop (2)", made)
	}
	for id, v := range byLoop {
		if *v != tasks[id] {
			t.Errorf("loop %d's value counted %d tasks, want its %d", id, *v, tasks[id])
		}
	}
}
