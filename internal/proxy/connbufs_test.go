package proxy

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/fulcrumlb/fulcrum/internal/netloop"
)

// TestIdleTargetConnectionsHoldNoBuffers: once its response is read, a
// pooled target connection has given its read and write buffers back
// (connbufs.go), on both I/O layers, and the next request borrows them
// again on the same connection.
func TestIdleTargetConnectionsHoldNoBuffers(t *testing.T) {
	for _, loops := range []int{0, -1} {
		t.Run(fmt.Sprint("loops=", loops), func(t *testing.T) {
			tg := newRawTarget(t, false)
			s, addr := startServerOpts(t, fmt.Sprintf(`
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app}]
target_groups: [{name: app, health_check: {enabled: false}, targets: [{address: %q}]}]
`, tg.ln.Addr()), Options{Logger: slog.New(slog.DiscardHandler), EventLoops: loops})
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			br := bufio.NewReader(c)
			for i := range 3 {
				if st, body := rawGet(t, c, br); st != 200 || body != "ok\n" {
					t.Fatalf("GET %d: %d %q", i, st, body)
				}
			}
			if n := tg.accepted.Load(); n != 1 {
				t.Errorf("%d target connections for 3 sequential requests, want 1 reused", n)
			}
			tr := s.Group("app").Transport
			idle := 0
			tr.pools.Range(func(_, v any) bool {
				p := v.(*pool)
				p.mu.Lock()
				defer p.mu.Unlock()
				for _, lane := range p.lanes {
					for _, bc := range lane {
						idle++
						if bc.br != nil || bc.bw != nil {
							t.Errorf("an idle target connection holds buffers: reader %v, writer %v", bc.br != nil, bc.bw != nil)
						}
					}
				}
				return true
			})
			if idle != 1 {
				t.Errorf("%d idle target connections, want 1", idle)
			}
		})
	}
}

// TestTargetConnectionTakesItsReaderWithTheResponse: on an event loop, a
// target connection waiting for its response holds no read buffer; it
// takes one when the response's first bytes are there (readResponse,
// netloop.Conn.AwaitReadable), so busy connections whose targets think
// share a few buffers instead of holding one each.
func TestTargetConnectionTakesItsReaderWithTheResponse(t *testing.T) {
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
		status int
		err    error
	}
	first := make(chan result, 1)
	second := make(chan result, 1)
	read := func(out chan<- result) {
		x := &exchange{}
		resp, err := readResponse(bc, "GET", x)
		if err != nil {
			out <- result{err: err}
			return
		}
		bc.releaseReader() // as the pool does when the connection comes back
		out <- result{status: resp.StatusCode}
	}
	if !lc.Spawn(func() {
		read(first)
		read(second)
	}) {
		t.Fatal("Spawn reported false")
	}
	io.WriteString(target, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	if r := <-first; r.err != nil || r.status != 200 {
		t.Fatalf("first response: %d %v", r.status, r.err)
	}
	// A task of the same loop looks, once the first has gone on to wait
	// for the second response (tasks of a loop run one at a time).
	g.Stats()
	held := make(chan bool, 1)
	lc.Spawn(func() { held <- bc.br != nil })
	if <-held {
		t.Error("the connection took a read buffer before its response came")
	}
	io.WriteString(target, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
	if r := <-second; r.err != nil || r.status != 201 {
		t.Fatalf("second response: %d %v", r.status, r.err)
	}
}
