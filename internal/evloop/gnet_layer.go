//go:build linux

package evloop

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// GnetServer is layer B: the same core on github.com/panjf2000/gnet/v2's
// EventHandler (https://pkg.go.dev/github.com/panjf2000/gnet/v2).
//
// gnet runs one event loop per core on a locked OS thread, each with its
// own SO_REUSEPORT listener (WithReusePort), level-triggered by default.
// What gnet decides for the layer:
//   - Target connections join the client's loop through
//     gnet.EventLoop.Register, which dials with a blocking net.Dial on
//     gnet's process-wide goroutine pool (ants), dups the socket and
//     hands it to the loop; OnOpen then fires on the loop. A failed dial
//     comes back on a channel, so a goroutine per dial waits for it and
//     reports the failure on the loop with EventLoop.Execute.
//   - gnet reads every readable socket into its own buffer whether or
//     not the handler takes the bytes, and Conn.Writev copies what the
//     socket does not take into an elastic outbound buffer with no
//     callback when it drains. So there is no backpressure: a slow
//     client's response is buffered whole, in gnet's buffers.
//   - Every byte is copied once more than with the epoll layer: from
//     gnet's read buffer into the core's (Conn.Read), and into gnet's
//     outbound buffer whenever a write is short.
type GnetServer struct {
	cfg     Config
	targets []netip.AddrPort
	port    int
	log     *Logger
	booted  chan gnet.Engine
	eng     gnet.Engine
	done    chan error
	once    sync.Once

	mu    sync.Mutex
	loops map[gnet.EventLoop]*gnLoop
}

type gnLoop struct {
	srv *GnetServer
	el  gnet.EventLoop
	p   *Proxy
	bs  [2][]byte // scratch iovec for Conn.Writev, which rewrites it
	wg  sync.WaitGroup
}

// dialing is the context a Register carries to OnOpen.
type dialing struct {
	e   *End
	gen uint32
}

// StartGnet starts a gnet engine with cfg.Loops loops (default
// runtime.NumCPU()) and returns once it is accepting.
func StartGnet(cfg Config) (*GnetServer, error) {
	cfg = cfg.withDefaults()
	targets, err := parseTargets(cfg.Targets)
	if err != nil {
		return nil, err
	}
	ap, err := netip.ParseAddrPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("%w: listen address %q: %w", ErrConfig, cfg.Listen, err)
	}
	if ap.Port() == 0 {
		// gnet binds one socket per loop with SO_REUSEPORT, so port 0
		// would give each loop another port: pick one first.
		ln, err := net.Listen("tcp4", cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("evloop: pick a port: %w", err)
		}
		ap = netip.AddrPortFrom(ap.Addr(), uint16(ln.Addr().(*net.TCPAddr).Port))
		_ = ln.Close()
	}
	n := cfg.Loops
	if n <= 0 {
		n = runtime.NumCPU()
	}
	s := &GnetServer{cfg: cfg, targets: targets, port: int(ap.Port()), booted: make(chan gnet.Engine, 1),
		done: make(chan error, 1), loops: map[gnet.EventLoop]*gnLoop{}}
	if cfg.AccessLog != nil {
		s.log = NewLogger(cfg.AccessLog, cfg.Targets, s.port, 0)
		s.cfg.log = s.log
	}
	opts := []gnet.Option{
		gnet.WithNumEventLoop(n), gnet.WithReusePort(true), gnet.WithLockOSThread(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay), gnet.WithReadBufferCap(cfg.BufSize),
		gnet.WithLogger(quiet{}),
	}
	if cfg.SockBuf > 0 {
		opts = append(opts, gnet.WithSocketRecvBuffer(cfg.SockBuf), gnet.WithSocketSendBuffer(cfg.SockBuf))
	}
	h := &gnHandler{s: s}
	go func() { s.done <- gnet.Run(h, "tcp4://"+ap.String(), opts...) }()
	select {
	case s.eng = <-s.booted:
		return s, nil
	case err := <-s.done:
		if s.log != nil {
			_ = s.log.Close()
		}
		return nil, fmt.Errorf("evloop: gnet: %w", err)
	}
}

// Addr returns the listening address, host:port.
func (s *GnetServer) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// Port returns the listening port.
func (s *GnetServer) Port() int { return s.port }

// Close stops the engine (gnet closes every connection on its loop) and
// returns after gnet.Run returned and the dial waiters exited.
func (s *GnetServer) Close() error {
	var err error
	s.once.Do(func() {
		eng := s.eng
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = eng.Stop(ctx)
		if e := <-s.done; err == nil {
			err = e
		}
		s.mu.Lock()
		for _, l := range s.loops {
			l.wg.Wait()
		}
		s.mu.Unlock()
		if s.log != nil {
			if e := s.log.Close(); err == nil {
				err = e
			}
		}
	})
	return err
}

// Pauses is always 0: gnet cannot pause reading (see GnetServer).
func (s *GnetServer) Pauses() uint64 { return 0 }

// Stats sums the loops' counters; call it after Close.
func (s *GnetServer) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	var t Stats
	for _, l := range s.loops {
		t.add(l.p.stats)
	}
	return t
}

func (s *GnetServer) loop(el gnet.EventLoop) *gnLoop {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.loops[el]
	if l == nil {
		l = &gnLoop{srv: s, el: el}
		l.p = NewProxy(s.cfg, s.targets, len(s.loops), s.port, l)
		s.loops[el] = l
	}
	return l
}

type gnHandler struct {
	gnet.BuiltinEventEngine
	s *GnetServer
}

func (h *gnHandler) OnBoot(eng gnet.Engine) gnet.Action {
	h.s.booted <- eng
	return gnet.None
}

func (h *gnHandler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	if d, ok := c.Context().(*dialing); ok {
		e := d.e
		if e.closed || e.gen != d.gen || e.Ext != nil {
			c.SetContext(nil)
			return nil, gnet.Close // its session is gone
		}
		c.SetContext(e)
		e.Ext = c
		l := e.u.p.dial.(*gnLoop)
		l.p.Connected(e)
		l.serviceAll()
		return nil, gnet.None
	}
	l := h.s.loop(c.EventLoop())
	var ip netip.Addr
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		ip, _ = netip.AddrFromSlice(ta.IP)
	}
	s := l.p.Accept(ip)
	e := s.End()
	e.Ext = c
	c.SetContext(e)
	return nil, gnet.None
}

func (h *gnHandler) OnTraffic(c gnet.Conn) gnet.Action {
	e, ok := c.Context().(*End)
	if !ok {
		return gnet.Close
	}
	l := e.proxy().dial.(*gnLoop)
	l.p.Mark(e)
	l.serviceAll()
	return gnet.None
}

func (h *gnHandler) OnClose(c gnet.Conn, _ error) gnet.Action {
	e, ok := c.Context().(*End)
	if !ok || e.closed {
		return gnet.None
	}
	c.SetContext(nil)
	l := e.proxy().dial.(*gnLoop)
	l.read(e, c) // what gnet still holds
	l.serviceAll()
	if !e.closed {
		l.p.EOF(e)
		l.serviceAll()
	}
	if !e.closed {
		e.Ext = nil
		l.p.Closed(e)
		l.serviceAll()
	}
	return gnet.None
}

// proxy returns the Proxy the end belongs to.
func (e *End) proxy() *Proxy {
	if e.u != nil {
		return e.u.p
	}
	return e.s.p
}

func (l *gnLoop) serviceAll() {
	for e := l.p.Next(); e != nil; e = l.p.Next() {
		l.service(e)
	}
}

func (l *gnLoop) service(e *End) {
	if e.closed {
		return
	}
	c, _ := e.Ext.(gnet.Conn)
	if c == nil {
		// Still dialling: OnOpen services it. An abort now closes the
		// socket when it arrives.
		if e.ShouldClose() {
			l.p.Closed(e)
		}
		return
	}
	if e.niov > 0 && !e.abort {
		n := copy(l.bs[:], e.Pending())
		total := e.PendingLen()
		if _, err := c.Writev(l.bs[:n]); err != nil {
			l.bs = [2][]byte{}
			l.closeEnd(e, c)
			return
		}
		l.bs = [2][]byte{}
		l.p.Wrote(e, total) // gnet keeps what the socket did not take
	}
	if e.ShouldClose() {
		l.closeEnd(e, c)
		return
	}
	l.read(e, c)
	if e.ShouldClose() {
		l.closeEnd(e, c)
	}
}

// read hands the core what gnet has read for e, as far as the core has room.
func (l *gnLoop) read(e *End, c gnet.Conn) {
	for c.InboundBuffered() > 0 {
		sp := e.Space()
		if len(sp) == 0 {
			return
		}
		n, _ := c.Read(sp)
		if n == 0 {
			return
		}
		l.p.Received(e, n)
		if e.niov > 0 || len(l.p.queue) > 0 {
			l.serviceAll() // write what it produced, which frees room
		}
	}
}

func (l *gnLoop) closeEnd(e *End, c gnet.Conn) {
	e.Ext = nil
	c.SetContext(nil)
	l.p.Closed(e)
	_ = l.el.Close(c)
}

// Dial implements Dialer: gnet's Register, on this loop.
func (l *gnLoop) Dial(e *End, target int) error {
	e.Connecting = true
	d := &dialing{e: e, gen: e.gen}
	ap := l.p.Target(target)
	ch, err := l.el.Register(gnet.NewContext(context.Background(), d), net.TCPAddrFromAddrPort(ap))
	if err != nil {
		return fmt.Errorf("evloop: gnet register: %w", err)
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		res, ok := <-ch
		if ok && res.Err == nil {
			return
		}
		// Report the failure on the loop; after shutdown nobody listens.
		_ = l.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
			if !e.closed && e.gen == d.gen && e.Ext == nil {
				e.Connecting = false
				l.p.Failed(e, errDial)
				l.serviceAll()
			}
			return nil
		}))
	}()
	return nil
}

var errDial = errors.New("evloop: dial failed")

// quiet drops gnet's log lines: under load it warns about events for
// connections the handler closed earlier in the same batch, which costs
// a formatted line each.
type quiet struct{}

func (quiet) Debugf(string, ...any) {}
func (quiet) Infof(string, ...any)  {}
func (quiet) Warnf(string, ...any)  {}
func (quiet) Errorf(string, ...any) {}
func (quiet) Fatalf(string, ...any) {}
