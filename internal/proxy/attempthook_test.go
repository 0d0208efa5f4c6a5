package proxy

import (
	"errors"
	"net"
	"os"
	"testing"
)

// tcpConns returns n client ends of real loopback connections, closed at
// the test's end.
func tcpConns(t *testing.T, n int) []net.Conn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var cs []net.Conn
	for range n {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(); s.Close() })
		cs = append(cs, c)
	}
	return cs
}

// TestCutReachesOnlyConnectionsInUse: the target's cut ends the attempts
// on the connections still tracked, whatever order others left in, and
// a connection tracked after the cut is ended at once.
func TestCutReachesOnlyConnectionsInUse(t *testing.T) {
	p := &pool{}
	p.watchCut(t.Context())
	var bcs []*backendConn
	for _, c := range tcpConns(t, 5) {
		bc := newBackendConn(c, nil)
		if !p.track(bc) {
			t.Fatal("track: no cut watcher")
		}
		bcs = append(bcs, bc)
	}
	// Leave from the middle, the end and the start of the set.
	for _, i := range []int{2, 4, 0} {
		if !p.untrack(bcs[i]) {
			t.Errorf("conn %d: untrack reports a cut that did not happen", i)
		}
	}
	p.cutAll() // what context.AfterFunc runs when the target is cut
	buf := make([]byte, 1)
	for i, bc := range bcs {
		if i == 1 || i == 3 {
			if _, err := bc.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("conn %d in use: read err %v, want the cut's deadline", i, err)
			}
			if p.untrack(bc) {
				t.Errorf("conn %d: untrack does not report the cut", i)
			}
		} else if bc.cutHit {
			t.Errorf("conn %d had left but was cut", i)
		}
	}
	if n := len(p.cut.active); n != 0 {
		t.Errorf("%d connections still tracked", n)
	}
	late := newBackendConn(tcpConns(t, 1)[0], nil)
	if !p.track(late) || !late.cutHit {
		t.Error("a connection tracked after the cut is not ended")
	}
}
