package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/netloop"
)

// The event-loop layer (issue 15, internal/netloop). A plain-HTTP
// listener's connections run as tasks on event loops: the same
// clientConn code, with a netloop.Conn under it instead of the Go
// netpoller's, so that a request costs no goroutine park and unpark. A
// connection leaves its loop for good (offload) for what a loop cannot
// carry: a WebSocket tunnel, h2c, an HTTP/2 or TLS target group. The
// max_connections queue waits off the loop (netloop.Conn.Blocking). The
// client-gone watch of a request awaiting its target is the loop's
// (netloop.Conn.Watch), with no goroutine.

// adopt moves the accepted connection's socket onto the next loop: c
// (a *trackedConn) then reads and writes through the returned
// netloop.Conn. It returns nil when the socket could not move; c is then
// served on a goroutine, as before.
func (cs *connServer) adopt(c net.Conn) *netloop.Conn {
	tc, ok := c.(*trackedConn)
	if !ok {
		return nil
	}
	lc, err := cs.loops.Adopt(tc.Conn)
	if err != nil {
		cs.logger.Printf("moving a connection onto an event loop: %v", err)
		return nil
	}
	tc.Conn = lc
	return lc
}

// leaveLoop hands cc's socket to the Go netpoller; from then on cc is
// served like a goroutine layer connection.
func (cc *clientConn) leaveLoop() {
	lc := cc.lc
	if lc == nil {
		return
	}
	if cc.watch.onLoop {
		cc.watch.disarmLoop()
	}
	cc.lc = nil
	if _, err := lc.Detach(); err != nil {
		cc.cs.logger.Printf("moving the connection from %s off its event loop: %v", cc.remote, err)
	}
}

// offload moves cc off its loop for good: its socket and its task.
func (cc *clientConn) offload() {
	lc := cc.lc
	if lc == nil {
		return
	}
	rearm := cc.watch.onLoop
	cc.leaveLoop()
	lc.Offload()
	if rearm {
		cc.watch.arm()
	}
}

// loopOf returns the event-loop socket of the client connection behind
// ctx, or nil when the request is not served on a loop.
func loopOf(ctx context.Context) *netloop.Conn { return loopOfInfo(connInfoOf(ctx)) }

// loopOfInfo is loopOf for the connection info ci (nil: none).
func loopOfInfo(ci *connInfo) *netloop.Conn {
	if ci != nil && ci.cc != nil {
		return ci.cc.lc
	}
	return nil
}

// leaveLoopFor offloads the request's connection when its target group
// needs what a loop cannot carry: an HTTP/2 transport (its own
// goroutines) or TLS to the targets.
func leaveLoopFor(ci *connInfo, g *Group) {
	if ci == nil || ci.cc == nil || ci.cc.lc == nil {
		return
	}
	if tr := g.Transport; tr != nil && (tr.h2 != nil || tr.Dialer != nil && tr.Dialer.TLS != nil) {
		ci.cc.offload()
	}
}

// clock is the time for the connection's deadlines: its loop's clock on
// a loop (netloop.Loop.Now, no clock read), else time.Now. Request
// timings use time.Now.
func (cc *clientConn) clock() time.Time {
	if cc.lc != nil {
		return cc.lc.Loop().Now()
	}
	return time.Now()
}

// parkIdle ends the connection's task while it waits, idle, for its next
// request: no coroutine is held, and a new task resumes serving when a
// byte arrives, the idle timeout passes or the connection is closed
// (netloop.Conn.ParkIdle). It reports false when bytes may be pending;
// serveOne then reads on.
func (cc *clientConn) parkIdle(first bool) bool {
	now := cc.clock()
	if cc.idleUntil.IsZero() {
		cc.idleUntil = now.Add(cc.cs.h.routes.Load().edge.idle)
	}
	if !now.Before(cc.idleUntil) {
		return false // the idle timeout passed: readHead ends it
	}
	if err := cc.c.SetReadDeadline(cc.idleUntil); err != nil {
		return false
	}
	if cc.resume == nil {
		cc.resume = func() { cc.serveFrom(false) }
		cc.resumeFirst = func() { cc.serveFrom(true) }
	}
	fn := cc.resume
	if first {
		fn = cc.resumeFirst
	}
	if !cc.lc.ParkIdle(fn) {
		return false
	}
	cc.parked = true
	return true
}

func (w *clientWatch) armLoop() {
	w.onLoop = true
	if w.loopReadFn == nil {
		w.loopReadFn = w.loopRead // made once: a method value allocates
	}
	w.cc.lc.Watch(w.loopReadFn)
}

func (w *clientWatch) disarmLoop() {
	w.onLoop = false
	if lc := w.cc.lc; lc != nil {
		lc.Watch(nil)
	}
}

// loopRead runs on the loop when the client's socket is readable while
// its request awaits the target: bytes (a pipelined request) stay in the
// connection's buffer; the client's FIN or an error cancels the
// connection's context (460), as clientWatch.run does on a goroutine.
func (w *clientWatch) loopRead() {
	cc := w.cc
	for {
		if cc.w == len(cc.buf) {
			if cc.r == 0 {
				return // full of pipelined bytes: stop reading
			}
			n := copy(cc.buf, cc.buf[cc.r:cc.w])
			cc.r, cc.w = 0, n
		}
		n, err := cc.lc.TryRead(cc.buf[cc.w:])
		cc.w += n
		switch {
		case err == nil:
			continue
		case errors.Is(err, netloop.ErrWouldBlock):
			return
		case errors.Is(err, io.EOF):
		}
		cc.lc.Watch(nil)
		cc.cancel(errClientGone)
		return
	}
}

// eventLoops returns the server's event loops, nil before the first
// plain-HTTP listener is served or when every listener is on the
// goroutine layer.
func (s *Server) eventLoops() *netloop.Group {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loops
}
