package proxy

import (
	"io"
	"net"
	"testing"

	"github.com/fulcrumlb/fulcrum/internal/netloop"
)

// TestLoopFreeLists: take and keep on no loop's lists (nil) hand
// everything to the pools; a loop's list keeps up to its bound, newest
// first out.
func TestLoopFreeLists(t *testing.T) {
	var none *loopFree
	if keep(none, readBufsOf, new([]byte), loopFreeSmall) {
		t.Error("keep on no loop's lists reported true")
	}
	if _, ok := take(none, readBufsOf); ok {
		t.Error("take on no loop's lists reported true")
	}
	f := new(loopFree)
	bufs := make([]*[]byte, loopFreeBig+1)
	for i := range bufs {
		bufs[i] = new([]byte)
		if kept := keep(f, bodyBufsOf, bufs[i], loopFreeBig); kept != (i < loopFreeBig) {
			t.Errorf("keep of buffer %d: %v, want %v (bound %d)", i, kept, i < loopFreeBig, loopFreeBig)
		}
	}
	for i := loopFreeBig - 1; i >= 0; i-- {
		if b, ok := take(f, bodyBufsOf); !ok || b != bufs[i] {
			t.Fatalf("take %d: got another buffer or none (%v), want buffer %d", loopFreeBig-1-i, ok, i)
		}
	}
	if _, ok := take(f, bodyBufsOf); ok {
		t.Error("take on an emptied list reported true")
	}
	if len(f.readBufs) != 0 {
		t.Error("another list changed")
	}
}

// TestTargetBuffersStayOnTheirLoop: on an event loop, a target
// connection's read buffer goes back to its loop's free list when the
// response has been read, and the next response on the loop takes it
// from there, not from the transport's pool.
func TestTargetBuffersStayOnTheirLoop(t *testing.T) {
	g, err := netloop.Start(1)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	target, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	lc, err := g.Adopt(nc)
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	bc := newBackendConn(lc, &connBufs{})
	type result struct {
		again bool // the second response took the kept reader
		err   error
	}
	released := make(chan int, 1)
	done := make(chan result, 1)
	io.WriteString(target, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	if !lc.Spawn(func() {
		var r result
		defer func() { done <- r }()
		if _, r.err = readResponse(bc, "GET", &exchange{}); r.err != nil {
			released <- -1
			return
		}
		first := bc.br
		bc.releaseReader() // as the pool does when the connection comes back
		f := freeOf(lc.Loop())
		released <- len(f.tReaders)
		if _, r.err = readResponse(bc, "GET", &exchange{}); r.err != nil {
			return
		}
		r.again = bc.br == first && len(f.tReaders) == 0
	}) {
		t.Fatal("Spawn reported false")
	}
	kept := <-released
	io.WriteString(target, "HTTP/1.1 204 No Content\r\n\r\n")
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if kept != 1 || !r.again {
		t.Errorf("the loop's list held %d readers after the release (want 1); the next response took it: %v", kept, r.again)
	}
}
