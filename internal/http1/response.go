package http1

import (
	"bytes"

	"github.com/fulcrumlb/fulcrum/internal/desync"
)

// MaxResponseHeaders is the most header fields ParseResponse accepts in a
// response head when Limits.MaxHeaders is zero. The first 32 fields cost
// no allocation.
const MaxResponseHeaders = 1024

// Response is one parsed response head from a target (RFC 9112 §4). Reuse
// it across responses; ParseResponse resets it. Every slice is a view
// into the caller's buffer, valid until the buffer is reused.
type Response struct {
	Minor  int // 0 or 1: HTTP/1.Minor
	Status int // 100-999
	// Reason is the reason phrase, possibly empty.
	Reason []byte
	// ContentLength is the Content-Length in bytes, -1 when absent or
	// when the body is chunked or ends with the connection.
	ContentLength int64
	// Chunked means the final transfer coding is chunked. A response
	// with a Transfer-Encoding whose final coding is not chunked is read
	// until the connection closes (RFC 9112 §6.3 item 4): Chunked is
	// false, ContentLength -1 and Close true.
	Chunked bool
	// Codings is true when codings other than chunked come before it.
	Codings bool
	// Close is true when the connection cannot carry another exchange:
	// Connection: close, HTTP/1.0 without Connection: keep-alive, a body
	// that ends with the connection, or a message with both
	// Transfer-Encoding and Content-Length (RFC 9112 §6.1: an
	// intermediary ought to treat it as an error; Fulcrum reads it by
	// Transfer-Encoding and does not reuse the connection).
	Close bool
	// Headers are the fields in order, with OWS trimmed from values.
	Headers []desync.Header
	hdr     *[inlineHeaders]desync.Header
}

// Preallocated response errors. Read only.
var (
	errStatusLine = &Error{KindMalformed, "status line"}
	errRespField  = &Error{KindMalformed, "response header field"}
	errRespCL     = &Error{KindMalformed, "response Content-Length"}
)

// ParseResponse parses one response head at the start of buf. It returns
// the number of bytes the head used, ErrIncomplete when more bytes are
// needed, or an *Error: KindMalformed for a bad status line, a field name
// that is not a token, a value with a control byte other than HTAB, or
// conflicting Content-Length values; KindHeaderTooLarge past
// lim.MaxHeaderBytes (default 64 KiB) or lim.MaxHeaders (default
// MaxResponseHeaders). obs-fold is replaced by spaces in buf, as RFC 9112
// §5.2 lets a proxy do. A bare LF ends a line (§2.2).
//
// Whether a body follows is the caller's to decide with NoBody: the
// status and the request method matter (RFC 9112 §6.3).
// It does not allocate for up to 32 fields, after r's first parse.
func ParseResponse(buf []byte, r *Response, lim Limits) (int, error) {
	maxBytes, maxFields := lim.MaxHeaderBytes, lim.MaxHeaders
	if maxBytes <= 0 {
		maxBytes = 64 << 10
	}
	if maxFields <= 0 {
		maxFields = MaxResponseHeaders
	}
	hdr := resetHeaders(r.hdr, len(r.Headers))
	*r = Response{ContentLength: -1, Headers: hdr[:0], hdr: hdr}
	line, p, ok := nextLine(buf, 0)
	if !ok {
		if len(buf) > maxBytes {
			return 0, errTooLarge
		}
		return 0, ErrIncomplete
	}
	if err := parseStatusLine(line, r); err != nil {
		return 0, err
	}
	var cl []byte
	hadCL, hadTE, keepAlive := false, false, false
	lastVal := 0
	for {
		line, next, ok := nextLine(buf, p)
		if !ok || next > maxBytes {
			if next > maxBytes || len(buf) > maxBytes {
				return 0, errTooLarge
			}
			return 0, ErrIncomplete
		}
		if len(line) == 0 {
			p = next
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(r.Headers) == 0 {
				return 0, errFold
			}
			h := &r.Headers[len(r.Headers)-1]
			for i := p - 1; i >= 0 && (buf[i] == '\r' || buf[i] == '\n'); i-- {
				buf[i] = ' '
			}
			h.Value = trimOWS(buf[lastVal : p+len(line)])
			if !validValue(h.Value) {
				return 0, errRespField
			}
			p = next
			continue
		}
		c := bytes.IndexByte(line, ':')
		if c <= 0 || !isToken(line[:c]) {
			return 0, errRespField
		}
		if len(r.Headers) >= maxFields {
			return 0, errTooMany
		}
		name, val := line[:c], trimOWS(line[c+1:])
		if !validValue(val) {
			return 0, errRespField
		}
		lastVal = p + c + 1
		r.Headers = append(r.Headers, desync.Header{Name: name, Value: val})
		switch {
		case equalFold(name, "content-length"):
			if hadCL && !bytes.Equal(cl, val) {
				return 0, errRespCL
			}
			hadCL, cl = true, val
		case equalFold(name, "transfer-encoding"):
			hadTE = true
		case equalFold(name, "connection"):
			if hasToken(val, "close") {
				r.Close = true
			} else if hasToken(val, "keep-alive") {
				keepAlive = true
			}
		}
		p = next
	}
	if r.Minor == 0 && !keepAlive {
		r.Close = true
	}
	if hadTE {
		r.framingTE()
		if hadCL {
			r.Close = true
		}
		return p, nil
	}
	if hadCL {
		n, ok := parseLength(cl)
		if !ok {
			return 0, errRespCL
		}
		r.ContentLength = n
	}
	return p, nil
}

// parseStatusLine parses "HTTP-version SP status-code SP [reason-phrase]"
// (RFC 9112 §4). A missing space and reason after the code is accepted,
// as most clients do.
func parseStatusLine(line []byte, r *Response) error {
	if len(line) < 12 || string(line[:5]) != "HTTP/" || line[5] != '1' || line[6] != '.' || !isDigit(line[7]) || line[8] != ' ' {
		return errStatusLine
	}
	r.Minor = int(line[7] - '0')
	if r.Minor > 1 {
		r.Minor = 1
	}
	code := line[9:12]
	if !isDigit(code[0]) || !isDigit(code[1]) || !isDigit(code[2]) || code[0] == '0' {
		return errStatusLine
	}
	r.Status = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	if len(line) > 12 {
		if line[12] != ' ' {
			return errStatusLine
		}
		r.Reason = line[13:]
		if !validValue(r.Reason) {
			return errStatusLine
		}
	}
	return nil
}

// framingTE applies a response's Transfer-Encoding (RFC 9112 §6.3 item
// 4): chunked when it is the final coding, else the body ends with the
// connection.
func (r *Response) framingTE() {
	last := false
	for i := range r.Headers {
		h := &r.Headers[i]
		if !equalFold(h.Name, "transfer-encoding") {
			continue
		}
		for v := h.Value; len(v) > 0; {
			item, rest := nextCoding(v)
			v = rest
			switch {
			case len(item) == 0, equalFold(item, "identity"):
			case equalFold(item, "chunked"):
				last = true
			default:
				last = false
				r.Codings = true
			}
		}
	}
	if last {
		r.Chunked = true
	} else {
		r.Close = true
	}
}

// NoBody reports whether the response has no body whatever its framing
// fields say (RFC 9112 §6.3 items 1 and 2): a response to HEAD, a 1xx, a
// 204 or a 304, or a 2xx to CONNECT.
func (r *Response) NoBody(method []byte) bool {
	switch {
	case r.Status < 200, r.Status == 204, r.Status == 304:
		return true
	case equalFold(method, "head"):
		return true
	case r.Status < 300 && equalFold(method, "connect"):
		return true
	}
	return false
}

// Header returns the value of the first field named name (lower case),
// and whether there is one.
func (r *Response) Header(name string) ([]byte, bool) {
	for i := range r.Headers {
		if equalFold(r.Headers[i].Name, name) {
			return r.Headers[i].Value, true
		}
	}
	return nil, false
}

// validValue reports whether a field value has no control byte but HTAB
// (RFC 9110 §5.5: field-vchar, obs-text, SP and HTAB).
func validValue(v []byte) bool {
	for _, c := range v {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// parseLength parses a Content-Length value: 1*DIGIT, at most 2^63-1.
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if !isDigit(c) || n > (1<<63-1)/10 {
			return 0, false
		}
		n = n*10 + int64(c-'0')
		if n < 0 {
			return 0, false
		}
	}
	return n, true
}
