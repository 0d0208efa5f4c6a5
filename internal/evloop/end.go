//go:build linux

package evloop

// End is one socket as the core sees it: its read buffer and what is
// waiting to be written to it. The I/O layer owns the socket (FD, Ext) and
// the readiness flags; the core owns the buffers. Not safe for concurrent
// use: everything happens on the End's loop.
type End struct {
	// FD is the layer's file descriptor (-1 when none); Ext is whatever
	// else the layer keeps (gnet's Conn).
	FD  int
	Ext any
	// Readable and Writable are the layer's readiness flags (edge-triggered
	// epoll: set on an event, cleared on EAGAIN or a short transfer).
	Readable, Writable bool
	// HUP is set by the layer when the peer closed its side (EPOLLRDHUP):
	// read until EOF even after a short read.
	HUP bool
	// Connecting is true while a target connection's connect is under way.
	Connecting bool

	in   []byte // read buffer: in[r:w] is unread by the core
	r, w int
	iov  [2][]byte // pending writes: views into other buffers
	niov int

	eof     bool   // the peer closed its side: read no more
	closing bool   // close once the pending writes are out
	abort   bool   // close now, dropping pending writes
	closed  bool   // the layer has closed it (Proxy.Closed)
	queued  bool   // in the Proxy's service queue
	gen     uint32 // bumped by init: tells a stale dial from the current one

	s *Session  // the session this end belongs to (client), or serves (upstream)
	u *Upstream // non-nil for a target connection
}

func (e *End) init(bufSize int) {
	if cap(e.in) < bufSize {
		e.in = make([]byte, bufSize)
	}
	e.in = e.in[:bufSize]
	e.gen++
	e.FD, e.Ext = -1, nil
	e.Readable, e.Writable, e.HUP, e.Connecting = false, false, false, false
	e.r, e.w, e.niov = 0, 0, 0
	e.iov = [2][]byte{}
	e.eof, e.closing, e.abort, e.closed, e.queued = false, false, false, false, false
}

// Space returns the free part of the read buffer, for the layer to read
// into, then report with Proxy.Received. It is empty when the core does
// not want to read this end now (its buffer is full: backpressure), or
// when the end is closing.
func (e *End) Space() []byte {
	if e.closing || e.closed || e.eof || e.abort {
		return nil
	}
	if e.w == len(e.in) && e.r > 0 && e.canCompact() {
		e.compact()
	}
	return e.in[e.w:]
}

// Pending returns the bytes waiting to be written, as an iovec for
// writev; report what went with Proxy.Wrote. The slices stay valid until
// the next call into the Proxy.
func (e *End) Pending() [][]byte {
	return e.iov[:e.niov]
}

// PendingLen is the total length of Pending.
func (e *End) PendingLen() int {
	n := 0
	for _, b := range e.iov[:e.niov] {
		n += len(b)
	}
	return n
}

// Buffered is how many bytes the core holds in this end's read buffer.
func (e *End) Buffered() int { return e.w - e.r }

// ShouldClose reports whether the layer must close the socket now: the
// core asked for it and nothing is left to write (or it is an abort).
func (e *End) ShouldClose() bool {
	return !e.closed && (e.abort || e.closing && e.PendingLen() == 0)
}

// canCompact reports whether no pending write elsewhere holds a view
// into this end's buffer.
func (e *End) canCompact() bool {
	if e.u != nil {
		// A target connection's buffer is viewed by its client's writes.
		return e.s == nil || e.s.e.niov == 0
	}
	// A client's buffer is viewed by the request body going to its upstream.
	return e.s == nil || e.s.up == nil || e.s.bodyInFlight == 0
}

func (e *End) compact() {
	n := copy(e.in, e.in[e.r:e.w])
	if e.u != nil {
		e.u.scan -= e.r
	}
	e.r, e.w = 0, n
}

func (e *End) setPending(a, b []byte) {
	e.iov[0], e.iov[1] = a, b
	switch {
	case len(b) > 0:
		e.niov = 2
	case len(a) > 0:
		e.niov = 1
	default:
		e.niov = 0
	}
}

// advance drops n written bytes from the pending iovec.
func (e *End) advance(n int) {
	for n > 0 && e.niov > 0 {
		if n < len(e.iov[0]) {
			e.iov[0] = e.iov[0][n:]
			return
		}
		n -= len(e.iov[0])
		e.iov[0], e.iov[1] = e.iov[1], nil
		e.niov--
	}
	if e.niov > 0 && len(e.iov[0]) == 0 {
		e.iov[0], e.iov[1] = e.iov[1], nil
		e.niov--
	}
}
