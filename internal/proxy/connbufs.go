package proxy

import (
	"bufio"
	"sync"
)

// connBufs lends target connections their 4 KiB read and write buffers
// for the time of a request, as HAProxy and nginx give buffers to a
// stream rather than to a connection: an idle pooled connection holds
// none. With 1,000 targets and two loops about 2,000 connections idle in
// the pools; owning 8 KiB each, every request touched a cold 8 KiB, and
// the pools held 16 MiB. A Transport's conns share one connBufs; a nil
// *connBufs makes buffers without lending (tests).
type connBufs struct {
	readers, writers sync.Pool
}

// reader returns c's read buffer, lent when c has none: from the free
// list of the loop c's socket is on (looplocal.go), else the pool.
func (c *backendConn) reader() *bufio.Reader {
	if c.br == nil {
		if b, ok := take(c.free(), targetReadersOf); ok {
			b.Reset(&c.lim)
			c.br = b
		} else if b, ok := c.bufs.get(false).(*bufio.Reader); ok {
			b.Reset(&c.lim)
			c.br = b
		} else {
			c.br = bufio.NewReaderSize(&c.lim, 4096)
		}
	}
	return c.br
}

// writer returns c's write buffer, lent when c has none.
func (c *backendConn) writer() *bufio.Writer {
	if c.bw == nil {
		if b, ok := take(c.free(), targetWritersOf); ok {
			b.Reset(countingWriter{c})
			c.bw = b
		} else if b, ok := c.bufs.get(true).(*bufio.Writer); ok {
			b.Reset(countingWriter{c})
			c.bw = b
		} else {
			c.bw = bufio.NewWriterSize(countingWriter{c}, 4096)
		}
	}
	return c.bw
}

// releaseWriter gives the write buffer back once it holds nothing (after
// the request's last flush).
func (c *backendConn) releaseWriter() {
	if c.bw != nil && c.bw.Buffered() == 0 && c.bufs != nil {
		c.bw.Reset(nil)
		if !keep(c.free(), targetWritersOf, c.bw, loopFreeSmall) {
			c.bufs.writers.Put(c.bw)
		}
		c.bw = nil
	}
}

// releaseReader gives the read buffer back once it holds nothing (the
// response was read to its end and nothing followed it).
func (c *backendConn) releaseReader() {
	if c.br != nil && c.br.Buffered() == 0 && c.bufs != nil {
		c.br.Reset(nil)
		if !keep(c.free(), targetReadersOf, c.br, loopFreeSmall) {
			c.bufs.readers.Put(c.br)
		}
		c.br = nil
	}
}

// free returns the free lists of the loop c's socket is on, nil when it
// is on the Go netpoller or c lends nothing (nil bufs, as in tests). A
// target connection on a loop is used only by that loop's tasks (a
// request's exchange stays on the loop it began on; another loop takes
// an idle one over with netloop.Conn.Claim, which moves its socket).
func (c *backendConn) free() *loopFree {
	if c.bufs == nil {
		return nil
	}
	return freeOf(loopOfConn(c.Conn))
}

// get returns a lent writer (write) or reader, or nil when there is none
// to lend.
func (b *connBufs) get(write bool) any {
	switch {
	case b == nil:
		return nil
	case write:
		return b.writers.Get()
	}
	return b.readers.Get()
}
