//lint:file-ignore SA1019 golang.org/x/net/http2 is marked deprecated for net/http's bundled copy, whose stream and GOAWAY error types are unexported: classifying stream failures by type needs x/net's.

package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"

	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/httpmsg"
	"github.com/fulcrumlb/fulcrum/internal/target"
)

// h2Transport sends requests to the targets of an HTTP2 or GRPC target
// group over HTTP/2 (RFC 9113): ALPN "h2" on TLS, h2c with prior
// knowledge (RFC 9113 §3.3) on cleartext. It dials itself, so DNS,
// connect and TLS failures keep their phases, then hands the connection
// to golang.org/x/net/http2's ClientConn for the framing. Each request is
// one stream; the attempt model stays Fulcrum's: phase, reused, written,
// the stream id and how the stream ended.
type h2Transport struct {
	dialer *target.Dialer
	tr     *http2.Transport
	tls    bool
	// grpc sends "te: trailers" as gRPC requires
	// (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md);
	// gRPC calls to an HTTP2 group get it too.
	grpc  bool
	pools sync.Map // *target.Target -> *h2Pool
}

// h2PingAfter and h2PingTimeout bound how long a silent HTTP/2
// connection to a target is trusted.
const (
	h2PingAfter   = 30 * time.Second
	h2PingTimeout = 15 * time.Second
)

// newH2Transport returns the HTTP/2 transport of a group whose targets
// are dialed by d (its TLS config, when set, gets ALPN h2). idle closes
// connections without streams for that long.
func newH2Transport(d *target.Dialer, idle time.Duration, grpc bool) *h2Transport {
	nd := *d
	if d.TLS != nil {
		nd.TLS = d.TLS.Clone()
		nd.TLS.NextProtos = []string{http2.NextProtoTLS}
	}
	return &h2Transport{
		dialer: &nd,
		tls:    d.TLS != nil,
		grpc:   grpc,
		tr: &http2.Transport{
			// The response passes through as the target sent it.
			DisableCompression: true,
			IdleConnTimeout:    idle,
			// ALB's 32 K response header limit, advertised in SETTINGS.
			MaxHeaderListSize: headerLimit,
			// A connection that received nothing for this long is
			// PINGed and closed when no answer comes within PingTimeout:
			// a target that vanished without a FIN must not keep
			// taking streams (RFC 9113 §6.7).
			ReadIdleTimeout: h2PingAfter,
			PingTimeout:     h2PingTimeout,
		},
	}
}

func (h *h2Transport) pool(t *Transport, tg *target.Target) *h2Pool {
	if p, ok := h.pools.Load(tg); ok {
		return p.(*h2Pool)
	}
	np := &h2Pool{}
	if t.closed.Load() || tg.Draining() {
		np.closed = true
		return np
	}
	p, _ := h.pools.LoadOrStore(tg, np)
	return p.(*h2Pool)
}

func (h *h2Transport) closeTarget(tg *target.Target) {
	if h == nil {
		return
	}
	if p, ok := h.pools.Load(tg); ok {
		p.(*h2Pool).close()
	}
}

func (h *h2Transport) forget(tg *target.Target) {
	if h == nil {
		return
	}
	if p, ok := h.pools.LoadAndDelete(tg); ok {
		p.(*h2Pool).close()
	}
}

func (h *h2Transport) reap() {
	if h == nil {
		return
	}
	h.pools.Range(func(_, p any) bool { p.(*h2Pool).reap(); return true })
}

func (h *h2Transport) closeAll() {
	if h == nil {
		return
	}
	h.pools.Range(func(_, p any) bool { p.(*h2Pool).close(); return true })
}

// dial opens a new HTTP/2 connection to tg: the dialer's phases, the
// ALPN check on TLS, then the client preface and SETTINGS.
func (h *h2Transport) dial(ctx context.Context, tg *target.Target) (*h2Conn, error) {
	conn, err := h.dialer.Dial(ctx, tg.Address)
	if err != nil {
		var ae *failure.AttemptError
		if errors.As(err, &ae) && ae.Phase == failure.PhaseTLS && failure.NoApplicationProtocol(ae.Err) {
			ae.Err = fmt.Errorf("%w: the target offers no h2 with ALPN (%w) [%s]", errNoH2, ae.Err, failure.CauseH2NotNegotiated)
		}
		return nil, err
	}
	if tc, ok := conn.(*tls.Conn); ok {
		if p := tc.ConnectionState().NegotiatedProtocol; p != http2.NextProtoTLS {
			conn.Close()
			return nil, &failure.AttemptError{Phase: failure.PhaseTLS, Target: tg.Address,
				Err: fmt.Errorf("%w: the target selected %q with ALPN, not h2 [%s]", errNoH2, p, failure.CauseH2NotNegotiated)}
		}
	}
	wc := &watchConn{Conn: conn}
	cc, err := h.tr.NewClientConn(wc)
	if err != nil {
		conn.Close()
		return nil, &failure.AttemptError{Phase: failure.PhaseWrite, Target: tg.Address, Err: &failure.H2Error{Err: err}}
	}
	c := &h2Conn{cc: cc, conn: wc}
	c.lastUsed.Store(time.Now().UnixNano())
	return c, nil
}

// errNoH2 is a TLS target that did not select h2 with ALPN: a TLS
// protocol failure (tls_protocol_error), before any request byte.
var errNoH2 = errors.New("no HTTP/2")

// h2Stream is one attempt's stream: what the story tells about it and
// the watchdog that bounds each wait for the target.
type h2Stream struct {
	c        *h2Conn
	tg       *target.Target
	reused   bool
	id       atomic.Uint32
	wrote    atomic.Bool
	bodyDone atomic.Bool // the client's body was read to its end
	bodySent atomic.Bool // the request's last DATA frame was written
	inRead   atomic.Bool
	gotResp  atomic.Bool
	idle     time.Duration
	timer    *time.Timer
	cancel   context.CancelCauseFunc
	ctx      context.Context
	parent   context.Context // the client request's
	stopCut  func() bool
	resp     *http.Response
	eof      bool
	ended    string
	single   bool // the connection is used once (draining target)
	// done is set when the attempt ended: the watchdog stays off.
	done atomic.Bool
	// streamed is true when the request body is the client's own
	// stream rather than a buffered copy.
	streamed bool
}

// fire is the watchdog: nothing moved for the idle timeout. It ends the
// stream with an *failure.H2Stall naming what it waited for, unless it
// waits on the client's body, whose own idle bound answers the client.
func (s *h2Stream) fire() {
	if s.done.Load() {
		return
	}
	waiting := failure.StallHeaders
	switch {
	case s.gotResp.Load():
		waiting = failure.StallBody
	case s.wrote.Load() && !s.bodySent.Load():
		if s.inRead.Load() {
			s.timer.Reset(s.idle) // the client is slow, not the target
			return
		}
		waiting = failure.StallWindow
	}
	s.cancel(&failure.H2Stall{Waiting: waiting, Idle: s.idle})
}

// h2Body is the request body as the HTTP/2 client connection reads it:
// each read that returns bytes re-arms the watchdog, and a read error is
// the client's.
type h2Body struct {
	s *h2Stream
	r io.Reader
}

func (b *h2Body) Read(p []byte) (int, error) {
	b.s.inRead.Store(true)
	n, err := b.r.Read(p)
	b.s.inRead.Store(false)
	if n > 0 && !b.s.done.Load() {
		b.s.timer.Reset(b.s.idle)
	}
	if err == io.EOF {
		b.s.bodyDone.Store(true)
	} else if err != nil {
		err = fmt.Errorf("%w: %w", errClientBody, err)
	}
	return n, err
}

func (b *h2Body) Close() error { return nil }

// roundTrip sends req on a stream to tg and returns the exchange with the
// response header. Errors are *failure.AttemptError over a
// *failure.H2Error, or errClientBody's.
func (h *h2Transport) roundTrip(ctx context.Context, t *Transport, tg *target.Target, in *httpmsg.Request, req *outRequest, fresh bool, timeout time.Duration) (*exchange, error) {
	// The URL first: a stream reserved on a pooled connection must be
	// used by RoundTrip.
	u, err := h.url(tg, req.uri)
	if err == nil && req.codings != "" {
		// HTTP/2 has no transfer codings (RFC 9113 §8.2.2): a body coded
		// gzip or deflate cannot say so to the target.
		err = errH2Codings
	}
	if err != nil {
		return nil, &failure.AttemptError{Phase: failure.PhaseWrite, Target: tg.Address, Err: &failure.H2Error{Err: err}}
	}
	p := h.pool(t, tg)
	var c *h2Conn
	if !fresh {
		c = p.get()
	}
	s := &h2Stream{tg: tg, idle: timeout, reused: c != nil}
	now := time.Now()
	var idle time.Duration
	if c != nil && c.cc.State().StreamsActive == 0 {
		idle = now.Sub(time.Unix(0, c.lastUsed.Load()))
	}
	if c == nil {
		nc, err := h.dial(ctx, tg)
		if err != nil {
			return nil, err
		}
		c = nc
		if !p.add(c) {
			s.single = true
			c.cc.SetDoNotReuse()
		}
	}
	s.c, s.parent = c, ctx
	s.ctx, s.cancel = context.WithCancelCause(ctx)
	s.timer = time.AfterFunc(timeout, s.fire)
	s.stopCut = context.AfterFunc(tg.CutContext(), func() { s.cancel(context.Cause(tg.CutContext())) })
	trace := &httptrace.ClientTrace{
		WroteHeaders: func() {
			s.id.Store(2*c.headers.Add(1) - 1)
			s.wrote.Store(true)
		},
		WroteRequest: func(httptrace.WroteRequestInfo) { s.bodySent.Store(true) },
	}
	hreq := h.request(httptrace.WithClientTrace(s.ctx, trace), u, in, req, s)
	resp, err := c.cc.RoundTrip(hreq)
	if err != nil {
		if errors.Is(err, errClientBody) {
			s.stop()
			return nil, err
		}
		phase := failure.PhaseAwaitHeaders
		if !s.wrote.Load() {
			phase = failure.PhaseWrite
		}
		ae := &failure.AttemptError{Phase: phase, Target: tg.Address, Reused: s.reused, Idle: idle, Written: s.wrote.Load(), Err: s.failure(err)}
		s.stop()
		return nil, ae
	}
	s.gotResp.Store(true)
	s.timer.Reset(timeout)
	s.resp = resp
	return &exchange{t: t, tg: tg, resp: resp, h2: s, reused: s.reused, idle: idle, timeout: timeout}, nil
}

// errH2Codings refuses a request with transfer codings other than
// chunked on an HTTP/2 target group.
var errH2Codings = errors.New("transfer codings other than chunked cannot be sent over HTTP/2")

// url is the stream's URL: the target as authority of the connection,
// and the request's path and query as the client sent them.
func (h *h2Transport) url(tg *target.Target, uri string) (*url.URL, error) {
	scheme := "http"
	if h.tls {
		scheme = "https"
	}
	u := &url.URL{Scheme: scheme, Host: tg.Address}
	if uri != "*" {
		ru, err := url.ParseRequestURI(uri)
		if err != nil {
			return nil, err
		}
		u.Path, u.RawPath, u.RawQuery = ru.Path, ru.RawPath, ru.RawQuery
	}
	return u, nil
}

// request builds the stream's request from the outgoing request.
func (h *h2Transport) request(ctx context.Context, u *url.URL, in *httpmsg.Request, req *outRequest, s *h2Stream) *http.Request {
	hdr := make(http.Header, len(req.header)+1)
	for _, f := range req.header {
		switch k := http.CanonicalHeaderKey(f.Name); k {
		case "Content-Length", "Connection", "Upgrade":
			// HTTP/2 has no connection-specific fields (RFC 9113
			// §8.2.2): an Upgrade request goes as the plain request it is.
		default:
			hdr[k] = append(hdr[k], f.Value)
		}
	}
	if h.grpc || in != nil && grpcRequest(in) {
		hdr["Te"] = []string{"trailers"} // removed with the hop-by-hop fields
	}
	hr := &http.Request{Method: req.method, URL: u, Host: req.host, Header: hdr,
		Proto: "HTTP/2.0", ProtoMajor: 2, ContentLength: req.contentLength}
	if req.body == nil {
		hr.Body, hr.ContentLength = http.NoBody, 0
		s.bodyDone.Store(true)
		s.bodySent.Store(true)
	} else {
		hr.Body = &h2Body{s: s, r: req.body}
		_, buffered := req.body.(*bytes.Reader)
		s.streamed = !buffered
	}
	if in != nil && len(in.Trailer) > 0 {
		hr.Trailer = in.Trailer
	}
	return hr.WithContext(ctx)
}

// failure wraps a stream's error with its evidence: the stream id, the
// GOAWAY its connection got, and the stall or deregistration cut that
// ended it.
func (s *h2Stream) failure(err error) error {
	parent := s.parent
	he := &failure.H2Error{StreamID: s.id.Load(), Err: err}
	if cause := context.Cause(s.ctx); cause != nil && parent.Err() == nil {
		var stall *failure.H2Stall
		if errors.As(cause, &stall) {
			he.Err = stall
		} else {
			he.Err = fmt.Errorf("%w: %w", cause, err)
		}
	} else if parent.Err() != nil {
		return fmt.Errorf("%w: %w", context.Cause(parent), err)
	}
	var ge http2.GoAwayError
	if last, code, ok := s.c.goAway(); ok {
		he.GoAway, he.LastStreamID, he.GoAwayCode = true, last, code
	} else if errors.As(err, &ge) {
		he.GoAway, he.LastStreamID, he.GoAwayCode = true, ge.LastStreamID, ge.ErrCode
	}
	return he
}

// stop ends the watchdog and the deregistration hook.
func (s *h2Stream) stop() {
	s.done.Store(true)
	s.timer.Stop()
	s.stopCut()
	s.cancel(nil)
	s.c.lastUsed.Store(time.Now().UnixNano())
	if s.single && s.c.cc.State().StreamsActive == 0 {
		s.c.cc.Close()
	}
}

// read reads the response body, re-arming the watchdog per read.
func (s *h2Stream) read(p []byte) (int, error) {
	s.timer.Reset(s.idle)
	n, err := s.resp.Body.Read(p)
	switch {
	case err == io.EOF:
		s.eof, s.ended = true, "END_STREAM"
	case err != nil:
		err = s.failure(err)
		s.ended = err.Error()
	}
	return n, err
}

// release ends the stream: closing the body resets a stream whose body
// was not read to its end (RST_STREAM CANCEL) and waits for the request
// body's writer, so the handler's buffer is free again.
//
// A client still streaming its body when the response ended (a gRPC
// server that answered before the client half-closed) would keep that
// writer waiting on the client, and the client waits for the trailers
// the handler sends only once it returns: the stream is cancelled first,
// so closing does not wait, and the writer ends when the handler's
// return closes the client's body.
func (s *h2Stream) release() {
	if s.streamed && !s.bodyDone.Load() {
		s.cancel(nil)
	}
	s.resp.Body.Close()
	if !s.eof && s.ended == "" {
		s.ended = "reset by Fulcrum (CANCEL)"
	}
	s.stop()
}

// evidence is the attempt's story line: the stream, its connection and
// how it ended.
func (s *h2Stream) evidence() string {
	st := s.c.cc.State()
	conn := "a new connection"
	if s.reused {
		conn = "a reused connection"
	}
	id := "?"
	if v := s.id.Load(); v != 0 {
		id = strconv.FormatUint(uint64(v), 10)
	}
	return "HTTP/2 stream " + id + " on " + conn + " (max " + strconv.FormatUint(uint64(st.MaxConcurrentStreams), 10) +
		" concurrent streams); ended " + s.ended
}
