package proxy

import (
	"bufio"
	"net"
	"sync"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/http1"
	"github.com/fulcrumlb/fulcrum/internal/netloop"
	"github.com/fulcrumlb/fulcrum/internal/target"
)

// headerLimit is the largest response header section accepted from a
// target (ALB: 32 K, https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html).
const headerLimit = 32 << 10

// peekAfter is the idle time from which a pooled connection is checked
// for a pending close or stray bytes (peek) before it carries a request.
const peekAfter = 500 * time.Microsecond

// backendConn is one pooled HTTP/1.1 connection to a target.
type backendConn struct {
	net.Conn
	// br and bw are lent for a request (connbufs.go: reader, writer);
	// nil while the connection idles in the pool.
	br    *bufio.Reader
	bw    *bufio.Writer
	bufs  *connBufs
	lim   limitReader
	wrote int64 // bytes handed to the socket during the current request
	// vec holds a gathered write's buffers (writeRequest) without an
	// allocation.
	vec [2][]byte
	// head is the parsed response head for a request without its client
	// connection's (exchange.parsed), made at the first such response and
	// then reused: an event loop's requests parse into their client's
	// request state, so that with 1,000 targets a response writes memory
	// already warm instead of 1.6 KB per idle target connection.
	head *http1.Response
	// cutHit is set when the target's cut ended the attempt on it
	// (attempthook.go). Guarded by the pool's mu.
	cutHit bool
	// cutIdx is 1 + the connection's index in its pool's cut.active
	// while an attempt uses it, 0 otherwise. Guarded by the pool's mu.
	cutIdx int

	lastUsed time.Time
	// lane is the pool lane the connection belongs to: 0 for the
	// goroutine layer, 1+i for event loop i, whose socket it is on.
	lane int
}

// newBackendConn wraps a new target connection whose buffers bufs lends
// (nil: its own).
func newBackendConn(c net.Conn, bufs *connBufs) *backendConn {
	bc := &backendConn{Conn: c, bufs: bufs}
	bc.lim.r = c
	bc.lim.n = -1
	return bc
}

// countingWriter counts the bytes the socket accepted, so a failed write
// tells whether any request byte could have reached the target.
type countingWriter struct{ c *backendConn }

func (w countingWriter) Write(p []byte) (int, error) {
	n, err := w.c.Conn.Write(p)
	w.c.wrote += int64(n)
	return n, err
}

// limitReader returns at most n more bytes, then errLimit with exceeded
// set, which the transport reports as failure.ErrHeaderTooLarge; n < 0
// means unlimited. Reads stop exactly at the limit so a
// header section that ends before it is never refused.
type limitReader struct {
	r        net.Conn
	n        int
	exceeded bool
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n < 0 {
		return l.r.Read(p)
	}
	if l.n == 0 {
		l.exceeded = true
		return 0, errLimit
	}
	if len(p) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= n
	return n, err
}

// pool keeps a target's idle connections, most recently used on top, in
// lanes: lane 0 for connections of the goroutine layer, lane 1+i for
// those on event loop i (a loop's socket serves only that loop's tasks,
// as HAProxy binds a connection to its thread). max bounds each lane.
type pool struct {
	// att attaches the pool to its target (Transport.pool), in the line
	// its mu and lanes share.
	att         target.Attachment
	mu          sync.Mutex
	lanes       [][]*backendConn
	max         int
	idleTimeout time.Duration
	override    bool
	ka          *target.KeepAlive
	closed      bool
	// cut ends the pool's attempts in use when the target is cut
	// (attempthook.go).
	cut cutWatch
}

// timeout is how long a connection may idle in the pool: the configured
// idle timeout, shortened below the target's learned keep-alive
// idle-close time unless the timeout was configured explicitly.
func (p *pool) timeout(now time.Time) time.Duration {
	return p.ka.PoolTimeout(now, p.idleTimeout, p.override)
}

// peekState is what peek finds pending on an idle connection.
type peekState uint8

const (
	// peekIdle: nothing pending; the connection can carry a request.
	peekIdle peekState = iota
	// peekClosed: a FIN or RST is pending, or the socket failed.
	peekClosed
	// peekData: the target sent bytes no request asked for.
	peekData
)

// get returns a live idle connection, or nil, closing expired ones, the
// ones the target closed and the ones holding unsolicited bytes, each
// counted on conns.
func (p *pool) get(now time.Time, conns *target.ConnCloses, lane int, stealAfter time.Duration) *backendConn {
	limit := p.timeout(now)
	for {
		p.mu.Lock()
		from := p.laneFor(lane, now, stealAfter)
		if from < 0 {
			p.mu.Unlock()
			return nil
		}
		lc := p.lanes[from]
		n := len(lc)
		c := lc[n-1]
		lc[n-1] = nil
		p.lanes[from] = lc[:n-1]
		p.mu.Unlock()
		idle := now.Sub(c.lastUsed)
		if idle >= limit {
			c.Close()
			continue
		}
		if idle < peekAfter {
			// Back in the pool for microseconds: a close or stray bytes
			// in that time are too rare to pay a syscall per request
			// for; an attempt that meets one is retried on a fresh
			// connection (failure.Class.Reused).
			return c
		}
		if nc, ok := c.Conn.(*netloop.Conn); ok && from == lane && lane > 0 && nc.Quiet() {
			// The caller runs on the connection's own loop, whose
			// epoll_wait has seen nothing arrive on it since its last
			// read: what the peek would say, without its syscall.
			return c
		}
		switch peek(c.Conn) {
		case peekIdle:
			return c
		case peekData:
			conns.ObserveUnsolicited()
		default:
			// The target closed the connection while it idled: an upper
			// bound of its keep-alive timeout.
			conns.ObserveTargetClosed()
			p.ka.ObserveClosed(now, idle)
		}
		c.Close()
	}
}

// laneFor picks the lane a request of lane takes an idle connection
// from, at now: its own; else, for an event loop's request, another
// loop's lane that can spare one (the caller moves the connection over,
// netloop.Conn.Claim), so that spreading clients over loops costs no
// reuse. A lane spares a connection when it has two or more, or when its
// only one idled stealAfter or longer: one in steady use by its own loop
// stays, or two loops would pass a target's connection back and forth
// on every request instead of each keeping its own. -1 when there is
// none. Called with p.mu held.
func (p *pool) laneFor(lane int, now time.Time, stealAfter time.Duration) int {
	if lane < len(p.lanes) && len(p.lanes[lane]) > 0 {
		return lane
	}
	if lane == 0 {
		return -1
	}
	best := -1
	for i := 1; i < len(p.lanes); i++ {
		idle := p.lanes[i]
		switch {
		case len(idle) == 0:
			continue
		case len(idle) == 1 && now.Sub(idle[0].lastUsed) < stealAfter:
			continue
		}
		if best < 0 || len(idle) > len(p.lanes[best]) {
			best = i
		}
	}
	return best
}

// defaultStealAfter is how long a loop's only idle connection to a
// target must have idled before another loop takes it (laneFor).
const defaultStealAfter = 100 * time.Millisecond

// put returns c to the pool; it reports false (and closes c) when the pool
// is full or closed.
func (p *pool) put(c *backendConn, now time.Time) bool {
	c.lastUsed = now
	c.releaseReader()
	c.releaseWriter()
	p.mu.Lock()
	for c.lane >= len(p.lanes) {
		p.lanes = append(p.lanes, nil)
	}
	if p.closed || len(p.lanes[c.lane]) >= p.max {
		p.mu.Unlock()
		c.Close()
		return false
	}
	p.lanes[c.lane] = append(p.lanes[c.lane], c)
	p.mu.Unlock()
	return true
}

// reap closes connections idle for longer than the idle timeout.
func (p *pool) reap(now time.Time) {
	limit := p.timeout(now)
	p.mu.Lock()
	var old []*backendConn
	for i, idle := range p.lanes {
		keep := idle[:0]
		for _, c := range idle {
			if now.Sub(c.lastUsed) >= limit {
				old = append(old, c)
			} else {
				keep = append(keep, c)
			}
		}
		clear(idle[len(keep):])
		p.lanes[i] = keep
	}
	p.mu.Unlock()
	for _, c := range old {
		c.Close()
	}
}

// close closes every idle connection and refuses new ones.
func (p *pool) close() {
	p.mu.Lock()
	lanes := p.lanes
	p.lanes, p.closed = nil, true
	p.mu.Unlock()
	for _, idle := range lanes {
		for _, c := range idle {
			c.Close()
		}
	}
	p.stopCutWatch()
}
