//go:build linux

package evloop

import (
	"errors"

	"github.com/fulcrumlb/fulcrum/internal/http1"
)

// Response framing states.
const (
	rHead    uint8 = iota // reading the status line and fields
	rCL                   // Content-Length body: left bytes to go
	rChunked              // chunked body, tracked by dec
	rClose                // the body ends with the connection
	rDone                 // the response is complete at scan
)

// Upstream is one target connection: idle in its loop's pool, or bound to
// the session whose exchange it carries. Its read buffer holds the
// response: e.in[e.r:scan] is classified as response bytes and is what
// the client is being sent; bytes from scan on are not yet framed.
type Upstream struct {
	p      *Proxy
	e      End
	target int
	idleAt int // index in the idle pool, -1 when not idle
	s      *Session

	rstate    uint8
	left      int64 // rCL: body bytes to come
	dec       http1.ChunkedDecoder
	scan      int
	status    int
	respClose bool  // the connection cannot carry another exchange
	bad       bool  // the target broke the protocol: do not reuse
	started   bool  // a final (non-1xx) head was parsed
	sent      int64 // response bytes given to the client
}

func (u *Upstream) bind(s *Session) {
	u.s = s
	u.e.s = s
	u.rstate = rHead
	u.left = 0
	u.dec = http1.ChunkedDecoder{}
	u.scan = u.e.r
	u.status = 0
	u.respClose, u.bad, u.started = false, false, false
	u.sent = 0
}

func (u *Upstream) onData() {
	if u.s == nil {
		// Bytes on an idle connection: the target broke the protocol.
		u.e.r = u.e.w
		u.p.dropIdle(u)
		u.e.abort = true
		u.p.mark(&u.e)
		return
	}
	if !u.classify() {
		return
	}
	s := u.s
	s.e.setPending(u.e.in[u.e.r:u.scan], nil)
	u.p.mark(&s.e)
	if u.e.r == u.scan && u.rstate == rDone {
		s.finish() // e.g. a bodiless response whose head is already out
	}
}

// classify frames the bytes from scan on; false means the exchange failed
// (and was handled).
func (u *Upstream) classify() bool {
	p := u.p
	for u.scan < u.e.w && u.rstate != rDone {
		switch u.rstate {
		case rHead:
			n, err := http1.ParseResponse(u.e.in[u.scan:u.e.w], &p.resp, http1.Limits{MaxHeaderBytes: len(u.e.in)})
			if errors.Is(err, http1.ErrIncomplete) {
				if u.e.r == 0 && u.e.w == len(u.e.in) {
					u.fail() // a head larger than the buffer
					return false
				}
				return true
			}
			if err != nil {
				u.fail()
				return false
			}
			u.scan += n
			r := &p.resp
			if r.Status < 200 && r.Status != 101 {
				continue // 100 Continue and friends: forwarded, then the real head
			}
			u.started = true
			u.status = r.Status
			u.respClose = r.Close
			method := "GET"
			if u.s.isHead {
				method = "HEAD"
			}
			switch {
			case r.Status == 101:
				// No upgrades in the prototype: read to the end.
				u.rstate, u.respClose = rClose, true
			case r.NoBody([]byte(method)):
				u.rstate = rDone
			case r.Chunked:
				u.rstate = rChunked
				u.dec = http1.ChunkedDecoder{}
			case r.ContentLength >= 0:
				u.rstate, u.left = rCL, r.ContentLength
				if u.left == 0 {
					u.rstate = rDone
				}
			default:
				u.rstate, u.respClose = rClose, true
			}
		case rCL:
			k := min(int64(u.e.w-u.scan), u.left)
			u.scan += int(k)
			u.left -= k
			if u.left == 0 {
				u.rstate = rDone
			}
		case rChunked:
			for {
				_, m, err := u.dec.Decode(u.e.in[u.scan:u.e.w])
				if err != nil {
					u.fail()
					return false
				}
				u.scan += m
				if u.dec.Done() {
					u.rstate = rDone
					break
				}
				if m == 0 {
					break
				}
			}
		case rClose:
			u.scan = u.e.w
		}
	}
	if u.rstate == rDone && u.scan < u.e.w {
		// Bytes after the response's end: not forwarded, not reused.
		u.e.w = u.scan
		u.bad = true
	}
	return true
}

// fail ends the exchange after a target error: a 502 when the client has
// been sent nothing, else a closed connection.
func (u *Upstream) fail() {
	s := u.s
	u.bad = true
	if s == nil {
		u.e.abort = true
		u.p.mark(&u.e)
		return
	}
	if u.sent == 0 && u.e.r == u.scan {
		s.answer(ans502) // also aborts u
		return
	}
	// Keep the bytes already framed for the client, then close it.
	u.e.w = u.scan
	u.e.eof = true
	if u.e.r == u.scan {
		s.abortUpstream()
		s.e.closing = true
		u.p.mark(&s.e)
	}
}

func (u *Upstream) onEOF() {
	u.e.eof = true
	s := u.s
	if s == nil {
		u.p.dropIdle(u)
		u.e.abort = true
		u.p.mark(&u.e)
		return
	}
	if u.rstate == rClose {
		u.rstate = rDone
		u.respClose = true
		if u.e.r == u.scan {
			s.finish()
		}
		return
	}
	if u.rstate == rDone {
		return // the response is complete; finish runs when it is out
	}
	u.fail()
}

// onWrote runs after the target took request bytes.
func (u *Upstream) onWrote(int) {
	if u.e.niov == 0 && u.s != nil {
		u.s.requestFlushed()
	}
}
