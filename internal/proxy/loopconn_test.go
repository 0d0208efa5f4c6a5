package proxy

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rawTarget is an HTTP/1.1 target on 127.0.0.1:0 that counts the
// connections it accepted and answers every request with "ok" after
// hold (a channel read per request when hold is not nil).
type rawTarget struct {
	ln       net.Listener
	accepted atomic.Int64
	hold     chan struct{}
	started  chan struct{}
	wg       sync.WaitGroup
}

func newRawTarget(t *testing.T, hold bool) *rawTarget {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rt := &rawTarget{ln: ln, started: make(chan struct{}, 16)}
	if hold {
		rt.hold = make(chan struct{})
	}
	var conns sync.Map
	rt.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			rt.accepted.Add(1)
			conns.Store(c, true)
			rt.wg.Go(func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					select {
					case rt.started <- struct{}{}:
					default:
					}
					if rt.hold != nil {
						<-rt.hold
					}
					if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n"); err != nil {
						return
					}
				}
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
		rt.wg.Wait()
	})
	return rt
}

// rawGet sends one GET on c and reads the answer's status and body.
func rawGet(t *testing.T, c net.Conn, br *bufio.Reader) (int, string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b)
}

// TestLoopIdleConnectionsHoldNoTask: keep-alive connections between
// requests are parked on their loop with no coroutine, read buffer,
// request state or header map, and each is resumed by its next request.
func TestLoopIdleConnectionsHoldNoTask(t *testing.T) {
	tg := newRawTarget(t, false)
	s, addr := startServer(t, fmt.Sprintf(`
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app}]
target_groups: [{name: app, health_check: {enabled: false}, targets: [{address: %q}]}]
`, tg.ln.Addr()))
	const n = 20
	type client struct {
		c  net.Conn
		br *bufio.Reader
	}
	var cs []client
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cl := client{c, bufio.NewReader(c)}
		if st, body := rawGet(t, cl.c, cl.br); st != 200 || body != "ok\n" {
			t.Fatalf("first GET: %d %q", st, body)
		}
		cs = append(cs, cl)
	}
	loops := s.eventLoops()
	if loops == nil {
		t.Fatal("the http listener is not on event loops")
	}
	// The last answer is written before its task parks the connection:
	// poll the loops briefly for the count to settle.
	deadline := time.Now().Add(5 * time.Second)
	st := loops.Stats()
	for st.Idle < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		st = loops.Stats()
	}
	if st.Idle != n || st.Tasks != st.Free {
		t.Fatalf("loops hold %+v; want %d idle connections and every task free", st, n)
	}
	// Nor a read buffer, request state or response header map
	// (lendBufs): the loops answered Stats after parking, so what they
	// wrote is seen here.
	s.mu.Lock()
	srv := s.listeners["web"].srv
	s.mu.Unlock()
	srv.mu.Lock()
	held := 0
	for cc := range srv.conns {
		if cc.buf != nil || cc.bufp != nil || cc.rs != nil || cc.rw.hdr != nil {
			held++
		}
	}
	conns := len(srv.conns)
	srv.mu.Unlock()
	if conns != n || held != 0 {
		t.Fatalf("%d of %d idle connections hold a read buffer, request state or header map; want none of %d", held, conns, n)
	}
	loops.Stats() // and the loops see these reads before they serve again
	for i, cl := range cs {
		if st, body := rawGet(t, cl.c, cl.br); st != 200 || body != "ok\n" {
			t.Fatalf("second GET on connection %d: %d %q", i, st, body)
		}
	}
}

// TestLoopsShareIdleTargetConnections: requests on new client
// connections, which land on different loops, reuse one target
// connection: a loop with no idle connection of its own takes another
// loop's before it dials (at once here; by default only one that idled
// defaultStealAfter, TestLaneSteal).
func TestLoopsShareIdleTargetConnections(t *testing.T) {
	tg := newRawTarget(t, false)
	c := fmt.Sprintf(`
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app}]
target_groups: [{name: app, health_check: {enabled: false}, targets: [{address: %q}]}]
`, tg.ln.Addr())
	s, addr := startServerOpts(t, c, Options{Logger: slog.New(slog.DiscardHandler), EventLoops: 4})
	s.Group("app").Transport.steal.Store(1)
	for i := range 12 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		st, body := rawGet(t, c, bufio.NewReader(c))
		c.Close()
		if st != 200 || body != "ok\n" {
			t.Fatalf("GET %d: %d %q", i, st, body)
		}
	}
	if l := s.eventLoops(); l == nil || l.Loops() != 4 {
		t.Fatal("want the listener on 4 event loops")
	}
	if n := tg.accepted.Load(); n != 1 {
		t.Errorf("the target accepted %d connections for 12 sequential requests; want 1, shared by the loops", n)
	}
}

// TestLoopQueueWaitsOffTheLoop: with one loop, a request queued behind a
// target's max_connections does not stop the loop; the request holding
// the slot still gets its answer, which frees the slot for the queued
// one.
func TestLoopQueueWaitsOffTheLoop(t *testing.T) {
	tg := newRawTarget(t, true)
	c := fmt.Sprintf(`
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app}]
target_groups:
  - name: app
    health_check: {enabled: false}
    queue_timeout: 20s
    targets: [{address: %q, max_connections: 1}]
`, tg.ln.Addr())
	s, addr := startServerOpts(t, c, Options{Logger: slog.New(slog.DiscardHandler), EventLoops: 1})
	type result struct {
		status int
		body   string
		err    error
	}
	get := func() <-chan result {
		ch := make(chan result, 1)
		go func() {
			resp, err := http.Get("http://" + addr + "/")
			if err != nil {
				ch <- result{err: err}
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			ch <- result{status: resp.StatusCode, body: string(b)}
		}()
		return ch
	}
	first := get()
	<-tg.started // the first request holds the target's one slot
	if l := s.eventLoops(); l == nil || l.Loops() != 1 {
		t.Fatal("want the listener on one event loop")
	}
	second := get()
	deadline := time.Now().Add(5 * time.Second)
	for s.queueLengths()["app"] != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if q := s.queueLengths()["app"]; q != 1 {
		t.Fatalf("queue length %d, want the second request queued", q)
	}
	tg.hold <- struct{}{} // the first answer goes out on the loop
	if r := <-first; r.err != nil || r.status != 200 || !strings.HasPrefix(r.body, "ok") {
		t.Fatalf("first request: %+v", r)
	}
	<-tg.started
	tg.hold <- struct{}{}
	if r := <-second; r.err != nil || r.status != 200 || !strings.HasPrefix(r.body, "ok") {
		t.Fatalf("queued request: %+v", r)
	}
}

// TestLaneSteal: a loop takes another loop's idle connection only when
// that lane can spare it: two or more idle, or its only one idle for
// stealAfter. One in steady use stays, so that two loops do not pass a
// connection back and forth on every request.
func TestLaneSteal(t *testing.T) {
	now := time.Now()
	conn := func(idle time.Duration) *backendConn { return &backendConn{lastUsed: now.Add(-idle)} }
	for _, tc := range []struct {
		name  string
		lanes [][]*backendConn
		lane  int
		want  int
	}{
		{"own lane first", [][]*backendConn{nil, {conn(0)}, {conn(0), conn(0)}}, 1, 1},
		{"goroutine layer never steals", [][]*backendConn{nil, {conn(time.Hour)}}, 0, -1},
		{"only one, busy", [][]*backendConn{nil, nil, {conn(time.Millisecond)}}, 1, -1},
		{"only one, idled", [][]*backendConn{nil, nil, {conn(time.Second)}}, 1, 2},
		{"two to spare", [][]*backendConn{nil, nil, {conn(0), conn(0)}}, 1, 2},
		{"the fullest", [][]*backendConn{nil, nil, {conn(0), conn(0)}, {conn(0), conn(0), conn(0)}}, 1, 3},
		{"lane beyond the pool's", [][]*backendConn{nil, {conn(0), conn(0)}}, 5, 1},
	} {
		p := &pool{lanes: tc.lanes}
		if got := p.laneFor(tc.lane, now, defaultStealAfter); got != tc.want {
			t.Errorf("%s: laneFor(%d) = %d, want %d", tc.name, tc.lane, got, tc.want)
		}
	}
}
