//lint:file-ignore SA1019 golang.org/x/net/http2 is marked deprecated for net/http's bundled copy, whose stream and GOAWAY error types are unexported: classifying stream failures by type needs x/net's.

package proxy

import (
	"encoding/binary"
	"net"
	"slices"
	"sync"
	"sync/atomic"

	"golang.org/x/net/http2"
)

// h2Conn is one HTTP/2 connection to a target, carrying many streams.
type h2Conn struct {
	cc   *http2.ClientConn
	conn *watchConn
	// headers counts the request header blocks written on the
	// connection. Stream ids are allocated and header blocks written in
	// the same order under the client connection's request lock, so the
	// n-th block opened stream 2n-1 (RFC 9113 §5.1.1); a request
	// cancelled between the two shifts later ids, so ids are evidence,
	// not identity.
	headers atomic.Uint32
	// lastUsed is when a stream on it last ended (Unix nanoseconds).
	lastUsed atomic.Int64
}

// goAway returns the last GOAWAY the connection received: its
// last-stream-id and error code, and whether there was one.
func (c *h2Conn) goAway() (last uint32, code http2.ErrCode, ok bool) {
	return c.conn.goAway()
}

// h2Pool keeps one target's HTTP/2 connections. A connection takes new
// streams while the target's MAX_CONCURRENT_STREAMS allows and no GOAWAY
// came; beyond that the pool opens another connection. A connection that
// got GOAWAY drains: its streams finish, it takes no new ones, and the
// client connection closes it when the last one ends.
type h2Pool struct {
	mu     sync.Mutex
	conns  []*h2Conn
	closed bool
}

// get reserves a stream on a live connection, most recently opened
// first, or returns nil. It drops connections that closed or are
// draining.
func (p *h2Pool) get() *h2Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pruneLocked()
	for i := len(p.conns) - 1; i >= 0; i-- {
		if c := p.conns[i]; c.cc.ReserveNewRequest() {
			return c
		}
	}
	return nil
}

// add puts a new connection in the pool; it reports false when the pool
// is closed (the target drains or the transport was replaced): the caller
// uses the connection once.
func (p *h2Pool) add(c *h2Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns = append(p.conns, c)
	return true
}

// pruneLocked forgets connections that can take no new stream: closed
// ones, and draining ones (GOAWAY, do-not-reuse), closing those without
// streams; the client connection finishes the others' streams and
// closes them after the last.
func (p *h2Pool) pruneLocked() {
	p.conns = slices.DeleteFunc(p.conns, func(c *h2Conn) bool {
		st := c.cc.State()
		if st.Closing && !st.Closed && st.StreamsActive == 0 && st.StreamsReserved == 0 {
			c.cc.Close()
		}
		return st.Closed || st.Closing
	})
}

// reap drops closed connections; idle ones close themselves after the
// transport's idle timeout.
func (p *h2Pool) reap() {
	p.mu.Lock()
	p.pruneLocked()
	p.mu.Unlock()
}

// close refuses new connections and drains the pool's: idle ones close
// now, busy ones when their last stream ends.
func (p *h2Pool) close() {
	p.mu.Lock()
	conns := p.conns
	p.conns, p.closed = nil, true
	p.mu.Unlock()
	for _, c := range conns {
		c.cc.SetDoNotReuse()
		if c.cc.State().StreamsActive == 0 {
			c.cc.Close()
		}
	}
}

// watchConn is a target connection that watches the frames the target
// sends for GOAWAY (RFC 9113 §6.8), whose last-stream-id tells which
// streams the target never processed: the client connection keeps it to
// itself.
type watchConn struct {
	net.Conn
	// frame parsing state, touched only by the connection's reader.
	hdr      [9]byte
	hn       int
	left     int
	isGoAway bool
	gbuf     [8]byte
	gn       int
	mu       sync.Mutex
	seen     bool
	lastID   uint32
	code     http2.ErrCode
}

// Read reads from the target and watches the frames read.
func (w *watchConn) Read(p []byte) (int, error) {
	n, err := w.Conn.Read(p)
	w.feed(p[:n])
	return n, err
}

func (w *watchConn) feed(p []byte) {
	for len(p) > 0 {
		if w.hn < len(w.hdr) {
			k := copy(w.hdr[w.hn:], p)
			w.hn += k
			p = p[k:]
			if w.hn < len(w.hdr) {
				return
			}
			w.left = int(w.hdr[0])<<16 | int(w.hdr[1])<<8 | int(w.hdr[2])
			w.isGoAway = http2.FrameType(w.hdr[3]) == http2.FrameGoAway
			w.gn = 0
			if w.left == 0 {
				w.hn = 0
			}
			continue
		}
		k := min(w.left, len(p))
		if w.isGoAway && w.gn < len(w.gbuf) {
			g := copy(w.gbuf[w.gn:], p[:k])
			w.gn += g
			if w.gn == len(w.gbuf) {
				w.mu.Lock()
				w.seen = true
				w.lastID = binary.BigEndian.Uint32(w.gbuf[:4]) & (1<<31 - 1)
				w.code = http2.ErrCode(binary.BigEndian.Uint32(w.gbuf[4:]))
				w.mu.Unlock()
			}
		}
		w.left -= k
		p = p[k:]
		if w.left == 0 {
			w.hn = 0
		}
	}
}

func (w *watchConn) goAway() (uint32, http2.ErrCode, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastID, w.code, w.seen
}
