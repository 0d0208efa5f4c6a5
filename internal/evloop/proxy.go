//go:build linux

package evloop

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"sync/atomic"

	"github.com/fulcrumlb/fulcrum/internal/http1"
)

// Config is what every loop of a server is given.
type Config struct {
	// Listen is the listener's host:port ("127.0.0.1:0" picks a port).
	Listen string
	// Targets are the target group's addresses, IPv4 host:port, picked
	// round robin.
	Targets []string
	// Loops is the number of event loops; 0 means runtime.NumCPU().
	Loops int
	// BufSize is each connection's read buffer in bytes (default 16 KiB).
	// It bounds what the proxy holds per connection: a target is not read
	// while its client has not taken the bytes already read.
	BufSize int
	// MaxIdlePerTarget bounds each loop's idle pool per target (default 512).
	MaxIdlePerTarget int
	// SockBuf, when positive, sets SO_SNDBUF and SO_RCVBUF (bytes) on
	// every socket the proxy opens or accepts; tests use it to make
	// kernel buffers small. 0 keeps the kernel's defaults.
	SockBuf int
	// AccessLog, when not nil, gets one line per request, encoded off the
	// loops by a Logger the server starts and stops.
	AccessLog io.Writer

	log *Logger
}

func (c Config) withDefaults() Config {
	if c.BufSize <= 0 {
		c.BufSize = 16 << 10
	}
	if c.MaxIdlePerTarget <= 0 {
		c.MaxIdlePerTarget = 512
	}
	return c
}

// ErrConfig is wrapped by the errors of a bad Config.
var ErrConfig = errors.New("evloop: bad config")

// parseTargets resolves IPv4 host:port targets.
func parseTargets(ts []string) ([]netip.AddrPort, error) {
	if len(ts) == 0 {
		return nil, fmt.Errorf("%w: no targets", ErrConfig)
	}
	out := make([]netip.AddrPort, len(ts))
	for i, t := range ts {
		ap, err := netip.ParseAddrPort(t)
		if err != nil || !ap.Addr().Is4() {
			return nil, fmt.Errorf("%w: target %q is not an IPv4 host:port: %w", ErrConfig, t, err)
		}
		out[i] = ap
	}
	return out, nil
}

// Dialer is the I/O layer's side of connecting to targets.
type Dialer interface {
	// Dial starts connecting e to target (an index into the targets). It
	// sets e.FD / e.Ext and e.Connecting, and later calls
	// Proxy.Connected or Proxy.Failed for e. An error means nothing was
	// started.
	Dial(e *End, target int) error
}

// Proxy is one loop's proxy state: its sessions' logic, its keep-alive
// pool of target connections, its request counter. Not safe for
// concurrent use: every method is called on the loop.
type Proxy struct {
	cfg     Config
	targets []netip.AddrPort
	dial    Dialer
	loop    uint16
	port    []byte // the listener's port, for X-Forwarded-Port
	rr      int
	seq     uint64
	idle    [][]*Upstream // per target, LIFO
	queue   []*End        // ends to service
	freeS   []*Session
	freeU   []*Upstream
	answers [numAnswers][]byte
	req     http1.Request  // scratch: the head being parsed
	resp    http1.Response // scratch: the response head being parsed
	// Stats for tests and the doc.
	stats Stats
	// pauses counts the times a loop stopped reading a readable target
	// connection because its client had not taken the bytes already read
	// (backpressure); atomic, as tests watch it while the loop runs.
	pauses *atomic.Uint64
}

// Stats counts a loop's events.
type Stats struct {
	Requests, Dials, Reused, Answered uint64
	// MaxBuffered is the most bytes one session held in its read buffers
	// (its own and its upstream's) at any time.
	MaxBuffered int
}

// NewProxy returns loop number loop's proxy. port is the listener's port.
func NewProxy(cfg Config, targets []netip.AddrPort, loop int, port int, d Dialer) *Proxy {
	cfg = cfg.withDefaults()
	return &Proxy{
		cfg:     cfg,
		targets: targets,
		dial:    d,
		loop:    uint16(loop),
		port:    strconv.AppendInt(nil, int64(port), 10),
		idle:    make([][]*Upstream, len(targets)),
		queue:   make([]*End, 0, 256),
		answers: buildAnswers(),
		pauses:  new(atomic.Uint64),
	}
}

// Paused records that the layer stopped reading e, readable, because
// e.Space() was empty.
func (p *Proxy) Paused(e *End) {
	if e.u != nil {
		p.pauses.Add(1)
	}
}

// Stats returns the loop's counters.
func (p *Proxy) Stats() Stats { return p.stats }

// Target returns target i's address.
func (p *Proxy) Target(i int) netip.AddrPort { return p.targets[i] }

// Mark queues e for the layer to service (the layer calls it after it
// changed e's readiness flags).
func (p *Proxy) Mark(e *End) { p.mark(e) }

// mark queues e for the layer to service.
func (p *Proxy) mark(e *End) {
	if e.queued || e.closed {
		return
	}
	e.queued = true
	p.queue = append(p.queue, e)
}

// Next pops an end the layer must service: write its Pending while
// writable, close it when ShouldClose, read into its Space while
// readable. It returns nil when nothing is left.
func (p *Proxy) Next() *End {
	n := len(p.queue)
	if n == 0 {
		return nil
	}
	e := p.queue[n-1]
	p.queue = p.queue[:n-1]
	e.queued = false
	return e
}

// Accept returns the session for a new client connection from remote.
// The layer sets its End's FD/Ext.
func (p *Proxy) Accept(remote netip.Addr) *Session {
	var s *Session
	if n := len(p.freeS); n > 0 {
		s = p.freeS[n-1]
		p.freeS = p.freeS[:n-1]
	} else {
		s = &Session{p: p}
		s.head = make([]byte, 0, 4096)
	}
	s.reset()
	s.e.init(p.cfg.BufSize)
	s.e.s = s
	s.ip = remote.Unmap().AppendTo(s.ipBuf[:0])
	return s
}

// Received reports n bytes read into e.Space().
func (p *Proxy) Received(e *End, n int) {
	e.w += n
	if e.u != nil {
		e.u.onData()
	} else {
		e.s.onData()
	}
	if e.s != nil {
		if b := e.s.buffered(); b > p.stats.MaxBuffered {
			p.stats.MaxBuffered = b
		}
	}
}

// Wrote reports that the first n bytes of e.Pending() were written.
func (p *Proxy) Wrote(e *End, n int) {
	e.advance(n)
	if e.u != nil {
		e.u.onWrote(n)
	} else {
		e.s.onWrote(n)
	}
}

// EOF reports that the peer of e closed its side (a read returned 0).
func (p *Proxy) EOF(e *End) {
	if e.u != nil {
		e.u.onEOF()
		return
	}
	e.s.onEOF()
}

// Failed reports an I/O error on e (a failed connect, ECONNRESET...):
// the same as an EOF, and the socket is not reused.
func (p *Proxy) Failed(e *End, _ error) {
	p.EOF(e)
}

// Connected reports that e's connect completed.
func (p *Proxy) Connected(e *End) {
	e.Connecting = false
	p.mark(e)
}

// Closed reports that the layer closed e's socket; the core releases it.
func (p *Proxy) Closed(e *End) {
	if e.closed {
		return
	}
	e.closed = true
	e.niov = 0
	if u := e.u; u != nil {
		p.dropIdle(u)
		if s := u.s; s != nil && s.up == u {
			s.upstreamGone()
		}
		u.s = nil
		e.iov = [2][]byte{}
		p.freeU = append(p.freeU, u)
		return
	}
	s := e.s
	if u := s.up; u != nil {
		s.up = nil
		u.s = nil
		u.e.abort = true
		p.mark(&u.e)
	}
	e.iov = [2][]byte{}
	p.freeS = append(p.freeS, s)
}

// acquire returns a target connection for s: an idle one of the next
// target in round robin, else a new one being dialled. nil means the
// dial could not start.
func (p *Proxy) acquire(s *Session) *Upstream {
	t := p.rr
	p.rr++
	if p.rr == len(p.targets) {
		p.rr = 0
	}
	if n := len(p.idle[t]); n > 0 {
		u := p.idle[t][n-1]
		p.idle[t][n-1] = nil
		p.idle[t] = p.idle[t][:n-1]
		u.idleAt = -1
		u.bind(s)
		p.stats.Reused++
		return u
	}
	var u *Upstream
	if n := len(p.freeU); n > 0 {
		u = p.freeU[n-1]
		p.freeU = p.freeU[:n-1]
	} else {
		u = &Upstream{p: p}
	}
	u.e.init(p.cfg.BufSize)
	u.e.u = u
	u.target = t
	u.idleAt = -1
	u.bind(s)
	if err := p.dial.Dial(&u.e, t); err != nil {
		u.s = nil
		u.e.closed = true
		p.freeU = append(p.freeU, u)
		return nil
	}
	p.stats.Dials++
	return u
}

// release puts u back in its target's idle pool, or closes it when the
// pool is full.
func (p *Proxy) release(u *Upstream) {
	u.s = nil
	u.e.s = nil
	l := p.idle[u.target]
	if len(l) >= p.cfg.MaxIdlePerTarget {
		u.e.closing = true
		p.mark(&u.e)
		return
	}
	u.idleAt = len(l)
	p.idle[u.target] = append(l, u)
	// An idle connection is still read: an EOF or stray bytes retire it.
	p.mark(&u.e)
}

func (p *Proxy) dropIdle(u *Upstream) {
	if u.idleAt < 0 {
		return
	}
	l := p.idle[u.target]
	for i := range l {
		if l[i] == u {
			copy(l[i:], l[i+1:])
			l[len(l)-1] = nil
			p.idle[u.target] = l[:len(l)-1]
			break
		}
	}
	u.idleAt = -1
}

// Shutdown marks every idle target connection for closing (the layer
// closes the clients' sockets itself when its loop stops).
func (p *Proxy) Shutdown() {
	for t := range p.idle {
		for _, u := range p.idle[t] {
			u.e.abort = true
			p.mark(&u.e)
		}
	}
}

// nextID returns the next request id: the loop number and a counter, as
// 16 hex digits.
func (p *Proxy) nextID(dst *[16]byte) {
	p.seq++
	v := uint64(p.loop)<<48 | p.seq&(1<<48-1)
	const hex = "0123456789abcdef"
	for i := 15; i >= 0; i-- {
		dst[i] = hex[v&15]
		v >>= 4
	}
}
