// Package proxy is Fulcrum's request path: listeners, routing, the attempt
// loop with retries, and a transport that owns its HTTP/1.1 connections to
// targets, so it knows for every failure the phase, whether the connection
// was reused and for how long it had idled, and whether any request byte
// was written. Failures are classified once by internal/failure.
package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/http1"
	"github.com/fulcrumlb/fulcrum/internal/httpmsg"
	"github.com/fulcrumlb/fulcrum/internal/netloop"
	"github.com/fulcrumlb/fulcrum/internal/target"
)

var (
	errLimit = errors.New("read limit reached")
	// errClientBody marks a failure to read the client's request body: the
	// client's fault (failure.ClientError, http_request_error), answered
	// 400 and never retried.
	errClientBody = &failure.ClientError{Err: errors.New("reading the client's request body")}
)

// Transport sends requests to targets over pooled keep-alive HTTP/1.1
// connections that many client connections share, as ALB does. It never
// pipelines. Safe for concurrent use.
type Transport struct {
	// Dialer opens new connections.
	Dialer *target.Dialer
	// MaxIdlePerTarget caps each target's idle connections.
	MaxIdlePerTarget int
	// IdleTimeout closes pooled connections idle for longer.
	IdleTimeout time.Duration
	// IdleOverride is true when IdleTimeout was configured explicitly;
	// otherwise each target's learned keep-alive idle-close time can
	// shorten it (target.KeepAlive).
	IdleOverride bool

	// h2, when set, carries every request over HTTP/2 (h2transport.go).
	h2    *h2Transport
	pools sync.Map // *target.Target -> *pool
	// closed is set once a reload replaced the transport: attempts still
	// running on it close their connections when done.
	closed atomic.Bool
	// steal, when not 0, replaces defaultStealAfter (nanoseconds; pool.go).
	steal atomic.Int64
	// bufs lends the connections their buffers (connbufs.go).
	bufs connBufs
}

func (t *Transport) stealAfter() time.Duration {
	if d := t.steal.Load(); d != 0 {
		return time.Duration(d)
	}
	return defaultStealAfter
}

func (t *Transport) pool(tg *target.Target) *pool {
	if p, ok := tg.Attached(t).(*pool); ok {
		return p // the pool this transport stored, found without the map
	}
	if p, ok := t.pools.Load(tg); ok {
		return p.(*pool)
	}
	np := &pool{max: t.MaxIdlePerTarget, idleTimeout: t.IdleTimeout, override: t.IdleOverride, ka: &tg.KeepAlive}
	np.att = target.Attachment{Key: t, Value: np}
	if t.closed.Load() || tg.Draining() {
		np.closed = true
		return np
	}
	p, loaded := t.pools.LoadOrStore(tg, np)
	if !loaded {
		np.watchCut(tg.CutContext())
		tg.Attach(&np.att)
	}
	return p.(*pool)
}

// closeTarget closes a draining target's idle connections and keeps the
// ones in use from returning to the pool.
func (t *Transport) closeTarget(tg *target.Target) {
	t.h2.closeTarget(tg)
	if p, ok := t.pools.Load(tg); ok {
		p.(*pool).close()
	}
}

// forget drops a deregistered target's pool.
func (t *Transport) forget(tg *target.Target) {
	t.h2.forget(tg)
	tg.Detach(t)
	if p, ok := t.pools.LoadAndDelete(tg); ok {
		p.(*pool).close()
	}
}

// Reap closes idle connections past the idle timeout, on every target.
func (t *Transport) Reap(now time.Time) {
	t.h2.reap()
	t.pools.Range(func(_, p any) bool { p.(*pool).reap(now); return true })
}

// CloseIdle closes every idle connection and keeps connections in use
// from returning to a pool, for shutdown and for a transport a reload
// replaced.
func (t *Transport) CloseIdle() {
	t.closed.Store(true)
	t.h2.closeAll()
	t.pools.Range(func(_, p any) bool { p.(*pool).close(); return true })
}

// outRequest is the request as it is sent to a target.
type outRequest struct {
	method, uri, host string
	header            httpmsg.Header
	// body is nil for no body. contentLength < 0 sends it chunked.
	body          io.Reader
	contentLength int64
	// buffered, when not nil, is the whole body that body reads (the
	// handler's replay copy, contentLength bytes): it goes out with the
	// head in one gathered write (writeBuffered).
	buffered []byte
	// codings are the client's transfer codings before the final chunked
	// ("gzip, deflate"), sent with a chunked body: Fulcrum decodes and
	// re-frames only the chunked framing (RFC 9112 §7). Empty for none.
	codings string
	// close asks the target to close the connection after the response.
	close bool
	// interim, when set, gets each 1xx interim response but 100 and 101.
	interim interimWriter
	// hook, when set, is the client connection's link to its attempt
	// (attempthook.go): ctx's end reaches the attempt through it.
	hook *attemptHook
	// space, when set, is the client connection's memory for the
	// exchange (attemptSpace); nil allocates one per attempt.
	space *attemptSpace
	// info, when set, is the client connection's info, the one ctx
	// carries: read directly, not looked up in ctx.
	info *connInfo
}

// interimWriter relays 1xx interim responses to the client (respWriter).
type interimWriter interface {
	interim(code int, h http.Header)
}

// exchange is one attempt in progress: the connection and the response
// whose body is still to be read.
type exchange struct {
	t    *Transport
	p    *pool
	tg   *target.Target
	c    *backendConn
	resp *http.Response
	// The attempt's links to its client's context and to the target's
	// cut: a hook and a tracking pool, or else AfterFunc stops
	// (attempthook.go: stop and stopCut).
	hook      *attemptHook
	stopFn    func() bool
	cutPool   *pool
	stopCutFn func() bool
	idle      time.Duration
	reused    bool

	timeout time.Duration
	// loop is the event loop the exchange runs on (its clock times the
	// read deadline); nil on the goroutine layer.
	loop *netloop.Loop
	// readSet is when the read deadline was last moved.
	readSet time.Time
	eof     bool
	keep    bool
	// h2 is the attempt's HTTP/2 stream, nil on HTTP/1.1.
	h2 *h2Stream
	// respv and body hold an HTTP/1.1 response (targetresp.go), so that
	// reading it costs no allocation of its own.
	respv http.Response
	body  targetBody
	// fields are respv's header fields in the target's order, for
	// forwarding without the map (respfields.go); nil for HTTP/2.
	fields    []respField
	fieldsBuf [respFieldsInline]respField
	// head, when not nil, is the client connection's buffer that
	// readResponse copies the response head into (attemptSpace.head);
	// nil copies each head into a string of its own.
	head *[]byte
	// parsed, when not nil, is where readResponse parses the head
	// (attemptSpace.parsed); nil parses into the connection's own.
	parsed *http1.Response
}

// roundTrip sends req to tg and reads the response header. fresh forbids a
// pooled connection. timeout bounds each wait for target bytes (the
// listener's idle timeout). Errors are *failure.AttemptError.
func (t *Transport) roundTrip(ctx context.Context, tg *target.Target, in *httpmsg.Request, req *outRequest, fresh bool, timeout time.Duration) (*exchange, error) {
	if t.h2 != nil {
		return t.h2.roundTrip(ctx, t, tg, in, req, fresh, timeout)
	}
	p := t.pool(tg)
	var x *exchange
	if req.space != nil {
		// The attempt before, if any, has ended: nothing uses its
		// exchange any more.
		x = &req.space.x
		*x = exchange{t: t, p: p, tg: tg, timeout: timeout, head: &req.space.head, parsed: &req.space.parsed}
	} else {
		x = &exchange{t: t, p: p, tg: tg, timeout: timeout}
	}
	lc, lane := loopOfInfo(req.info), 0 // loopconn.go
	if req.info == nil {
		lc = loopOf(ctx)
	}
	var now time.Time
	if lc != nil {
		// The loop's clock (no clock read): the pool's idle times and
		// the read deadline below need no finer time.
		x.loop = lc.Loop()
		lane, now = x.loop.ID()+1, x.loop.Now()
	} else {
		now = time.Now()
	}
	if !fresh {
		x.c = p.get(now, &tg.Conns, lane, t.stealAfter())
	}
	if x.c != nil && x.c.lane != lane {
		// Another loop's idle connection: move its socket to this loop.
		if nc, err := lc.Claim(x.c.Conn); err != nil {
			x.c = nil
		} else {
			x.c.Conn, x.c.lim.r, x.c.lane = nc, nc, lane
		}
	}
	if x.c != nil {
		x.reused, x.idle = true, max(now.Sub(x.c.lastUsed), 0)
	} else {
		var conn net.Conn
		var err error
		if lc != nil {
			// A target connection of a loop's request lives on that loop.
			conn, err = t.Dialer.DialVia(ctx, tg.Address, lc.Dial, lc.Blocking)
		} else {
			conn, err = t.Dialer.Dial(ctx, tg.Address)
		}
		if err != nil {
			return nil, err
		}
		x.c = newBackendConn(conn, &t.bufs)
		x.c.lane = lane
	}
	c := x.c
	fail := func(phase failure.Phase, err error) error {
		if cause := context.Cause(tg.CutContext()); cause != nil {
			err = fmt.Errorf("%w: %w", cause, err)
		} else if ctx.Err() != nil {
			err = fmt.Errorf("%w: %w", context.Cause(ctx), err)
		}
		c.Close()
		x.stop()
		x.stopCut()
		return &failure.AttemptError{Phase: phase, Target: tg.Address, Reused: x.reused, Idle: x.idle, Written: c.wrote > 0, Err: err}
	}
	c.wrote = 0
	c.SetDeadline(now.Add(timeout))
	if req.hook != nil {
		x.hook = req.hook
		x.hook.set(c)
	} else {
		x.stopFn = context.AfterFunc(ctx, func() { c.SetDeadline(pastDeadline) })
	}
	// When the target's deregistration delay expires, the attempt ends
	// wherever it is (ALB answers 502,
	// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-target-groups.html#deregistration-delay).
	if p.track(c) {
		x.cutPool = p
	} else {
		x.stopCutFn = context.AfterFunc(tg.CutContext(), func() { c.SetDeadline(pastDeadline) })
	}
	// Each byte of the client's body that arrives extends the write
	// deadline: the bound on a streamed upload is idle, not total. A
	// buffered body has arrived whole already.
	var progress func()
	if req.body != nil && req.buffered == nil {
		progress = func() { c.SetWriteDeadline(time.Now().Add(timeout)) }
	}
	if err := c.writeRequest(req, progress); err != nil {
		if errors.Is(err, errClientBody) {
			c.Close()
			x.stop()
			x.stopCut()
			return nil, err
		}
		return nil, fail(failure.PhaseWrite, err)
	}
	if err := c.bw.Flush(); err != nil {
		return nil, fail(failure.PhaseWrite, err)
	}
	c.releaseWriter()
	if req.body != nil {
		// The body took its time: the wait for the response starts now.
		c.SetReadDeadline(time.Now().Add(timeout))
	}
	x.readSet = now
	c.lim.n, c.lim.exceeded = headerLimit, false
	for {
		resp, err := readResponse(c, req.method, x) // targetresp.go
		if err != nil {
			return nil, fail(failure.PhaseAwaitHeaders, err)
		}
		// 1xx interim responses go to req.interim (102, 103 Early Hints,
		// RFC 8297) or are skipped (100: Fulcrum sent its own); 101 ends
		// the exchange.
		if resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
			if req.interim != nil && resp.StatusCode != http.StatusContinue {
				req.interim.interim(resp.StatusCode, x.header())
			}
			c.SetReadDeadline(time.Now().Add(timeout))
			continue
		}
		c.lim.n = -1
		resp.Body = &x.body
		x.resp = resp
		var kv [2]string
		if ka := fieldValues(kv[:0], x.fields, "Keep-Alive"); len(ka) > 0 {
			if d := keepAliveTimeout(ka); d > 0 {
				tg.KeepAlive.ObserveHeader(time.Now(), d)
			}
		}
		x.keep = !resp.Close && !req.close && resp.StatusCode != http.StatusSwitchingProtocols
		return x, nil
	}
}

// keepAliveTimeout returns the timeout=N parameter of a Keep-Alive
// response header (RFC 2068 §19.7.1.1, sent by Node, Apache and others),
// or 0.
func keepAliveTimeout(vs []string) time.Duration {
	for _, v := range vs {
		for part := range strings.SplitSeq(v, ",") {
			k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || !strings.EqualFold(k, "timeout") {
				continue
			}
			if n, err := strconv.Atoi(strings.TrimSpace(val)); err == nil && n > 0 {
				return time.Duration(n) * time.Second
			}
		}
	}
	return 0
}

// Read reads the response body within the idle bound. The deadline moves
// at most every timeout/8, not per read.
func (x *exchange) Read(p []byte) (int, error) {
	if x.h2 != nil {
		return x.h2.read(p)
	}
	now := x.clock()
	if now.Sub(x.readSet) > x.timeout/8 {
		x.readSet = now
		x.c.SetReadDeadline(now.Add(x.timeout))
	}
	n, err := x.resp.Body.Read(p)
	if err == io.EOF {
		x.eof = true
	} else if err != nil {
		if cause := context.Cause(x.tg.CutContext()); cause != nil {
			err = fmt.Errorf("%w: %w", cause, err)
		}
	}
	return n, err
}

// clock is the time for the exchange's deadlines and its connection's
// idle time: its loop's clock when it runs on one (netloop.Loop.Now, no
// clock read; the exchange stays on the loop it began on), else
// time.Now.
func (x *exchange) clock() time.Time {
	if x.loop != nil {
		return x.loop.Now()
	}
	return time.Now()
}

// release ends the exchange: a fully read keep-alive response returns the
// connection to the pool, anything else closes it. A connection whose
// reader still holds bytes after the response (a HEAD, 204 or 304 answered
// with a body, a body longer than its Content-Length) is closed instead,
// so those bytes can never be read as another request's response; release
// counts it on the target and returns how many bytes were left unread.
func (x *exchange) release() (unsolicited int) {
	if x.h2 != nil {
		x.h2.release()
		return 0
	}
	stopped := x.stop()
	if !x.stopCut() {
		stopped = false
	}
	if x.eof && x.keep && stopped {
		if unsolicited = x.c.br.Buffered(); unsolicited == 0 {
			x.c.SetDeadline(time.Time{})
			x.p.put(x.c, x.clock())
			return 0
		}
		x.tg.Conns.ObserveUnsolicited()
	}
	x.c.Close()
	return unsolicited
}

// buffersWriter is a connection that writes several buffers in one
// system call (netloop.Conn.WriteBuffers: sendmsg's gather).
type buffersWriter interface {
	WriteBuffers(bufs [][]byte) (int64, error)
}

// writeRequest writes req to the target: a buffered body and its head in
// one gathered write when the connection can (one system call and, on
// loopback, one segment, where bufio writes the head's buffer and then
// the rest: two), else through the connection's bufio.Writer.
func (c *backendConn) writeRequest(req *outRequest, progress func()) error {
	bw, ok := c.Conn.(buffersWriter)
	if !ok || req.buffered == nil || int64(len(req.buffered)) != req.contentLength {
		return writeRequest(c.writer(), req, progress)
	}
	w := c.writer()
	if w.Buffered() > 0 || headSize(req) > w.Available() {
		return writeRequest(w, req, progress)
	}
	// The head is built in w's free space and written from there with
	// the body; w holds nothing after.
	c.vec[0], c.vec[1] = appendHead(w.AvailableBuffer(), req), req.buffered
	n, err := bw.WriteBuffers(c.vec[:])
	c.vec = [2][]byte{}
	c.wrote += n
	return err
}

// writeRequest writes the request line, headers and body. Body read
// errors are wrapped in errClientBody.
func writeRequest(w *bufio.Writer, r *outRequest, progress func()) error {
	// The head is appended straight into w's free space, one Write
	// rather than one call per piece; only a head larger than w's whole
	// buffer is built apart (an allocation, for that request only).
	n := headSize(r)
	if n > w.Available() && w.Buffered() > 0 {
		if err := w.Flush(); err != nil {
			return err
		}
	}
	var b []byte
	if n <= w.Available() {
		b = w.AvailableBuffer()
	} else {
		b = make([]byte, 0, n)
	}
	if _, err := w.Write(appendHead(b, r)); err != nil {
		return err
	}
	if r.body == nil {
		return nil
	}
	if br, ok := r.body.(*bytes.Reader); ok && int64(br.Len()) == r.contentLength {
		// A buffered body goes out in one write once the buffer with the
		// head is full, not in buffer-sized pieces: fewer syscalls.
		_, err := br.WriteTo(w)
		return err
	}
	src := &clientBody{r: r.body, progress: progress}
	if r.contentLength >= 0 {
		n, err := io.Copy(w, io.LimitReader(src, r.contentLength))
		if err == nil && n < r.contentLength {
			err = fmt.Errorf("%w: %w", errClientBody, io.ErrUnexpectedEOF)
		}
		return err
	}
	cw := httputil.NewChunkedWriter(w)
	if _, err := io.Copy(cw, src); err != nil {
		return err
	}
	if err := cw.Close(); err != nil {
		return err
	}
	_, err := w.WriteString("\r\n")
	return err
}

// clientBody marks read errors as the client's, and calls progress (when
// set) after each read that returned bytes.
type clientBody struct {
	r        io.Reader
	progress func()
}

func (b *clientBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if n > 0 && b.progress != nil {
		b.progress()
	}
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%w: %w", errClientBody, err)
	}
	return n, err
}

// headRoom is an upper bound on the bytes appendHead adds to the
// method, URI, host, codings and fields: the spaces, the version, the
// framing field and Connection: close.
const headRoom = 96

// headSize is an upper bound on the bytes of r's head (appendHead).
func headSize(r *outRequest) int {
	n := len(r.method) + len(r.uri) + len(r.host) + len(r.codings) + headRoom
	for _, f := range r.header {
		n += len(f.Name) + len(f.Value) + 4
	}
	return n
}

// appendHead appends r's head (request line, Host, fields, framing, the
// empty line) to b.
func appendHead(b []byte, r *outRequest) []byte {
	b = append(b, r.method...)
	b = append(b, ' ')
	b = append(b, r.uri...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, r.host...)
	b = append(b, "\r\n"...)
	for _, f := range r.header {
		// The connection loop and the HTTP/2 conversion leave out the
		// framing fields: the framing below is the only one sent (RFC 9112
		// §6.3).
		b = append(b, f.Name...)
		b = append(b, ": "...)
		b = append(b, f.Value...)
		b = append(b, "\r\n"...)
	}
	switch {
	case r.body == nil:
		if r.method == "POST" || r.method == "PUT" || r.method == "PATCH" {
			// An empty body is still a body to targets that answer
			// 411 Length Required without one.
			b = append(b, "Content-Length: 0\r\n"...)
		}
	case r.contentLength >= 0:
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, r.contentLength, 10)
		b = append(b, "\r\n"...)
	default:
		b = append(b, "Transfer-Encoding: "...)
		if r.codings != "" {
			b = append(b, r.codings...)
			b = append(b, ", "...)
		}
		b = append(b, "chunked\r\n"...)
	}
	if r.close {
		b = append(b, "Connection: close\r\n"...)
	}
	return append(b, "\r\n"...)
}
