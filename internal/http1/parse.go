// Package http1 is Fulcrum's HTTP/1.1 request parser (RFC 9112).
//
// Design for the connection loop: the loop owns one Request per client
// connection and a read buffer. When bytes arrive it calls Parse on the
// unread part of the buffer. ErrIncomplete means "read more" (the caller
// enforces the request header timeout and answers 408); an *Error gives the
// answer status; success gives the head's length, after which the body
// (Content-Length bytes, or the chunked body through ChunkedDecoder) follows
// in the same buffer, and a pipelined request after it. Nothing here blocks,
// reads from an io.Reader or starts a goroutine, so the same code serves a
// goroutine per connection or an epoll event loop (issue 15).
//
// Every slice in a Request is a view into the caller's buffer and is valid
// until the buffer is reused. Parse may rewrite obs-fold line breaks in the
// buffer to spaces (RFC 9112 §5.2).
package http1

import (
	"bytes"

	"github.com/fulcrumlb/fulcrum/internal/desync"
)

// MaxHeaders is the most header fields any Limits may allow.
const MaxHeaders = 128

// inlineHeaders is how many header fields a Request or Response holds
// without allocating again; more grow the slice (browsers send 10 to 25).
// The array is made on a Request's or Response's first parse and kept
// apart from the struct, so that resetting the struct for each head
// zeroes its few words, not the array's 1.5 KB; the fields the previous
// head used are cleared instead (resetHeaders).
const inlineHeaders = 32

// resetHeaders returns the inline field array to parse into: made when
// hdr is nil, else with the n entries the previous head used cleared, so
// the array holds no view of an old buffer.
func resetHeaders(hdr *[inlineHeaders]desync.Header, n int) *[inlineHeaders]desync.Header {
	if hdr == nil {
		return new([inlineHeaders]desync.Header)
	}
	clear(hdr[:min(n, inlineHeaders)])
	return hdr
}

// Limits bounds a request head. Zero fields take the defaults below.
type Limits struct {
	MaxHeaderBytes int // request line and header fields, bytes; default 65536
	MaxHeaders     int // header fields, count; default and cap MaxHeaders
	MaxURIBytes    int // request target, bytes; default 8192
}

func (l Limits) withDefaults() Limits {
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = 64 << 10
	}
	if l.MaxHeaders <= 0 || l.MaxHeaders > MaxHeaders {
		l.MaxHeaders = MaxHeaders
	}
	if l.MaxURIBytes <= 0 {
		l.MaxURIBytes = 8 << 10
	}
	return l
}

// Request is one parsed request head. Reuse it across requests; Parse
// resets it.
type Request struct {
	Method, Target, Version []byte
	Minor                   int // 0 or 1: HTTP/1.Minor
	// Host is the authority: from an absolute-form target, else the Host
	// field (RFC 9112 §3.2.2).
	Host []byte
	// ContentLength is the body length in bytes, -1 when absent or when
	// the body is chunked.
	ContentLength int64
	Chunked       bool // the final transfer coding is chunked
	// Codings is true when registered transfer codings other than chunked
	// (gzip, deflate, compress, x-gzip, x-compress) come before the final
	// chunked; AppendCodings lists them. Fulcrum decodes only the chunked
	// framing: the coded content is forwarded as it came.
	Codings bool
	// HadContentLength and HadTransferEncoding record framing fields as
	// received, for classification even when one is ignored.
	HadContentLength, HadTransferEncoding bool
	Expect100                             bool // Expect: 100-continue
	Close                                 bool // the connection closes after this exchange
	keepAlive10                           bool
	absHost                               []byte
	Headers                               []desync.Header
	hdr                                   *[inlineHeaders]desync.Header
}

// Classify returns the request's desync verdict (see package desync).
func (r *Request) Classify() desync.Verdict {
	d := desync.Request{Method: r.Method, Target: r.Target, Version: r.Version, Headers: r.Headers}
	return desync.Classify(&d)
}

// Parse parses one request head at the start of buf (leading empty lines,
// RFC 9112 §2.2, are skipped). It returns the number of bytes the head
// used, ErrIncomplete when more bytes are needed, or an *Error.
// It does not allocate for a head of up to 32 fields, after r's first
// parse.
func Parse(buf []byte, r *Request, lim Limits) (int, error) {
	lim = lim.withDefaults()
	hdr := resetHeaders(r.hdr, len(r.Headers))
	*r = Request{ContentLength: -1, Headers: hdr[:0], hdr: hdr}
	start := 0
	for start < len(buf) && (buf[start] == '\r' || buf[start] == '\n') {
		start++
	}
	p := start
	line, next, ok := nextLine(buf, p)
	if !ok {
		if len(buf)-start > lim.MaxURIBytes+32 {
			return 0, errURITooBig
		}
		if len(buf)-start > lim.MaxHeaderBytes {
			return 0, errTooLarge
		}
		return 0, ErrIncomplete
	}
	if err := parseLine(line, r, lim); err != nil {
		return 0, err
	}
	p = next
	var cl []byte
	lastVal := 0 // offset in buf of the last field's value, for obs-fold
	for {
		line, next, ok = nextLine(buf, p)
		if !ok || next-start > lim.MaxHeaderBytes {
			if next-start > lim.MaxHeaderBytes || len(buf)-start > lim.MaxHeaderBytes {
				return 0, errTooLarge
			}
			return 0, ErrIncomplete
		}
		if len(line) == 0 {
			p = next
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			// obs-fold: join to the previous field with spaces.
			if len(r.Headers) == 0 {
				return 0, errFold
			}
			h := &r.Headers[len(r.Headers)-1]
			for i := p - 1; i >= 0 && (buf[i] == '\r' || buf[i] == '\n'); i-- {
				buf[i] = ' '
			}
			for i := p; i < len(buf) && (buf[i] == ' ' || buf[i] == '\t'); i++ {
				buf[i] = ' '
			}
			h.Value = trimOWS(buf[lastVal : p+len(line)])
			p = next
			continue
		}
		// An empty field name (": v", or "::x: v") is kept for the
		// classifier (desync EmptyHeader) and never forwarded.
		c := bytes.IndexByte(line, ':')
		if c < 0 {
			return 0, errField
		}
		if len(r.Headers) >= lim.MaxHeaders {
			return 0, errTooMany
		}
		name, val := line[:c], trimOWS(line[c+1:])
		lastVal = p + c + 1
		r.Headers = append(r.Headers, desync.Header{Name: name, Value: val})
		for _, b := range val {
			if b == 0 || b == '\r' || b == '\n' {
				// Refused, but the field is in r.Headers, so that
				// Classify names it (Severe, BadHeader).
				return 0, errField
			}
		}
		switch {
		case equalFold(name, "content-length"):
			if r.HadContentLength && !bytes.Equal(cl, val) {
				return 0, errCL
			}
			r.HadContentLength = true
			cl = val
		case equalFold(name, "transfer-encoding"):
			r.HadTransferEncoding = true
		case equalFold(name, "host"):
			if r.Host != nil {
				return 0, errHost
			}
			r.Host = val
		case equalFold(name, "expect"):
			r.Expect100 = equalFold(val, "100-continue")
		case equalFold(name, "connection"):
			if hasToken(val, "close") {
				r.Close = true
			} else if r.Minor == 0 && hasToken(val, "keep-alive") {
				r.keepAlive10 = true
			}
		}
		p = next
	}
	return p, r.finish(cl)
}
