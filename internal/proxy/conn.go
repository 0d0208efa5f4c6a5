package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/config"
	"github.com/fulcrumlb/fulcrum/internal/desync"
	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/http1"
	"github.com/fulcrumlb/fulcrum/internal/httpmsg"
	"github.com/fulcrumlb/fulcrum/internal/netloop"
)

// Fulcrum's client side: every accepted connection is served by a
// clientConn, which owns a read buffer and parses each request head with
// http1.Parse, classifies it (desync) and acts by the listener's
// desync_mitigation_mode before the Handler sees it. HTTP/2 (ALPN h2, or
// the h2c prior-knowledge preface when the listener allows it) is handed
// to an http.Server that serves only those connections (Go's bundled
// HTTP/2 server, RFC 9113) with the same Handler.
//
// The per-connection state (buffer, parsed request, response writer,
// body reader) lives in clientConn and is driven by serve; nothing in the
// parser or the request state needs the goroutine, so an event loop can
// drive the same steps later.

// edgeSettings are a listener's client-side limits and modes.
type edgeSettings struct {
	limits        http1.Limits
	headerTimeout time.Duration // request_header_timeout, from a request's first byte
	idle          time.Duration // idle_timeout between keep-alive requests
	mode          desync.Mode
	maxBody       int64 // max_request_body_bytes; 0 unlimited
	h2c           bool
}

func newEdgeSettings(lc config.Listener) edgeSettings {
	mode, _ := desync.ParseMode(lc.DesyncMitigationMode) // validated
	e := edgeSettings{
		limits:        http1.Limits{MaxHeaderBytes: lc.MaxHeaderBytes, MaxHeaders: lc.MaxHeaders, MaxURIBytes: lc.MaxURIBytes},
		headerTimeout: lc.RequestHeaderTimeout.D(),
		idle:          lc.IdleTimeout.D(),
		mode:          mode,
		maxBody:       lc.MaxRequestBodyBytes,
		h2c:           lc.H2C,
	}
	if e.limits.MaxHeaderBytes <= 0 {
		e.limits.MaxHeaderBytes = config.DefaultMaxHeaderBytes
	}
	if e.headerTimeout <= 0 {
		e.headerTimeout = config.DefaultRequestHeaderTimeout
	}
	return e
}

// clientCloseDelay is how long a request waits for its response before
// the connection starts watching for the client going away (460). Most
// responses come sooner, so most requests never pay for the watch.
const clientCloseDelay = 20 * time.Millisecond

// maxXFF is the most addresses X-Forwarded-For may carry; beyond it ALB
// answers 463 ("HTTP 463", https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-troubleshooting.html).
const maxXFF = 30

// h2Preface is the HTTP/2 client connection preface (RFC 9113 §3.4).
const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// connServer serves one listener's connections: it replaces net/http's
// http.Server for the client side.
type connServer struct {
	h      *Handler
	tlsCfg *tls.Config // nil on http listeners
	// h2 is the current HTTP/2 server generation (h2server.go); retired
	// generations finish their streams under retireCtx, which shutdown
	// cancels when its grace ends, counted by retiring.
	h2           *h2Server
	retireCtx    context.Context
	retireCancel context.CancelFunc
	retiring     sync.WaitGroup
	logger       *log.Logger

	mu    sync.Mutex
	ln    net.Listener
	conns map[*clientConn]struct{}
	// shutting is set once shutdown starts; atomic so that each request
	// reads it without the lock.
	shutting atomic.Bool
	wg       sync.WaitGroup
	// writers recycles the connections' response write buffers between
	// requests, so an idle keep-alive connection holds none.
	writers sync.Pool
	// readBufs (*[]byte of 4 KiB), headers (http.Header) and reqStates
	// (*reqState) are the read buffers, response header maps and
	// per-request state a connection parked idle on a loop gives back
	// (clientConn.lendBufs), as HAProxy and nginx keep no buffer for an
	// idle keep-alive connection.
	readBufs, headers, reqStates sync.Pool
	// loops, when set, runs the connections on event loops (loopconn.go).
	loops *netloop.Group
	// date is the responses' Date value, formatted once a second.
	date dateCache
}

func newConnServer(h *Handler, tlsCfg *tls.Config, errLog *log.Logger, idle time.Duration) *connServer {
	cs := &connServer{h: h, tlsCfg: tlsCfg, logger: errLog, conns: map[*clientConn]struct{}{}}
	cs.h2 = newH2Server(h, errLog, idle)
	cs.retireCtx, cs.retireCancel = context.WithCancel(context.Background())
	return cs
}

// h2ConnContext attaches the connection's info to every HTTP/2 request.
func h2ConnContext(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if rc, ok := c.(*replayConn); ok {
		c = rc.Conn
	}
	if t, ok := c.(*trackedConn); ok {
		return context.WithValue(ctx, connInfoKey{}, t.info)
	}
	return ctx
}

// startH2 runs the HTTP/2 server on its hand-off listener.
func (cs *connServer) startH2(addr net.Addr) { cs.h2.start(addr) }

// handoffListener is the HTTP/2 server's listener: it accepts what the
// connection loop hands it.
type handoffListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
	addr net.Addr
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }

// hand gives c to the HTTP/2 server; false when it is closed.
func (l *handoffListener) hand(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		return false
	}
}

// serve accepts connections on ln until shutdown; it returns
// http.ErrServerClosed then, or the accept error that stopped it.
func (cs *connServer) serve(ln net.Listener) error {
	cs.mu.Lock()
	if cs.shutting.Load() {
		cs.mu.Unlock()
		return http.ErrServerClosed
	}
	cs.ln = ln
	cs.startH2(ln.Addr())
	cs.mu.Unlock()
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if cs.shutting.Load() {
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) || isTemporaryAccept(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				cs.logger.Printf("accept: %v; retrying in %v", err, backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		var lc *netloop.Conn
		if cs.loops != nil {
			lc = cs.adopt(c) // loopconn.go
		}
		cc := cs.newClientConn(c)
		if cc == nil {
			c.Close()
			continue
		}
		if lc != nil {
			cc.lc = lc
			if !lc.Spawn(cc.serve) { // the loops are closing
				c.Close()
				cc.end()
			}
			continue
		}
		go cc.serve()
	}
}

// isTemporaryAccept reports an accept error worth retrying: out of file
// descriptors or a connection aborted before it was accepted.
func isTemporaryAccept(err error) bool {
	var ne interface{ Temporary() bool }
	return errors.As(err, &ne) && ne.Temporary()
}

// newClientConn registers c; it returns nil once shutdown started.
func (cs *connServer) newClientConn(c net.Conn) *clientConn {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.shutting.Load() {
		return nil
	}
	cc := &clientConn{cs: cs, c: c, raw: c, remote: c.RemoteAddr().String()}
	if tc, ok := c.(*trackedConn); ok {
		cc.info = tc.info
	} else {
		id, packed := newConnID()
		cc.info = &connInfo{id: id, packed: packed}
	}
	cc.info.cc = cc
	cs.conns[cc] = struct{}{}
	cs.wg.Add(1)
	return cc
}

// setIdle marks cc idle (between requests, no byte of the next one read)
// or active. It returns false when cc is to close because shutdown started.
//
// It takes no lock: cc stores idle before it loads shutting, shutdown
// stores shutting before it loads each idle, so at least one of them
// sees the other and an idle connection is never left open.
func (cs *connServer) setIdle(cc *clientConn, idle bool) bool {
	cc.idle.Store(idle)
	return !cs.shutting.Load()
}

func (cs *connServer) forget(cc *clientConn) {
	cs.mu.Lock()
	if _, ok := cs.conns[cc]; ok {
		delete(cs.conns, cc)
		cs.wg.Done()
	}
	cs.mu.Unlock()
}

// isShutting reports whether shutdown started.
func (cs *connServer) isShutting() bool { return cs.shutting.Load() }

// shutdown stops accepting, closes idle keep-alive connections, asks
// HTTP/2 connections to finish (GOAWAY), and waits for the rest until ctx
// is done. It returns ctx's error when connections were still open then
// (the caller closes them with closeAll).
func (cs *connServer) shutdown(ctx context.Context) error {
	cs.stopAccepting()
	cs.mu.Lock()
	for cc := range cs.conns {
		if cc.idle.Load() {
			cc.raw.Close()
		}
	}
	cur := cs.h2
	cs.mu.Unlock()
	// The HTTP/2 server sends GOAWAY and waits for its streams; so do
	// generations a reload retired, until ctx is done.
	h2done := make(chan struct{})
	go func() {
		defer close(h2done)
		cur.stop(ctx)
	}()
	stopRetired := context.AfterFunc(ctx, cs.retireCancel)
	defer stopRetired()
	done := make(chan struct{})
	go func() {
		cs.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		cs.closeAll()
		<-done
	}
	<-h2done
	cs.retiring.Wait()
	cs.retireCancel()
	return ctx.Err()
}

// stopAccepting marks cs as shutting down and closes its listening
// socket: once it returns, no new connection reaches cs. A reload calls
// it before the rest of shutdown runs in the background, so that with
// reuse_port on the old and the new socket of one address, connections
// made after the reload land on the new one only.
func (cs *connServer) stopAccepting() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.shutting.Store(true)
	if cs.ln != nil {
		cs.ln.Close()
	}
}

// closeAll closes every connection still open.
func (cs *connServer) closeAll() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.shutting.Store(true)
	if cs.ln != nil {
		cs.ln.Close()
	}
	for cc := range cs.conns {
		cc.raw.Close()
	}
}

// clientConn is one client connection's state. buf[r:w] holds bytes read
// and not yet consumed: the rest of a request head or body, or pipelined
// requests.
type clientConn struct {
	cs  *connServer
	c   net.Conn // the raw connection, or its *tls.Conn
	raw net.Conn // the accepted connection, never changed
	// idleUntil is the idle timeout's end while the connection is
	// parked idle on its loop (loopconn.go).
	idleUntil time.Time
	// headAt is when the request being served had its head read
	// (serveOne): Handler.Serve's start.
	headAt time.Time
	// parked is set while serveFrom unwinds to park the connection idle.
	parked bool
	// resume and resumeFirst are the parked connection's continuations.
	resume, resumeFirst func()
	// lc is the socket's event-loop side while the connection runs on a
	// loop (loopconn.go); nil on the goroutine layer and once offloaded.
	lc     *netloop.Conn
	remote string
	info   *connInfo
	tls    *tls.ConnectionState
	idle   atomic.Bool // between requests: shutdown may close it

	ctx    context.Context
	cancel context.CancelCauseFunc

	buf  []byte
	r, w int
	// bufp is the 4 KiB read buffer lent from cs.readBufs; buf is it, or
	// a larger one a long head needed (compact), or nil while parked.
	bufp *[]byte
	// rs is the state of the request being served; nil while parked.
	rs   *reqState
	rw   respWriter
	body bodyReader

	// watch notices the client closing while a response is awaited.
	watch clientWatch
	// hook ends the attempt in progress when ctx is done (attempthook.go).
	hook attemptHook
}

// reqState is what a client connection needs only while it serves a
// request, about 3 KB: a connection parked idle lends it back with its
// read buffer (lendBufs), and the next request takes one (takeBufs).
type reqState struct {
	// msg is the request, refilled for each (inrequest.go).
	msg httpmsg.Request
	// req is the parsed head, with its fields inline so that parsing
	// allocates nothing.
	req http1.Request
	// space is the attempt loop's memory for the request being served.
	space attemptSpace
	// head holds the copy of the request head that msg's strings point
	// into (newRequest), reused by the next request.
	head []byte
}

// errClientGone is the cause of a connection context the client closed.
var errClientGone = fmt.Errorf("client closed the connection: %w", context.Canceled)

func (cc *clientConn) serve() {
	if cc.start() {
		cc.serveFrom(true)
		return
	}
	cc.end()
}

// end is the connection's last act: it is forgotten, its context
// cancelled.
func (cc *clientConn) end() {
	if cc.cancel != nil {
		cc.cancel(context.Canceled)
	}
	cc.cs.forget(cc)
}

// serveFrom serves requests until the connection is to close, then
// closes and ends it. On an event loop it returns early, with the
// connection parked idle (loopconn.go), and a new task resumes it.
func (cc *clientConn) serveFrom(first bool) {
	for ; ; first = false {
		if !cc.serveOne(first) {
			break
		}
	}
	if cc.parked {
		cc.parked = false
		return
	}
	cc.watch.stopTimer()
	if !cc.rw.hijacked {
		cc.c.Close()
	}
	cc.end()
}

// start runs the TLS handshake (HTTPS) and readies the connection's
// state. It reports false when the connection ended in it: a failed
// handshake, or an HTTP/2 connection handed to the HTTP/2 server.
func (cc *clientConn) start() bool {
	h := cc.cs.h
	base := context.WithValue(context.Background(), connInfoKey{}, cc.info)
	rt := h.routes.Load()
	if cc.cs.tlsCfg != nil {
		tc := tls.Server(cc.c, cc.cs.tlsCfg)
		tc.SetDeadline(time.Now().Add(rt.edge.headerTimeout))
		if err := tc.HandshakeContext(base); err != nil {
			cc.cs.logger.Printf("TLS handshake error from %s: %v", cc.remote, err)
			cc.c.Close()
			return false
		}
		tc.SetDeadline(time.Time{})
		st := tc.ConnectionState()
		cc.tls = &st
		cc.c = tc
		if st.NegotiatedProtocol == "h2" {
			cc.serveH2(tc, nil)
			return false
		}
	}
	cc.ctx, cc.cancel = context.WithCancelCause(base)
	context.AfterFunc(cc.ctx, cc.hook.fire) // runs at the latest when serve returns
	cc.rw.cc = cc
	cc.body.cc = cc
	cc.watch.cc = cc
	return true
}

// serveH2 hands the connection to the HTTP/2 server, which owns it from
// then on; pending are bytes already read (the h2c preface).
func (cc *clientConn) serveH2(c net.Conn, pending []byte) {
	cc.leaveLoop() // the HTTP/2 server's goroutines own it now
	if len(pending) > 0 {
		c = &replayConn{Conn: c, pending: pending}
	}
	cc.cs.forget(cc)
	if !cc.cs.handH2(c) {
		c.Close()
	}
}

// replayConn reads pending before the connection.
type replayConn struct {
	net.Conn
	pending []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// readHead reads until buf[r:] holds a complete request head and parses
// it into cc.rs.req. It returns the head's length; ErrIncomplete-free
// errors: an *http1.Error, a read error (io.EOF, a deadline), or
// errH2Preface.
func (cc *clientConn) readHead(e *edgeSettings, first bool) (int, error) {
	started := false // a byte of this request arrived
	waiting := false // the idle deadline is set
	for {
		if cc.w > cc.r {
			if k := min(cc.w-cc.r, len(h2Preface)); first && e.h2c && string(cc.buf[cc.r:cc.r+k]) == h2Preface[:k] {
				if k == len(h2Preface) {
					return 0, errH2Preface
				}
			} else {
				n, err := http1.Parse(cc.buf[cc.r:cc.w], &cc.rs.req, e.limits)
				if err != http1.ErrIncomplete {
					return n, err
				}
			}
			if !started {
				started = true
				if err := cc.c.SetReadDeadline(cc.clock().Add(e.headerTimeout)); err != nil {
					return 0, err
				}
			}
		} else if !waiting && !started {
			waiting = true
			dl := cc.idleUntil // set when the connection was parked idle
			if dl.IsZero() {
				dl = cc.clock().Add(e.idle)
			}
			cc.c.SetReadDeadline(dl)
		}
		if cc.w == len(cc.buf) {
			cc.compact(e.limits.MaxHeaderBytes + 4096)
			if cc.w == len(cc.buf) {
				return 0, &http1.Error{Kind: http1.KindHeaderTooLarge, Field: "header size"}
			}
		}
		n, err := cc.c.Read(cc.buf[cc.w:])
		cc.w += n
		if err != nil {
			if n > 0 {
				continue // parse what came first
			}
			if cc.w > cc.r && !started {
				started = true
			}
			return 0, &headReadError{err: err, started: started || cc.w > cc.r}
		}
	}
}

// takeBufs gives the connection its request state and its read buffer
// when it has none: from its loop's free lists (looplocal.go) or the
// listener's spare ones, else new ones (a 4 KiB buffer); a buffer it was
// lent before is kept.
func (cc *clientConn) takeBufs() {
	f := cc.free()
	if cc.rs == nil {
		if rs, ok := take(f, reqStatesOf); ok {
			cc.rs = rs
		} else if rs, ok := cc.cs.reqStates.Get().(*reqState); ok {
			cc.rs = rs
		} else {
			cc.rs = new(reqState)
		}
	}
	if cc.buf != nil {
		return
	}
	if cc.bufp == nil {
		if p, ok := take(f, readBufsOf); ok {
			cc.bufp = p
		} else if p, ok := cc.cs.readBufs.Get().(*[]byte); ok {
			cc.bufp = p
		} else {
			b := make([]byte, 4096)
			cc.bufp = &b
		}
	}
	cc.buf = *cc.bufp
}

// lendBufs gives the read buffer, the request state and the response
// header map back while the connection is parked idle with nothing
// buffered (serveOne): to its loop's free lists, else the listener's
// pools. About 8.5 KB less for each idle keep-alive connection. The next
// request takes them again (takeBufs, respWriter.reset).
func (cc *clientConn) lendBufs() {
	f := cc.free()
	if cc.rs != nil {
		if !keep(f, reqStatesOf, cc.rs, loopFreeSmall) {
			cc.cs.reqStates.Put(cc.rs)
		}
		cc.rs = nil
	}
	cc.buf = nil
	if cc.bufp != nil {
		if !keep(f, readBufsOf, cc.bufp, loopFreeSmall) {
			cc.cs.readBufs.Put(cc.bufp)
		}
		cc.bufp = nil
	}
	if h := cc.rw.hdr; h != nil {
		clear(h)
		if !keep(f, headersOf, h, loopFreeSmall) {
			cc.cs.headers.Put(h)
		}
		cc.rw.hdr = nil
	}
}

// compact moves the unread bytes to the front of buf, growing it (up to
// limit bytes) when it is full.
func (cc *clientConn) compact(limit int) {
	if cc.r > 0 {
		n := copy(cc.buf, cc.buf[cc.r:cc.w])
		cc.r, cc.w = 0, n
		if cc.w < len(cc.buf) {
			return
		}
	}
	if len(cc.buf) < limit {
		nb := make([]byte, min(2*len(cc.buf), limit))
		copy(nb, cc.buf[:cc.w])
		cc.buf = nb
	}
}

// headReadError is a failed read while waiting for a request head.
type headReadError struct {
	err     error
	started bool // some bytes of a request had arrived
}

func (e *headReadError) Error() string { return "reading the request header: " + e.err.Error() }
func (e *headReadError) Unwrap() error { return e.err }

var errH2Preface = errors.New("HTTP/2 connection preface")

// serveOne reads, classifies and serves one request. It returns false
// when the connection is to close.
func (cc *clientConn) serveOne(first bool) bool {
	h := cc.cs.h
	if cc.w == cc.r {
		cc.r, cc.w = 0, 0
		if len(cc.buf) > 16<<10 {
			// A large head grew the buffer; an idle connection keeps a
			// small one (takeBufs).
			cc.buf = nil
		}
		if !cc.cs.setIdle(cc, true) {
			return false
		}
		if cc.lc != nil && cc.parkIdle(first) { // loopconn.go
			cc.lendBufs()
			return false
		}
	}
	cc.takeBufs()
	rt := h.routes.Load()
	e := &rt.edge
	n, err := cc.readHead(e, first)
	cc.idleUntil = time.Time{}
	if !cc.cs.setIdle(cc, false) && err != nil {
		return false
	}
	start := time.Now()
	cc.headAt = start
	if err == errH2Preface {
		pending := append([]byte(nil), cc.buf[cc.r:cc.w]...)
		cc.c.SetReadDeadline(time.Time{})
		cc.serveH2(cc.c, pending)
		cc.rw.hijacked = true // the HTTP/2 server owns it
		return false
	}
	if err != nil {
		return cc.headFailed(start, e, err)
	}
	head := cc.buf[cc.r : cc.r+n]
	cc.r += n
	v := cc.rs.req.Classify()
	act := e.mode.Action(v.Tier)
	if v.Tier != desync.Compliant {
		h.Metrics.Desync(h.Listener, v.Tier.String(), v.Reason.String())
	}
	p := &cc.rs.req
	hasBody := p.Chunked || p.ContentLength > 0
	cc.body.reset(p, e.maxBody, e.idle)
	var refuse *failure.ClientError
	keep := false
	switch {
	case act == desync.Reject400 || act == desync.Reject400AndClose:
		refuse = &failure.ClientError{Denied: true, Err: fmt.Errorf("desync_mitigation_mode %s refuses a %s request (%s)", e.mode, v.Tier, v.Reason)}
		keep = act == desync.Reject400 && !hasBody && !p.Close
	case e.maxBody > 0 && p.ContentLength > e.maxBody:
		refuse = &failure.ClientError{Denied: true, Status: http.StatusRequestEntityTooLarge,
			Err: fmt.Errorf("request body of %d bytes is over max_request_body_bytes %d", p.ContentLength, e.maxBody)}
	case xffCount(p) > maxXFF:
		refuse = &failure.ClientError{Denied: true, Status: 463, Err: fmt.Errorf("X-Forwarded-For carries more than %d addresses", maxXFF)}
		keep = !hasBody && !p.Close
	}
	if refuse != nil {
		keep = keep && !cc.cs.isShutting()
		cc.ownAnswer(start, true, refuse, v, n, keep)
		return keep && cc.rw.err == nil
	}
	req, err := cc.newRequest(head, p)
	if err != nil {
		cc.ownAnswer(start, true, &failure.ClientError{Err: fmt.Errorf("malformed request target: %w", err)}, v, n, false)
		return false
	}
	if cc.lc != nil && upgradeType(req.Header) != "" {
		// A WebSocket tunnel is two goroutines copying: it leaves the loop.
		cc.offload() // loopconn.go
	}
	closeAfter := p.Close || act == desync.ForwardThenClose
	cc.info.verdict, cc.info.closeTarget = v, act == desync.ForwardThenClose
	cc.rw.reset(req, p, closeAfter || cc.cs.isShutting())
	if !hasBody {
		cc.watch.arm()
	}
	ok := cc.runHandler(req)
	cc.watch.disarm()
	cc.info.verdict, cc.info.closeTarget = desync.Verdict{}, false
	if !ok || cc.rw.hijacked {
		return false
	}
	if cc.ctx.Err() != nil {
		return false
	}
	if err := cc.rw.finish(); err != nil {
		return false
	}
	if !cc.body.done {
		return false // the body's end is unknown: the next request's start is too
	}
	return !cc.rw.closeAfter && !cc.cs.isShutting()
}

// headFailed acts on a request head that could not be read: 408 when
// the client stalled within a request, the parser's answer for a
// malformed or over-limit head, silence for a client that left or idled.
// It returns false: the connection closes.
func (cc *clientConn) headFailed(start time.Time, e *edgeSettings, err error) bool {
	var hre *headReadError
	if errors.As(err, &hre) {
		if hre.started && errors.Is(hre.err, os.ErrDeadlineExceeded) {
			// RFC 9110 §15.5.9: the client did not send a complete
			// request header within request_header_timeout.
			cc.ownAnswer(start, false, &failure.ClientError{Err: fmt.Errorf("client sent no complete request header within request_header_timeout %s: %w", e.headerTimeout, hre.err)}, desync.Verdict{}, cc.w-cc.r, false)
		}
		return false
	}
	var pe *http1.Error
	if errors.As(err, &pe) {
		v := cc.rs.req.Classify() // what was read of it
		if v.Tier != desync.Compliant {
			h := cc.cs.h
			h.Metrics.Desync(h.Listener, v.Tier.String(), v.Reason.String())
		}
		ce := &failure.ClientError{Err: fmt.Errorf("malformed request: %w", pe)}
		if s := pe.Status(); s != 400 {
			ce.Status = s
		}
		cc.ownAnswer(start, len(cc.rs.req.Method) > 0, ce, v, cc.w-cc.r, false)
		return false
	}
	return false
}

// runHandler calls the handler, recovering its panics as net/http does:
// http.ErrAbortHandler aborts the connection quietly, any other panic is
// logged with its stack. It returns false when the connection is to be
// aborted.
func (cc *clientConn) runHandler(req *httpmsg.Request) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			ok = false
			if p != http.ErrAbortHandler {
				buf := make([]byte, 64<<10)
				buf = buf[:runtime.Stack(buf, false)]
				cc.cs.logger.Printf("panic serving %s: %v\n%s", cc.remote, p, buf)
			}
		}
	}()
	cc.cs.h.Serve(&cc.rw, req)
	return true
}

// ownAnswer answers and logs a request the loop refuses before routing;
// the connection closes after it unless keep is set. line
// says whether cc.rs.req holds a parsed request line; size is the bytes the
// request used.
func (cc *clientConn) ownAnswer(start time.Time, line bool, ce *failure.ClientError, v desync.Verdict, size int, keep bool) {
	r := &cc.rs.msg
	*r = httpmsg.Request{RemoteAddr: cc.remote, TLS: cc.tls, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Target: "/", URI: "/", Path: "/", RawPath: "/"}
	ctx := cc.ctx
	if ctx == nil {
		ctx = context.WithValue(context.Background(), connInfoKey{}, cc.info)
	}
	r.SetContext(ctx)
	if line {
		p := &cc.rs.req
		r.Method, r.Host = string(p.Method), string(p.Host)
		if r.SetTarget(r.Method, string(p.Target)) != nil {
			r.Target = string(p.Target)
		}
		if p.Minor == 0 {
			r.Proto, r.ProtoMinor = "HTTP/1.0", 0
		}
		for _, hf := range p.Headers {
			if len(hf.Name) > 0 && !desync.LooksLikeFraming(hf.Name) {
				r.Header.Add(http.CanonicalHeaderKey(string(hf.Name)), string(hf.Value))
			}
		}
	}
	cc.rw.reset(r, &cc.rs.req, !keep)
	cc.rw.minor, cc.rw.head = 1, line && r.Method == http.MethodHead
	if !keep {
		cc.body.done = true // nothing more is read
	}
	cc.cs.h.ownAnswer(&cc.rw, r, cc.info, start, line, ce, v, int64(size))
	cc.rw.finish()
	cc.rw.flush()
}

// xffCount counts the addresses in the request's X-Forwarded-For fields.
func xffCount(p *http1.Request) int {
	n := 0
	for _, hf := range p.Headers {
		if len(hf.Name) == len("x-forwarded-for") && bytes.EqualFold(hf.Name, []byte("x-forwarded-for")) {
			n += bytes.Count(hf.Value, []byte{','}) + 1
		}
	}
	return n
}

// clientWatch watches the connection for the client going away while the
// handler waits on a target, so the request's context is cancelled (460).
// It starts only clientCloseDelay after the request is armed (its body
// fully read), so fast requests cost one timer reset. Bytes it reads (a
// pipelined request) stay in the connection's buffer.
type clientWatch struct {
	cc      *clientConn
	mu      sync.Mutex
	timer   *time.Timer
	armed   bool
	running bool
	done    chan struct{}
	// onLoop is set while the watch is the loop's (loopconn.go);
	// loopReadFn is loopRead as the func the loop calls.
	onLoop     bool
	loopReadFn func()
}

func (w *clientWatch) arm() {
	if w.cc.lc != nil {
		w.armLoop() // loopconn.go
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.armed {
		return
	}
	w.armed = true
	if w.timer == nil {
		w.timer = time.AfterFunc(clientCloseDelay, w.run)
	} else {
		w.timer.Reset(clientCloseDelay)
	}
}

// run is the timer's function: it reads until the client closes (cancel
// the connection's context), the buffer is full, or disarm interrupts it.
func (w *clientWatch) run() {
	w.mu.Lock()
	if !w.armed || w.running {
		w.mu.Unlock()
		return
	}
	w.running = true
	w.done = make(chan struct{})
	cc := w.cc
	cc.c.SetReadDeadline(time.Time{})
	w.mu.Unlock()
	defer close(w.done)
	for {
		if cc.w == len(cc.buf) {
			if cc.r == 0 {
				return // full of pipelined bytes: stop watching
			}
			n := copy(cc.buf, cc.buf[cc.r:cc.w])
			cc.r, cc.w = 0, n
		}
		n, err := cc.c.Read(cc.buf[cc.w:])
		cc.w += n
		if err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				cc.cancel(errClientGone)
			}
			return
		}
	}
}

// disarm stops the watch and waits for its read to end.
func (w *clientWatch) disarm() {
	if w.onLoop {
		w.disarmLoop() // loopconn.go
		return
	}
	w.mu.Lock()
	if !w.armed {
		w.mu.Unlock()
		return
	}
	w.armed = false
	w.timer.Stop()
	running, done := w.running, w.done
	if running {
		w.cc.c.SetReadDeadline(time.Unix(1, 0))
	}
	w.mu.Unlock()
	if running {
		<-done
		w.mu.Lock()
		w.running = false
		w.mu.Unlock()
	}
}

func (w *clientWatch) stopTimer() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil {
		w.timer.Stop()
	}
}

// errBodyTooLarge is a chunked body over max_request_body_bytes.
type errBodyTooLarge struct{ limit int64 }

func (e *errBodyTooLarge) Error() string {
	return fmt.Sprintf("request body over max_request_body_bytes %d", e.limit)
}

// bodyReader is the request body as the handler reads it: Content-Length
// bytes or a de-chunked body, from the connection's buffer and then the
// socket. The first Read of a request that expects 100-continue sends
// "100 Continue" (RFC 9110 §10.1.1), as net/http does.
type bodyReader struct {
	cc       *clientConn
	remain   int64 // Content-Length bytes left
	chunked  bool
	dec      http1.ChunkedDecoder
	done     bool
	expect   bool
	limit    int64
	total    int64
	err      error
	consumed int64
	// idle bounds each read (the listener's idle_timeout, ALB's
	// connection idle timeout); the deadline moves at most every
	// idle/8, so a steady upload does not pay a deadline per read.
	idle     time.Duration
	extended time.Time
}

// readConn reads from the connection within the idle bound. The first
// read of each body sets the deadline, whatever the last one was.
func (b *bodyReader) readConn(p []byte) (int, error) {
	if b.idle > 0 {
		if now := time.Now(); now.Sub(b.extended) > b.idle/8 {
			b.extended = now
			b.cc.c.SetReadDeadline(now.Add(b.idle))
		}
	} else if b.extended.IsZero() {
		b.extended = time.Now()
		b.cc.c.SetReadDeadline(time.Time{})
	}
	return b.cc.c.Read(p)
}

func (b *bodyReader) reset(p *http1.Request, limit int64, idle time.Duration) {
	*b = bodyReader{cc: b.cc, limit: limit, idle: idle}
	switch {
	case p.Chunked:
		b.chunked = true
	case p.ContentLength > 0:
		b.remain = p.ContentLength
	default:
		b.done = true
	}
	b.expect = p.Expect100 && !b.done
}

// Read reads body bytes; it returns io.EOF at the body's end and
// io.ErrUnexpectedEOF when the client closes before it.
func (b *bodyReader) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	if b.err != nil {
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	cc := b.cc
	if b.expect {
		b.expect = false
		if !cc.rw.wroteHeader {
			cc.rw.writeContinue()
		}
	}
	var n int
	var err error
	if b.chunked {
		n, err = b.readChunked(p)
	} else {
		n, err = b.readLength(p)
	}

	b.consumed += int64(n)
	if err != nil && err != io.EOF {
		b.err = err
	}
	if b.done {
		cc.watch.arm()
		if err == nil {
			err = io.EOF
		}
	}
	return n, err
}

// Close ends the handler's use of the body; the connection loop decides
// what happens to unread bytes.
func (b *bodyReader) Close() error { return nil }

func (b *bodyReader) readLength(p []byte) (int, error) {
	cc := b.cc
	if int64(len(p)) > b.remain {
		p = p[:b.remain]
	}
	var n int
	if cc.w > cc.r {
		n = copy(p, cc.buf[cc.r:cc.w])
		cc.r += n
	} else {
		var err error
		n, err = b.readConn(p)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if err != nil && n == 0 {
			return 0, err
		}
	}
	b.remain -= int64(n)
	if b.remain == 0 {
		b.done = true
	}
	return n, nil
}

func (b *bodyReader) readChunked(p []byte) (int, error) {
	cc := b.cc
	for {
		if cc.w > cc.r {
			in := cc.buf[cc.r:cc.w]
			if len(in) > len(p) {
				in = in[:len(p)]
			}
			data, used, err := b.dec.Decode(in)
			cc.r += used
			if err != nil {
				return 0, fmt.Errorf("chunked request body: %w", err)
			}
			if len(data) > 0 {
				n := copy(p, data)
				b.total += int64(n)
				if b.limit > 0 && b.total > b.limit {
					return 0, &errBodyTooLarge{limit: b.limit}
				}
				if b.dec.Done() {
					b.done = true
				}
				return n, nil
			}
			if b.dec.Done() {
				b.done = true
				return 0, io.EOF
			}
			if used > 0 {
				continue
			}
		}
		if cc.w == len(cc.buf) || cc.w == cc.r {
			if cc.r == cc.w {
				cc.r, cc.w = 0, 0
			} else {
				cc.compact(len(cc.buf))
			}
		}
		n, err := b.readConn(cc.buf[cc.w:])
		cc.w += n
		if err != nil && n == 0 {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
	}
}
