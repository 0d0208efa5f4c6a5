//go:build linux

package evloop

import (
	"errors"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/desync"
	"github.com/fulcrumlb/fulcrum/internal/http1"
)

// Session is one client connection: it parses the client's request heads
// one at a time (a pipelined request waits in the buffer until the
// response before it is out), forwards each with its body to an upstream,
// and forwards the upstream's response back.
type Session struct {
	p  *Proxy
	e  End
	up *Upstream // bound while an exchange is in flight

	busy         bool  // an exchange is in flight
	answering    bool  // the proxy's own answer is pending; then close
	bodyLeft     int64 // request body bytes not yet handed to the upstream
	bodyInFlight int   // bytes at e.in[e.r:] viewed by the upstream's pending write
	respOut      bool  // the response is out, the request body is not yet
	reqClose     bool  // the request ends the connection
	isHead       bool

	head  []byte // the forwarded request head
	ip    []byte // the client's address, for X-Forwarded-For
	ipBuf [48]byte
	id    [16]byte
	rec   Record
}

// End returns the session's client end.
func (s *Session) End() *End { return &s.e }

func (s *Session) reset() {
	s.up = nil
	s.busy, s.answering = false, false
	s.bodyLeft, s.bodyInFlight = 0, 0
	s.reqClose, s.isHead, s.respOut = false, false, false
}

// buffered is what the session holds: its read buffer and its upstream's.
func (s *Session) buffered() int {
	n := s.e.Buffered()
	if s.up != nil {
		n += s.up.e.Buffered()
	}
	return n
}

func (s *Session) onData() {
	switch {
	case s.answering || s.e.closing:
		s.e.r = s.e.w // discard
	case !s.busy:
		s.startRequest()
	case s.up != nil && s.bodyLeft > 0 && s.bodyInFlight == 0 && s.up.e.niov == 0:
		s.pushBody()
	}
}

// startRequest parses the next request head in the buffer, if complete,
// and sends it on.
func (s *Session) startRequest() {
	p := s.p
	if s.e.w == s.e.r {
		return
	}
	n, err := http1.Parse(s.e.in[s.e.r:s.e.w], &p.req, http1.Limits{MaxHeaderBytes: len(s.e.in)})
	if errors.Is(err, http1.ErrIncomplete) {
		if s.e.r == 0 && s.e.w == len(s.e.in) {
			s.answer(ans431)
		}
		return
	}
	if err != nil {
		var he *http1.Error
		st := ans400
		if errors.As(err, &he) {
			st = answerFor(he.Status())
		}
		s.answer(st)
		return
	}
	req := &p.req
	_ = req.Classify() // computed for its cost, as the engine does; not acted on
	if req.Chunked {
		s.answer(ans501) // the prototype forwards Content-Length bodies only
		return
	}
	s.e.r += n
	p.nextID(&s.id)
	s.head = s.appendHead(s.head[:0], req)
	s.bodyLeft = max(req.ContentLength, 0)
	s.reqClose = req.Close
	s.isHead = string(req.Method) == "HEAD"
	if p.cfg.log != nil {
		s.rec.fill(req, s)
	}
	u := p.acquire(s)
	if u == nil {
		s.answer(ans502)
		return
	}
	p.stats.Requests++
	s.up = u
	s.busy = true
	k := min(int64(s.e.w-s.e.r), s.bodyLeft)
	s.bodyInFlight = int(k)
	u.e.setPending(s.head, s.e.in[s.e.r:s.e.r+int(k)])
	p.mark(&u.e)
}

// pushBody hands the body bytes in the buffer to the upstream.
func (s *Session) pushBody() {
	k := min(int64(s.e.w-s.e.r), s.bodyLeft)
	if k == 0 {
		return
	}
	s.bodyInFlight = int(k)
	s.up.e.setPending(s.e.in[s.e.r:s.e.r+int(k)], nil)
	s.p.mark(&s.up.e)
}

// requestFlushed runs when the upstream wrote everything it was given.
func (s *Session) requestFlushed() {
	s.e.r += s.bodyInFlight
	s.bodyLeft -= int64(s.bodyInFlight)
	s.bodyInFlight = 0
	if s.e.r == s.e.w {
		s.e.r, s.e.w = 0, 0
	}
	if s.bodyLeft > 0 {
		s.pushBody()
	}
	s.p.mark(&s.e) // the buffer has room again: read on
	if s.respOut && s.bodyLeft == 0 {
		s.finish()
	}
}

// onWrote runs after the client took n bytes.
func (s *Session) onWrote(n int) {
	u := s.up
	if s.answering || u == nil {
		return
	}
	u.e.r += n
	u.sent += int64(n)
	if u.e.r == u.e.w {
		u.e.r, u.e.w, u.scan = 0, 0, 0
	}
	s.e.setPending(u.e.in[u.e.r:u.scan], nil)
	s.p.mark(&u.e) // room in the upstream's buffer: read the target on
	if u.e.r != u.scan {
		return
	}
	switch {
	case u.rstate == rDone:
		s.finish()
	case u.e.eof:
		// The target closed mid-response: the client gets a closed
		// connection, not a hang.
		s.abortUpstream()
		s.e.closing = true
		s.p.mark(&s.e)
	}
}

// finish ends an exchange whose response is out.
func (s *Session) finish() {
	if s.bodyLeft > 0 || s.bodyInFlight > 0 {
		// A target may answer before it read the body (nginx's "return"
		// does, then discards the body): the rest still goes to it, and
		// the exchange ends when both directions are done.
		s.respOut = true
		return
	}
	s.respOut = false
	p := s.p
	u := s.up
	s.up = nil
	s.busy = false
	if p.cfg.log != nil {
		s.rec.done(u)
		p.cfg.log.send(&s.rec)
	}
	reusable := !u.respClose && !u.bad && !u.e.eof && u.e.niov == 0
	if reusable {
		p.release(u)
	} else {
		u.s, u.e.s = nil, nil
		u.e.abort = true
		p.mark(&u.e)
	}
	if s.reqClose || u.respClose {
		s.e.closing = true
		p.mark(&s.e)
		return
	}
	if s.e.eof {
		s.e.closing = true
		p.mark(&s.e)
		return
	}
	s.startRequest() // a pipelined request may be waiting
	p.mark(&s.e)
}

func (s *Session) onEOF() {
	s.e.eof = true
	if !s.busy && !s.answering {
		s.e.closing = true
		s.p.mark(&s.e)
		return
	}
	if s.answering {
		return
	}
	// The client left mid-exchange: the target connection cannot be reused.
	s.abortUpstream()
	s.e.abort = true
	s.p.mark(&s.e)
}

// upstreamGone runs when the layer closed s's upstream under it.
func (s *Session) upstreamGone() {
	s.up = nil
	s.e.niov = 0
	s.e.abort = true
	s.p.mark(&s.e)
}

func (s *Session) abortUpstream() {
	if u := s.up; u != nil {
		s.up = nil
		u.s, u.e.s = nil, nil
		u.e.abort = true
		s.p.mark(&u.e)
	}
}

// answer sends one of the proxy's own answers and closes the connection.
func (s *Session) answer(a int) {
	s.abortUpstream()
	s.answering = true
	s.busy = false
	s.e.setPending(s.p.answers[a], nil)
	s.e.closing = true
	s.p.stats.Answered++
	s.p.mark(&s.e)
}

// appendHead appends the request head as forwarded: the request line in
// HTTP/1.1, the fields without framing and hop-by-hop ones, the
// X-Forwarded-* fields and X-Request-Id (ALB,
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/x-forwarded-headers.html),
// and one Content-Length when the request had one.
func (s *Session) appendHead(dst []byte, r *http1.Request) []byte {
	dst = append(dst, r.Method...)
	dst = append(dst, ' ')
	dst = append(dst, r.Target...)
	dst = append(dst, " HTTP/1.1\r\n"...)
	for _, h := range r.Headers {
		if len(h.Name) == 0 || desync.LooksLikeFraming(h.Name) || isHop(h.Name) || dropped(h.Name) {
			continue
		}
		dst = append(dst, h.Name...)
		dst = append(dst, ':', ' ')
		dst = append(dst, h.Value...)
		dst = append(dst, '\r', '\n')
	}
	dst = append(dst, "X-Forwarded-For: "...)
	for _, h := range r.Headers {
		if lowerIs(h.Name, "x-forwarded-for") {
			dst = append(dst, h.Value...)
			dst = append(dst, ", "...)
		}
	}
	dst = append(dst, s.ip...)
	dst = append(dst, "\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Port: "...)
	dst = append(dst, s.p.port...)
	dst = append(dst, "\r\nX-Request-Id: "...)
	dst = append(dst, s.id[:]...)
	dst = append(dst, '\r', '\n')
	if r.HadContentLength && r.ContentLength >= 0 {
		dst = append(dst, "Content-Length: "...)
		dst = appendUint(dst, uint64(r.ContentLength))
		dst = append(dst, '\r', '\n')
	}
	return append(dst, '\r', '\n')
}

func appendUint(dst []byte, v uint64) []byte {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(dst, b[i:]...)
}

// isHop reports the hop-by-hop fields of RFC 9110 §7.6.1 a proxy removes.
func isHop(name []byte) bool {
	switch len(name) {
	case 2:
		return lowerIs(name, "te")
	case 7:
		return lowerIs(name, "trailer") || lowerIs(name, "upgrade")
	case 10:
		return lowerIs(name, "connection") || lowerIs(name, "keep-alive")
	case 16:
		return lowerIs(name, "proxy-connection")
	}
	return false
}

// dropped reports the fields the proxy sets itself.
func dropped(name []byte) bool {
	switch len(name) {
	case 12:
		return lowerIs(name, "x-request-id")
	case 15:
		return lowerIs(name, "x-forwarded-for")
	case 16:
		return lowerIs(name, "x-forwarded-port")
	case 17:
		return lowerIs(name, "x-forwarded-proto")
	}
	return false
}

// lowerIs compares an ASCII field name with a lower-case one.
func lowerIs(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// The proxy's own answers (indexes into Proxy.answers).
const (
	ans400 = iota
	ans413
	ans414
	ans431
	ans501
	ans502
	ans505
	numAnswers
)

func answerFor(status int) int {
	switch status {
	case 413:
		return ans413
	case 414:
		return ans414
	case 431:
		return ans431
	case 501:
		return ans501
	case 505:
		return ans505
	}
	return ans400
}

func buildAnswers() [numAnswers][]byte {
	lines := [numAnswers]string{
		"400 Bad Request", "413 Content Too Large", "414 URI Too Long",
		"431 Request Header Fields Too Large", "501 Not Implemented",
		"502 Bad Gateway", "505 HTTP Version Not Supported",
	}
	var out [numAnswers][]byte
	for i, l := range lines {
		out[i] = []byte("HTTP/1.1 " + l + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	}
	return out
}

// now is the wall clock, read only when the access log is on.
func now() int64 { return time.Now().UnixNano() }
