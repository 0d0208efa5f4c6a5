package proxy

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/accesslog"
	"github.com/fulcrumlb/fulcrum/internal/desync"
	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/http1"
	"github.com/fulcrumlb/fulcrum/internal/httpmsg"
	"github.com/fulcrumlb/fulcrum/internal/metrics"
	"github.com/fulcrumlb/fulcrum/internal/stickiness"
	"github.com/fulcrumlb/fulcrum/internal/target"
)

// maxReplayBody is the largest request body buffered so the request can be
// retried after the body was sent. Larger bodies stream and are retried
// only when no byte of them was read.
const maxReplayBody = 64 << 10

// Handler serves one listener: it routes each request to a target group,
// runs the attempt loop with retries, and answers and logs every outcome.
type Handler struct {
	// Listener is the listener's name.
	Listener string
	// TLS is true for https listeners.
	TLS bool
	// Port is the listener's port, for X-Forwarded-Port and the log URL.
	Port string
	// AccessLog, when set, gets one record per request.
	AccessLog *accesslog.Logger
	// History, when set, keeps recent records for the admin API.
	History *accesslog.History
	// Metrics counts requests and attempts; nil means none.
	Metrics *metrics.Metrics
	// Logger receives operational messages.
	Logger *slog.Logger
	// Sticky seals and opens stickiness cookies; nil turns stickiness off.
	Sticky *stickiness.Codec

	// routes is the listener's current rules; a reload swaps it.
	routes atomic.Pointer[routeTable]
	// bytesIn and bytesOut sum every request's received and sent bytes on
	// this listener (bin and bout of its FRONTEND row).
	bytesIn, bytesOut atomic.Int64
	records           sync.Pool
	bufs              sync.Pool
}

// record returns an empty record for one request: a slot of the access
// log when there is one (its writer encodes and recycles it), else one
// from the handler's pool.
func (h *Handler) record() *accesslog.Record {
	if h.AccessLog != nil {
		return h.AccessLog.Take()
	}
	if r, ok := h.records.Get().(*accesslog.Record); ok {
		return r
	}
	return accesslog.NewRecord()
}

// buffer returns a 32 KiB buffer for q's body (the replay copy, the
// response copy): from its loop's free list (looplocal.go) or the
// handler's pool. Give it back with putBuffer.
func (h *Handler) buffer(q *request) *[]byte {
	if b, ok := take(q.free(), bodyBufsOf); ok {
		return b
	}
	if b, ok := h.bufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 32<<10)
	return &b
}

// putBuffer gives back a buffer from buffer. The loop is looked up now,
// not when the buffer was taken: a connection that left its loop in
// between (a WebSocket upgrade) runs on a goroutine, and its buffers go
// to the pool.
func (h *Handler) putBuffer(q *request, bp *[]byte) {
	if !keep(q.free(), bodyBufsOf, bp, loopFreeBig) {
		h.bufs.Put(bp)
	}
}

// free returns the free lists of the loop q's connection is on, nil when
// it is on none.
func (q *request) free() *loopFree {
	if lc := loopOfInfo(q.ci); lc != nil {
		return freeOf(lc.Loop())
	}
	return nil
}

// request is the per-request state of ServeHTTP.
type request struct {
	w     http.ResponseWriter
	r     *httpmsg.Request
	rec   *accesslog.Record
	id    string
	strs  requestStrings // the request's id, log URL and trace value (fillRecord)
	start time.Time
	// ci is the client connection's info; nil when the request's context
	// has none.
	ci *connInfo
	// headerAt is when the target's response header arrived (decide);
	// response_processing_time counts from it.
	headerAt time.Time
	// respondedAt is when forward began the response to the client: the
	// record's Time, ALB's "time when the load balancer generated a
	// response"; zero for Fulcrum's own answers and upgrades, whose Time
	// is when finish runs.
	respondedAt time.Time
	group       *Group
	// target is the target of the attempt being forwarded.
	target *target.Target
	// idleTimeout bounds each wait for the target's bytes.
	idleTimeout time.Duration
	// exposeDetails shows the failure detail to the client.
	exposeDetails bool
	// route is what the rules decided (actions.go).
	route routeState
}

// ServeHTTP proxies one request that net/http's HTTP/2 server parsed,
// as Serve.
func (h *Handler) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	r := new(httpmsg.Request)
	httpmsg.FromHTTP(r, hr)
	h.Serve(w, r)
}

// Serve proxies one request: route, attempts with retries, the answer
// and its log record. r and its header may be rewritten for the target.
func (h *Handler) Serve(w http.ResponseWriter, r *httpmsg.Request) {
	var start time.Time
	if rw, ok := w.(*respWriter); ok {
		start = rw.cc.headAt // when the connection loop had read the head
	}
	if start.IsZero() {
		start = time.Now()
	}
	var ci *connInfo
	if rw, ok := w.(*respWriter); ok {
		ci = rw.cc.info // what r's context carries, without its lookup
	} else {
		ci = connInfoOf(r.Context())
	}
	rec := h.record()
	q := &request{w: w, r: r, rec: rec, start: start, ci: ci}
	h.fillRecord(q, ci, true)
	defer h.finish(q)

	rt := h.routes.Load()
	q.idleTimeout = rt.idleTimeout
	if _, ok := w.(*respWriter); !ok {
		// The connection loop's writer bounds its writes itself.
		q.w = newIdleWriter(w, q.idleTimeout)
	}
	q.exposeDetails = rt.exposeDetails
	if !h.routeRequest(q, rt) {
		// A redirect or fixed_response answered (actions.go); ALB's
		// received_bytes still counts the request.
		rec.ReceivedBytes = r.Size()
		return
	}

	out := &outRequest{method: r.Method, uri: r.URI, host: r.Host, contentLength: r.ContentLength, codings: r.Codings, info: ci}
	if rw, ok := w.(*respWriter); ok {
		if r.ProtoMinor >= 1 {
			// RFC 9110 §15.2: no 1xx to an HTTP/1.0 client.
			out.interim = rw
		}
		out.hook = &rw.cc.hook
		out.space = &rw.cc.rs.space
	}
	if ci != nil && ci.closeTarget {
		// desync_mitigation_mode defensive, Ambiguous request: neither
		// connection carries another request.
		out.close = true
	}
	upgrade := upgradeType(r.Header)
	proto := "http"
	if h.TLS {
		proto = "https"
	}
	forwardHeaders(&r.Header, r.RemoteAddr, proto, h.Port, q.id, upgrade)
	out.header = r.Header
	if upgrade != "" {
		rec.Type = "ws"
		if h.TLS {
			rec.Type = "wss"
		}
	}

	var replay []byte
	if r.Body != nil && r.ContentLength != 0 {
		var body io.Reader = r.Body
		if _, ok := r.Body.(*bodyReader); !ok {
			// The connection loop's body bounds its reads itself.
			ib := newIdleBody(body, w, q.idleTimeout)
			defer ib.stop() // a transport may read on after the handler
			body = ib
		}
		if r.ContentLength > 0 && r.ContentLength <= maxReplayBody {
			bp := h.buffer(q)
			defer h.putBuffer(q, bp)
			n, err := io.ReadFull(body, (*bp)[:r.ContentLength])
			if err != nil {
				h.clientBodyFailed(q, fmt.Errorf("client sent %d of %d body bytes: %w", n, r.ContentLength, err))
				return
			}
			replay = (*bp)[:n]
			out.body, out.buffered = bytes.NewReader(replay), replay
		} else {
			out.body = body
			if r.ContentLength < 0 {
				out.contentLength = -1
			}
		}
	}
	rec.ReceivedBytes = r.Size()
	h.attempts(q, out, replay, upgrade != "")
}

// attempts runs the attempt loop: each attempt picks a target, acquires a
// request slot on it, sends the request and decides from what happened
// whether to answer or retry. It retries while the failure is retryable,
// attempts remain, and the retry budget allows.
func (h *Handler) attempts(q *request, out *outRequest, replay []byte, upgrade bool) {
	if h.refuseProtocol(q) { // grpcanswer.go
		return
	}
	leaveLoopFor(q.ci, q.group) // loopconn.go
	g, r := q.group, q.r
	g.budget.begin()
	defer g.budget.end()
	var tried []*target.Target
	if s := out.space; s != nil {
		tried = s.tried[:0]
		defer clear(s.tried[:]) // hold no target past the request
	} else {
		tried = make([]*target.Target, 0, len(attemptSpace{}.tried))
	}
	a := attemptState{replay: replay, upgrade: upgrade, tried: tried,
		idempotent: failure.Idempotent(r.Method, r.Header.Get("Idempotency-Key") != "")}
	for a.n = 1; ; a.n++ {
		t, rs := h.pick(q, &a)
		if t == nil {
			break
		}
		if t = h.acquireFor(q, &a, rs, t); t == nil {
			break
		}
		x, sent, err := h.send(q, &a, out, t)
		switch h.decide(q, &a, out, t, x, sent, err) {
		case attemptAnswered:
			return
		case attemptFailed:
			h.answer(q, a.class, a.detail)
			return
		}
	}
	h.answer(q, a.class, a.detail)
}

// attemptState is what one request's attempt loop carries from one
// attempt to the next. It lives on attempts' stack. The outRequest stays
// a parameter of send and decide: held here, it would escape to the heap,
// one more allocation per request.
type attemptState struct {
	replay     []byte // the buffered body, resent on a retry; nil when streamed
	upgrade    bool   // the client asked for a protocol upgrade
	idempotent bool   // failure.Idempotent of the request
	n          int    // the attempt under way, from 1
	// tried are the targets attempted so far, in order.
	tried []*target.Target
	// fresh asks the next attempt for a new connection; retrying is set
	// while the attempt under way holds a retry budget slot.
	fresh, retrying bool
	// class and detail are the last failure: what the client is answered
	// when no attempt succeeds.
	class  failure.Class
	detail string
}

// attemptSpace is an HTTP/1.1 client connection's memory for the attempt
// loop of the request it serves, so that neither the tried targets nor
// the exchange cost an allocation per request. (A stack array for tried
// would not do: it escapes through the balancer.Policy call.) The
// connection serves one request at a time, and the next one's attempt
// loop starts after the last response bytes were written
// (respWriter.finish still reads exchange.fieldsBuf through pass).
//
// The response head's strings (exchange.fields, the lazily built header,
// Response.Status) alias head, which the next attempt's readResponse
// overwrites. They are read while the request is served; a string that
// outlives it (a record field the log writer encodes later, a metric
// label) must be cloned, as grpcForwarded clones grpc-status. Every
// other string the exchange holds is immutable.
type attemptSpace struct {
	// tried backs attemptState.tried while it holds up to 4 targets; a
	// Policy does not keep it past Pick.
	tried [4]*target.Target
	// x is the HTTP/1.1 exchange of the attempt under way (roundTrip).
	x exchange
	// head holds the last response head read (readResponse), its
	// capacity that of the largest head seen on the connection.
	head []byte
	// parsed is the attempt's response head as parsed (readResponse).
	parsed http1.Response
}

// attemptVerdict is decide's answer.
type attemptVerdict int

const (
	attemptRetry    attemptVerdict = iota // try again
	attemptAnswered                       // the client has its answer
	attemptFailed                         // answer a.class and stop
)

// pick chooses the attempt's target: the sticky one if it is routable,
// else the group's policy's pick among the targets not tried yet. It
// returns nil, with a.class set to failure.ErrNoTarget's class, when there
// is none.
func (h *Handler) pick(q *request, a *attemptState) (*target.Target, *target.RouteSet) {
	g := q.group
	rs := g.Targets.Routes()
	t := h.stickyTarget(q, rs, a.tried)
	if t == nil {
		t = g.Policy.Pick(rs, a.tried)
	}
	if t == nil {
		err := fmt.Errorf("target group %s has %w", g.Name, failure.ErrNoTarget)
		a.class, a.detail = failure.Classify(err), err.Error()
	}
	return t, rs
}

// acquireFor takes a request slot on t or a stand-in (acquire) and
// records the attempt: the fail-open and retry metrics and a.tried. It
// returns nil, with a.class set, when no slot could be had.
func (h *Handler) acquireFor(q *request, a *attemptState, rs *target.RouteSet, t *target.Target) *target.Target {
	g := q.group
	t, err := h.acquire(q, rs, t, a.tried)
	if err != nil {
		a.class, a.detail = failure.Classify(err), err.Error()
		return nil
	}
	if a.n == 1 && rs.FailOpen {
		h.Metrics.UnhealthyRouting(g.Name)
	}
	if a.n > 1 {
		prev := a.tried[len(a.tried)-1]
		prev.Stats.ObserveRetry(prev != t)
		h.Metrics.Retry(g.Name, a.class.Type)
	}
	a.tried = append(a.tried, t)
	return t
}

// send sends the request to t, rewinding a buffered body for a retry, and
// returns the exchange, the time it was sent, and the transport's error.
// It gives back the retry budget slot the attempt held.
func (h *Handler) send(q *request, a *attemptState, out *outRequest, t *target.Target) (*exchange, time.Time, error) {
	g, rec := q.group, q.rec
	if a.n > 1 && a.replay != nil {
		out.body, out.buffered = bytes.NewReader(a.replay), a.replay
	}
	rec.Target = t.Address
	sent := nowAfter(q.start)
	if rec.RequestProcessing < 0 {
		rec.RequestProcessing = sent.Sub(q.start)
	}
	x, err := g.Transport.roundTrip(q.r.Context(), t, q.r, out, a.fresh, q.idleTimeout)
	if a.retrying {
		g.budget.release()
		a.retrying = false
	}
	return x, sent, err
}

// decide acts on what the attempt on t told us: a response is observed
// and relayed to the client; a failure is observed and, when it is
// retryable, attempts remain and the retry budget allows, retried. It
// releases t's slot either way.
func (h *Handler) decide(q *request, a *attemptState, out *outRequest, t *target.Target, x *exchange, sent time.Time, err error) attemptVerdict {
	g, rec := q.group, q.rec
	if err == nil {
		q.headerAt = nowAfter(sent)
		o := Outcome{Group: g, Target: t, Class: failure.Response(x.reused, x.idle), Status: x.resp.StatusCode, Sent: sent, Done: q.headerAt}
		rec.TargetProcessing = o.Duration()
		h.observe(rec, &o)
		q.target = t
		if a.upgrade && x.resp.StatusCode == http.StatusSwitchingProtocols {
			h.upgrade(q, x)
		} else {
			h.forward(q, x)
		}
		h.release(g, t)
		return attemptAnswered
	}
	h.release(g, t)
	a.class, a.detail = failure.Classify(err), err.Error()
	class := a.class
	if class.Type == failure.HTTPRequestError {
		// The client's request body failed: not the target's fault,
		// and not worth another attempt.
		h.clientBodyFailed(q, err)
		return attemptAnswered
	}
	h.observe(rec, &Outcome{Group: g, Target: t, Class: class, Detail: a.detail, Err: err, Sent: sent, Done: time.Now()})
	if class.Type == failure.ClientClosed {
		return attemptFailed
	}
	if errors.Is(err, failure.ErrDeregistered) {
		// The deregistration delay ran out under this request: ALB
		// answers 502 and so does Fulcrum, rather than run a request
		// that already took that long a second time.
		return attemptFailed
	}
	bodyUnread := a.replay != nil || out.body == nil || (!class.Written && class.BeforeRequest())
	if a.n >= g.MaxAttempts || !class.Retryable(a.idempotent) || !bodyUnread {
		return attemptFailed
	}
	// The budget guards targets against retry storms, so it only
	// counts retries of requests that may have reached a target. A
	// retry after a refused connect or a dead pooled connection adds
	// no work anywhere and is always allowed.
	if class.Written {
		if !g.budget.acquire() {
			h.Metrics.RetryBudgetExhausted(g.Name)
			a.detail += " (retry budget exhausted)"
			return attemptFailed
		}
		a.retrying = true
	}
	// A reused connection failed: take a fresh one if the retry lands
	// on the same target, since its other idle connections may be
	// just as stale.
	a.fresh = class.Reused
	return attemptRetry
}

// acquire takes a request slot on the picked target t. When t is at its
// max_connections it takes another target's free slot, or waits in the
// group's queue for one. It returns an error matching
// failure.ErrConnectionLimit when the queue is full or times out, and a
// *failure.ClientError when the client goes away while queued.
func (h *Handler) acquire(q *request, rs *target.RouteSet, t *target.Target, tried []*target.Target) (*target.Target, error) {
	if t.TryAcquire() {
		return t, nil
	}
	if t = acquireFree(rs, tried); t != nil {
		return t, nil
	}
	g := q.group
	h.Metrics.Queued(g.Name)
	t, err := h.queued(q, slices.Clone(tried))
	switch {
	case err == nil:
		return t, nil
	case err == errQueueFull:
		h.Metrics.QueueRejected(g.Name, "full")
	case err == errQueueTimeout:
		h.Metrics.QueueRejected(g.Name, "timeout")
	default:
		return nil, &failure.ClientError{Closed: true, Err: errors.New("client closed the connection while the request was queued")}
	}
	return nil, err
}

// queued waits in the group's queue for a slot on a target not in tried.
// It is acquire's slow path, apart so that the closures it needs cost the
// fast path nothing (tried is the caller's copy: it outlives the call).
func (h *Handler) queued(q *request, tried []*target.Target) (t *target.Target, err error) {
	g, ctx := q.group, q.r.Context()
	// On an event loop the wait runs off the loop (netloop.Conn.Blocking):
	// the slot it waits for may be freed by another request of this loop.
	loopOfInfo(q.ci).Blocking(func() {
		t, err = g.queue.wait(ctx, func() *target.Target { return acquireFree(g.Targets.Routes(), tried) })
	})
	return t, err
}

// release ends an attempt's hold on t and, when t has a connection limit,
// lets a queued request take the freed slot.
func (h *Handler) release(g *Group, t *target.Target) {
	t.Release()
	if t.MaxConnections() > 0 {
		g.queue.freed()
	}
}

// forward copies the target's response to the client.
func (h *Handler) forward(q *request, x *exchange) {
	rec, resp := q.rec, x.resp
	defer func() {
		if n := x.release(); n > 0 {
			last := &rec.Attempts[len(rec.Attempts)-1]
			last.Evidence = "target sent " + strconv.Itoa(n) + " bytes after the response ended; connection closed, not reused"
		} else if x.h2 != nil && q.rec != nil && len(q.rec.Attempts) > 0 {
			q.rec.Attempts[len(q.rec.Attempts)-1].Evidence = x.h2.evidence() // h2transport.go
		}
	}()
	hdr := q.w.Header()
	var headSize int64
	if rw, ok := q.w.(*respWriter); ok && x.fields != nil {
		// HTTP/1.1 on both sides: the target's fields pass through in
		// order, without the map (respfields.go).
		rw.pass, headSize = passFields(x.fields, resp.Status)
		rw.pass = append(rw.pass, respField{"X-Request-Id", q.id})
	} else {
		hdr["X-Request-Id"] = []string{q.id}
		removeHopHeaders(x.header())
		for k, v := range resp.Header {
			hdr[k] = v
		}
		headSize = responseHeaderSize(resp)
	}
	h.stickyCookies(q, x, hdr)
	if len(resp.Trailer) > 0 {
		for k := range resp.Trailer {
			hdr.Add("Trailer", k)
		}
	}
	q.w.WriteHeader(resp.StatusCode)
	// ALB's response_processing_time: from the target's response header
	// to the start of the response to the client (Elastic Load
	// Balancing, "Access log entries").
	q.respondedAt = nowAfter(q.headerAt)
	rec.ResponseProcessing = q.respondedAt.Sub(q.headerAt)
	rec.ELBStatus, rec.TargetStatus = resp.StatusCode, resp.StatusCode
	rec.SentBytes = headSize

	bp := h.buffer(q)
	defer h.putBuffer(q, bp)
	flusher, _ := q.w.(http.Flusher)
	stream := resp.ContentLength < 0
	buf := *bp
	for {
		n, rerr := x.Read(buf)
		if n > 0 {
			if _, werr := q.w.Write(buf[:n]); werr != nil {
				// The client went away mid-body; the target did nothing wrong.
				rec.Error, rec.ErrorDetail = failure.Classify(&failure.ClientError{Closed: true, Err: werr}).Type, clientWriteDetail(werr)
				return
			}
			rec.SentBytes += int64(n)
			if stream && flusher != nil {
				flusher.Flush()
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			ae := &failure.AttemptError{Phase: failure.PhaseBody, Target: rec.Target, Reused: x.reused, Idle: x.idle, Written: true, Err: rerr}
			c := failure.Classify(ae)
			rec.Error, rec.ErrorDetail = c.Type, ae.Error()
			if q.target != nil {
				now := time.Now()
				h.observe(rec, &Outcome{Group: q.group, Target: q.target, Class: c, Detail: rec.ErrorDetail, Err: ae, Sent: now, Done: now})
			} else {
				last := &rec.Attempts[len(rec.Attempts)-1]
				last.Class, last.Detail = c, rec.ErrorDetail
			}
			h.finish(q)
			if flusher != nil {
				flusher.Flush() // the client gets what the target sent
			}
			// Abort the client connection so the client sees the response
			// is incomplete rather than a short body that looks whole. The
			// deferred release closes the target connection.
			panic(http.ErrAbortHandler)
		}
	}
	for k, vs := range resp.Trailer {
		for _, v := range vs {
			hdr.Add(http.TrailerPrefix+k, v)
		}
	}
	h.grpcForwarded(q, x) // grpcanswer.go
}

// fail answers a request that failed before or outside any attempt with
// err's class (failure.Classify) and err's text as the detail.
func (h *Handler) fail(q *request, err error) {
	h.answer(q, failure.Classify(err), err.Error())
}

// answer sends Fulcrum's own response for a failure: the class's status,
// Server: fulcrum, and an RFC 9209 Proxy-Status naming the error type. A
// client that already went away (460) gets nothing.
func (h *Handler) answer(q *request, c failure.Class, detail string) {
	if grpcRequest(q.r) {
		h.answerGRPC(q, c, detail) // grpcanswer.go
		return
	}
	et, status := c.Type, c.Status()
	rec := q.rec
	rec.Error, rec.ErrorDetail, rec.ELBStatus, rec.TargetStatus = et, detail, status, 0
	rec.TargetProcessing, rec.ResponseProcessing = -1, -1
	if status == 460 || status == 0 {
		return
	}
	hdr := q.w.Header()
	clear(hdr)
	hdr["Server"] = []string{"fulcrum"}
	hdr["Proxy-Status"] = []string{proxyStatus(et, publicDetail(q, detail))}
	hdr["Content-Type"] = []string{"text/plain; charset=utf-8"}
	hdr["Cache-Control"] = []string{"no-store"}
	hdr["X-Request-Id"] = []string{q.id}
	body := strconv.Itoa(status) + " " + http.StatusText(status) + "\nerror: " + et.String() + "\nrequest id: " + q.id + "\n"
	hdr["Content-Length"] = []string{strconv.Itoa(len(body))}
	q.w.WriteHeader(status)
	io.WriteString(q.w, body)
	rec.SentBytes = int64(len(body)) + 200 // body plus about the size of the header lines above
}

// proxyStatus formats an RFC 9209 Proxy-Status field value. details is an
// sf-string: '"' and '\' are escaped and non-printable bytes dropped.
func proxyStatus(et failure.ErrorType, details string) string {
	b := make([]byte, 0, 32+len(details))
	b = append(b, "fulcrum; error="...)
	b = append(b, et.String()...)
	if details != "" {
		b = append(b, `; details="`...)
		for i := 0; i < len(details); i++ {
			c := details[i]
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c >= 0x20 && c < 0x7f:
				b = append(b, c)
			}
		}
		b = append(b, '"')
	}
	return string(b)
}

// fillRecord fills q's record with what the request tells before any
// routing, and makes q's requestStrings: the trace value too when trace is
// set (every request Serve routes; none ownAnswer refuses).
func (h *Handler) fillRecord(q *request, ci *connInfo, trace bool) {
	r, rec := q.r, q.rec
	q.strs = newRequestStrings(rec, r, h.TLS, h.Port, trace, q.start)
	rec.ID = q.strs.id
	rec.Packed.ID, rec.Packed.Has = q.strs.packed.ID, accesslog.PackedID
	// The record keeps its own copies of the request's strings: on an
	// HTTP/1.1 connection they point into the connection's head buffer,
	// which its next request reuses (inrequest.go).
	q.id = r.Header.Get("X-Request-Id")
	if q.id == "" || len(q.id) > 200 {
		q.id = rec.ID
	} else {
		q.id = rec.Keep(q.id)
	}
	rec.Type = "http"
	if r.TLS != nil {
		rec.Type = "https"
		if r.ProtoMajor == 2 {
			rec.Type = "h2"
		}
		rec.SSLCipher = tls.CipherSuiteName(r.TLS.CipherSuite)
		rec.SSLProtocol = tlsVersion(r.TLS.Version)
		rec.DomainName = r.TLS.ServerName
	}
	rec.Listener, rec.Client, rec.TraceID = h.Listener, r.RemoteAddr, q.id
	rec.RequestCreation = q.start
	rec.Method, rec.Proto, rec.UserAgent = rec.Keep(r.Method), r.Proto, rec.Keep(r.Header.Get("User-Agent"))
	rec.URL = q.strs.url
	rec.RequestProcessing, rec.TargetProcessing, rec.ResponseProcessing = -1, -1, -1
	rec.RulePriority = -1
	if ci != nil {
		rec.ConnID = ci.id
		rec.Packed.Conn = ci.packed
		rec.Packed.Has |= accesslog.PackedConn
		if v := ci.verdict; v.Tier != desync.Compliant {
			rec.Classification, rec.ClassificationReason = v.Tier.String(), v.Reason.String()
		}
	}
}

// finish writes the access log record and recycles it. It runs once per
// request, when the record's byte counts are final, so it is where they
// reach the listener's and the answering target's bin and bout.
func (h *Handler) finish(q *request) {
	rec := q.rec
	if rec == nil {
		return
	}
	if rec.Time = q.respondedAt; rec.Time.IsZero() {
		rec.Time = time.Now()
	}
	if rec.ELBStatus == 0 && rec.Error == failure.None {
		// The handler returned without a response (a panic elsewhere).
		rec.ELBStatus = 500
	}
	h.bytesIn.Add(max(rec.ReceivedBytes, 0))
	h.bytesOut.Add(max(rec.SentBytes, 0))
	if q.target != nil {
		q.target.Stats.ObserveBytes(rec.ReceivedBytes, rec.SentBytes)
	}
	h.Metrics.Request(h.Listener, rec.TargetGroup, rec.ELBStatus, rec.TargetStatus == 0)
	h.History.Add(rec)
	q.rec = nil
	// The access log's writer encodes the record off the request path and
	// recycles it; History.Add has copied what it keeps.
	if h.AccessLog != nil && h.AccessLog.Submit(rec) {
		return
	}
	rec.Reset()
	h.records.Put(rec)
}

// hasPort reports whether a Host value has a port, as net.SplitHostPort
// would accept it ("h:80", "[::1]:80", "h:"), without its error's cost.
func hasPort(h string) bool {
	i := strings.LastIndexByte(h, ':')
	switch {
	case i < 0:
		return false
	case h[0] == '[':
		return strings.LastIndexByte(h, ']') == i-1
	}
	return strings.IndexByte(h, ':') == i
}

func tlsVersion(v uint16) string {
	switch v {
	case tls.VersionTLS13:
		return "TLSv1.3"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS10:
		return "TLSv1"
	}
	return ""
}

// requestSize approximates the request's size on the wire: request line,
// headers and declared body.
func responseHeaderSize(resp *http.Response) int64 {
	n := int64(len(resp.Status) + 11)
	for k, vs := range resp.Header {
		for _, v := range vs {
			n += int64(len(k) + len(v) + 4)
		}
	}
	return n + 2
}
