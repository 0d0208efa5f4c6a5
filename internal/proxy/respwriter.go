package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/http1"
	"github.com/fulcrumlb/fulcrum/internal/httpmsg"
)

// respWriter is the http.ResponseWriter of the connection loop: it writes
// HTTP/1.1 responses to the client connection through a pooled
// bufio.Writer. The status line and header go out with the first body
// bytes that do not fit its small holding buffer, at Flush, or when the
// handler returns; a response whose whole body was held gets a
// Content-Length, others are chunked (RFC 9112 §7.1) unless the handler
// set a length. HEAD, 1xx, 204 and 304 responses carry no body (RFC 9110
// §6.4.1). It also implements http.Flusher, http.Hijacker and the
// deadline methods http.ResponseController uses.
type respWriter struct {
	cc  *clientConn
	hdr http.Header
	// pass is the target's fields, forwarded in its order before hdr's
	// (respfields.go: passFields); nil when the response is all in hdr.
	pass []respField
	bw   *bufio.Writer

	status      int
	wroteHeader bool // the final status is chosen
	committed   bool // the status line and header are written
	head        bool // the request was HEAD
	minor       int  // the request's HTTP/1.minor
	closeAfter  bool // the connection closes after this response
	hijacked    bool
	chunked     bool
	noBody      bool
	cl          int64 // the declared Content-Length, -1 when none
	written     int64 // body bytes written
	trailers    []string
	held        []byte // body bytes held before commit
	err         error
	// idle bounds each write (the listener's idle_timeout): a client
	// that stops reading releases the target after it. The deadline
	// moves at most every idle/8, not per write.
	idle     time.Duration
	extended time.Time
	scratch  [64]byte
}

// holdLimit is how many body bytes are held to compute a Content-Length
// before the header is committed (net/http holds 2048).
const holdLimit = 2048

// extend moves the write deadline to now plus idle, when it was last
// moved more than idle/8 ago.
func (w *respWriter) extend() {
	if w.idle <= 0 {
		return
	}
	if now := w.cc.clock(); now.Sub(w.extended) > w.idle/8 {
		w.extended = now
		w.cc.c.SetWriteDeadline(now.Add(w.idle))
	}
}

func (w *respWriter) reset(req *httpmsg.Request, p *http1.Request, closeAfter bool) {
	switch {
	case w.hdr != nil:
		clear(w.hdr)
	default:
		// Given back while the connection was parked idle (lendBufs).
		if h, ok := take(w.cc.free(), headersOf); ok {
			w.hdr = h
		} else if h, ok := w.cc.cs.headers.Get().(http.Header); ok {
			w.hdr = h
		} else {
			w.hdr = make(http.Header, 16)
		}
	}
	w.pass = nil
	w.status, w.wroteHeader, w.committed, w.chunked, w.noBody = 0, false, false, false, false
	w.head = req.Method == http.MethodHead
	w.minor = p.Minor
	w.closeAfter = closeAfter
	w.cl, w.written, w.trailers, w.held, w.err = -1, 0, w.trailers[:0], w.held[:0], nil
	w.idle = w.cc.cs.h.routes.Load().edge.idle
}

// Header returns the response header map.
func (w *respWriter) Header() http.Header { return w.hdr }

// writer returns the buffered writer, taking one when needed: from the
// loop's free list (looplocal.go) or the listener's pool.
func (w *respWriter) writer() *bufio.Writer {
	if w.bw == nil {
		if bw, ok := take(w.cc.free(), writersOf); ok {
			w.bw = bw
			bw.Reset(w.cc.c)
		} else if bw, ok := w.cc.cs.writers.Get().(*bufio.Writer); ok {
			w.bw = bw
			bw.Reset(w.cc.c)
		} else {
			w.bw = bufio.NewWriterSize(w.cc.c, 4096)
		}
	}
	return w.bw
}

// flush sends the buffered bytes and gives the buffer back.
func (w *respWriter) flush() error {
	if w.bw == nil {
		return w.err
	}
	err := w.bw.Flush()
	w.bw.Reset(nil)
	if !keep(w.cc.free(), writersOf, w.bw, loopFreeSmall) {
		w.cc.cs.writers.Put(w.bw)
	}
	w.bw = nil
	if err != nil && w.err == nil {
		w.err = err
	}
	return w.err
}

// WriteHeader sends a 1xx interim response at once (103 Early Hints, RFC
// 8297), or chooses the final status; a second final status is ignored.
func (w *respWriter) WriteHeader(code int) {
	if w.hijacked || w.wroteHeader {
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.extend()
		bw := w.writer()
		w.writeStatusLine(bw, code)
		for k, vs := range w.hdr {
			for _, v := range vs {
				writeField(bw, k, v)
			}
		}
		bw.WriteString("\r\n")
		if err := bw.Flush(); err != nil && w.err == nil {
			w.err = err
		}
		return
	}
	w.wroteHeader, w.status = true, code
}

// interim relays a target's 1xx interim response (102, 103 Early
// Hints) to the client at once, hop-by-hop fields removed; the final
// response's header is not touched. It is the transport's outRequest.interim.
func (w *respWriter) interim(code int, h http.Header) {
	if w.wroteHeader || w.hijacked || w.err != nil {
		return
	}
	removeHopHeaders(h)
	w.extend()
	bw := w.writer()
	w.writeStatusLine(bw, code)
	for k, vs := range h {
		for _, v := range vs {
			writeField(bw, k, v)
		}
	}
	bw.WriteString("\r\n")
	if err := bw.Flush(); err != nil && w.err == nil {
		w.err = err
	}
}

// writeContinue sends "100 Continue" before the first body read.
func (w *respWriter) writeContinue() {
	w.extend()
	bw := w.writer()
	bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
	if err := bw.Flush(); err != nil && w.err == nil {
		w.err = err
	}
}

// commit writes the status line and header; done says the handler has
// returned, so held bytes are the whole body.
func (w *respWriter) commit(done bool) {
	if w.committed {
		return
	}
	w.committed = true
	if !w.wroteHeader {
		w.wroteHeader, w.status = true, http.StatusOK
	}
	code := w.status
	hdr := w.hdr
	w.noBody = code == http.StatusNoContent || code == http.StatusNotModified || code < 200
	if v := hdr["Content-Length"]; len(v) > 0 {
		if n, err := strconv.ParseInt(v[0], 10, 64); err == nil && n >= 0 {
			w.cl = n
		} else {
			delete(hdr, "Content-Length")
		}
	} else if i := fieldIndex(w.pass, "Content-Length"); i >= 0 {
		if n, err := strconv.ParseInt(w.pass[i].value, 10, 64); err == nil && n >= 0 {
			w.cl = n
		} else {
			w.dropLength()
		}
	}
	for _, k := range hdr["Trailer"] {
		for t := range strings.SplitSeq(k, ",") {
			if t = strings.TrimSpace(t); t != "" {
				w.trailers = append(w.trailers, http.CanonicalHeaderKey(t))
			}
		}
	}
	hasPrefixed := false
	for k := range hdr {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			hasPrefixed = true
			break
		}
	}
	delete(hdr, "Transfer-Encoding")
	switch {
	case w.noBody:
		if code == http.StatusNoContent || code < 200 {
			w.dropLength()
		}
		w.cl = -1
	case w.cl >= 0 && len(w.trailers) == 0:
	case done && w.cl < 0 && !hasPrefixed && len(w.trailers) == 0 && !w.head:
		w.cl = int64(len(w.held))
		hdr["Content-Length"] = []string{strconv.Itoa(len(w.held))}
	case w.head:
	case w.minor >= 1:
		w.dropLength()
		w.cl = -1
		w.chunked = true
	default:
		// An HTTP/1.0 client without a length: the body ends with the
		// connection (RFC 9112 §6.3).
		w.dropLength()
		w.cl = -1
		w.closeAfter = true
	}
	if !w.chunked {
		delete(hdr, "Trailer")
	}
	w.extend()
	bw := w.writer()
	w.writeStatusLine(bw, code)
	if _, ok := hdr["Date"]; !ok && fieldIndex(w.pass, "Date") < 0 {
		bw.Write(append(w.cc.cs.date.append(append(w.scratch[:0], "Date: "...), w.cc.clock()), "\r\n"...))
	}
	if !w.cc.body.done || w.cc.cs.isShutting() {
		// An unread body leaves the next request's start unknown.
		w.closeAfter = true
	}
	delete(hdr, "Connection")
	for _, f := range w.pass {
		if f.name != "" {
			writeField(bw, f.name, f.value)
		}
	}
	for k, vs := range hdr {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			continue
		}
		for _, v := range vs {
			writeField(bw, k, v)
		}
	}
	if w.chunked {
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	switch {
	case w.closeAfter:
		bw.WriteString("Connection: close\r\n")
	case w.minor == 0:
		bw.WriteString("Connection: keep-alive\r\n")
	}
	bw.WriteString("\r\n")
	if len(w.held) > 0 {
		held := w.held
		w.held = w.held[:0]
		w.writeBody(held)
	}
}

// dropLength removes every Content-Length field, Fulcrum's and the
// target's.
func (w *respWriter) dropLength() {
	delete(w.hdr, "Content-Length")
	for i := range w.pass {
		if w.pass[i].name == "Content-Length" {
			w.pass[i].name = ""
		}
	}
}

func (w *respWriter) writeStatusLine(bw *bufio.Writer, code int) {
	s := append(w.scratch[:0], "HTTP/1.1 "...)
	s = strconv.AppendInt(s, int64(code), 10)
	s = append(s, ' ')
	if t := http.StatusText(code); t != "" {
		s = append(s, t...)
	} else {
		s = append(s, "status code "...)
		s = strconv.AppendInt(s, int64(code), 10)
	}
	s = append(s, '\r', '\n')
	bw.Write(s)
}

// writeField writes one field; CR and LF in a value become spaces, so a
// handler's value can never split the header.
func writeField(bw *bufio.Writer, k, v string) {
	if strings.IndexByte(v, '\r') >= 0 || strings.IndexByte(v, '\n') >= 0 { // not ContainsAny: its set costs more than the scan
		v = strings.NewReplacer("\r", " ", "\n", " ").Replace(v)
	}
	if len(k)+len(v)+4 <= bw.Available() {
		// Appended into the free space: one Write, not four.
		b := append(bw.AvailableBuffer(), k...)
		b = append(b, ": "...)
		b = append(b, v...)
		bw.Write(append(b, "\r\n"...))
		return
	}
	bw.WriteString(k)
	bw.WriteString(": ")
	bw.WriteString(v)
	bw.WriteString("\r\n")
}

// writeBody writes body bytes with the response's framing.
func (w *respWriter) writeBody(p []byte) (int, error) {
	if w.noBody || w.head {
		return len(p), nil
	}
	bw := w.writer()
	if w.cl >= 0 {
		if left := w.cl - w.written; int64(len(p)) > left {
			n, _ := bw.Write(p[:left])
			w.written += int64(n)
			return n, http.ErrContentLength
		}
	}
	w.extend()
	if w.chunked {
		bw.Write(strconv.AppendUint(w.scratch[:0], uint64(len(p)), 16))
		bw.WriteString("\r\n")
	}
	n, err := bw.Write(p)
	if w.chunked {
		bw.WriteString("\r\n")
	}
	w.written += int64(n)
	if err != nil && w.err == nil {
		w.err = err
	}
	return n, w.err
}

// Write writes body bytes, choosing status 200 if none was.
func (w *respWriter) Write(p []byte) (int, error) {
	if w.hijacked {
		return 0, http.ErrHijacked
	}
	if w.err != nil {
		return 0, w.err
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !w.committed {
		if len(w.held)+len(p) <= holdLimit && w.hdr["Content-Length"] == nil && fieldIndex(w.pass, "Content-Length") < 0 {
			w.held = append(w.held, p...)
			return len(p), nil
		}
		w.commit(false)
		if w.err != nil {
			return 0, w.err
		}
	}
	return w.writeBody(p)
}

// Flush sends the header and any buffered body bytes (http.Flusher).
func (w *respWriter) Flush() { w.FlushError() }

// FlushError is Flush returning the write error (http.ResponseController).
func (w *respWriter) FlushError() error {
	if w.hijacked {
		return http.ErrHijacked
	}
	w.commit(false)
	if w.err != nil {
		return w.err
	}
	w.extend()
	if err := w.writer().Flush(); err != nil && w.err == nil {
		w.err = err
	}
	return w.err
}

// finish completes the response after the handler returned: the header
// if still held, the last chunk with the trailers, and a flush. A body
// shorter than its Content-Length closes the connection.
func (w *respWriter) finish() error {
	if w.hijacked {
		return nil
	}
	w.commit(true)
	if w.chunked && w.err == nil {
		bw := w.writer()
		bw.WriteString("0\r\n")
		for _, k := range w.trailers {
			for _, v := range w.hdr[k] {
				writeField(bw, k, v)
			}
		}
		for k, vs := range w.hdr {
			if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
				for _, v := range vs {
					writeField(bw, name, v)
				}
			}
		}
		bw.WriteString("\r\n")
	}
	if w.cl >= 0 && w.written < w.cl && !w.head && !w.noBody {
		w.closeAfter = true
	}
	return w.flush()
}

// SetReadDeadline sets the client connection's read deadline
// (http.ResponseController).
func (w *respWriter) SetReadDeadline(t time.Time) error { return w.cc.c.SetReadDeadline(t) }

// SetWriteDeadline sets the client connection's write deadline
// (http.ResponseController).
func (w *respWriter) SetWriteDeadline(t time.Time) error { return w.cc.c.SetWriteDeadline(t) }

// Hijack hands the connection to the handler (http.Hijacker): buffered
// response bytes are flushed, and bytes the client sent past the request
// are in the returned reader's buffer.
func (w *respWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.hijacked {
		return nil, nil, http.ErrHijacked
	}
	cc := w.cc
	cc.watch.disarm()
	if w.bw != nil {
		if err := w.flush(); err != nil {
			return nil, nil, err
		}
	}
	w.hijacked = true
	cc.cs.forget(cc)
	pending := append([]byte(nil), cc.buf[cc.r:cc.w]...)
	cc.r = cc.w
	br := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(pending), cc.c), max(len(pending), 4096))
	if len(pending) > 0 {
		if _, err := br.Peek(len(pending)); err != nil {
			return nil, nil, errors.Join(errors.New("hijack: buffered bytes lost"), err)
		}
	}
	return cc.c, bufio.NewReadWriter(br, bufio.NewWriter(cc.c)), nil
}
