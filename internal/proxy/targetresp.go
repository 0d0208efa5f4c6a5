package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unsafe"

	"github.com/fulcrumlb/fulcrum/internal/desync"
	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/http1"
	"github.com/fulcrumlb/fulcrum/internal/netloop"
)

// maxReusedHead is the longest response head, in bytes, readResponse
// copies into the connection's reused buffer; a longer one gets a string
// of its own, so a rare large head does not stay with an idle connection.
const maxReusedHead = 4 << 10

// readResponse reads one response head from a target connection with
// Fulcrum's own parser (http1.ParseResponse) into x.respv, and readies
// x.body for its body. The head is copied once, into one string that every
// header key and value is a substring of. On an HTTP/1.1 client
// connection that string is the connection's reused head buffer
// (attemptSpace.head, x.head), not a new allocation: it and its
// substrings are valid until the connection's next readResponse, and
// what outlives the request (a record field, a metric label) is cloned. The fields go to x.fields in the
// target's order (respfields.go); x.respv.Header stays nil until
// exchange.header builds it, which a plain HTTP/1.1 forward never needs.
//
// The header is what net/http's reader would give, so the handler
// and the client side need not care which reader ran: canonical keys;
// no Transfer-Encoding; no Content-Length on a chunked or Transfer-Encoded
// body (RFC 9112 §6.3: Transfer-Encoding wins); the Trailer field moved to
// Response.Trailer's keys on a chunked body. method is the request's
// (a HEAD response has no body, RFC 9110 §9.3.2).
//
// Errors: io.ErrUnexpectedEOF when the connection ends inside the head (or
// io.EOF before any byte of it), the read error, failure.ErrHeaderTooLarge
// past headerLimit, or an *http1.Error for a malformed head (classified
// http_protocol_error, 502).
func readResponse(c *backendConn, method string, x *exchange) (*http.Response, error) {
	pr := x.parsed
	if pr == nil {
		if c.head == nil {
			c.head = new(http1.Response)
		}
		pr = c.head
	}
	if lc, ok := c.Conn.(*netloop.Conn); ok && c.br == nil {
		// Take the lent read buffer once the response's first bytes are
		// there, not while the target thinks: at 200 busy connections
		// the buffers in use fall from one per connection to the few
		// being read (connbufs.go).
		lc.AwaitReadable()
	}
	head, n, inReader, err := readHead(c.reader(), pr)
	if err != nil {
		if c.lim.exceeded {
			err = fmt.Errorf("%w: %w", failure.ErrHeaderTooLarge, err)
		}
		return nil, err
	}
	var s string
	if x.head != nil && n <= maxReusedHead {
		// The connection's own buffer: no allocation per response, which
		// was a third of the bytes a proxied GET allocated.
		buf := append((*x.head)[:0], head[:n]...)
		*x.head = buf
		s = unsafe.String(unsafe.SliceData(buf), n)
	} else {
		s = string(head[:n])
	}
	if inReader {
		c.br.Discard(n)
	}
	sub := func(b []byte) string {
		if len(b) == 0 {
			return ""
		}
		off := cap(head) - cap(b)
		return s[off : off+len(b)]
	}
	resp := &x.respv
	*resp = http.Response{StatusCode: pr.Status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: pr.Minor, Close: pr.Close}
	if pr.Minor == 0 {
		resp.Proto = "HTTP/1.0"
	}
	// Status is "200 OK" as net/http has it: the status line after the
	// version.
	if line := strings.IndexByte(s, '\n'); line > 9 {
		resp.Status = strings.TrimRight(s[9:line], "\r")
	}
	teBody := pr.Chunked || pr.Close && pr.ContentLength < 0 && hasField(pr.Headers, "transfer-encoding")
	var trailerKeys []string
	x.fields = x.fieldsBuf[:0]
	for _, f := range pr.Headers {
		k := canonicalKey(f.Name, sub)
		switch k {
		case "Transfer-Encoding":
			continue
		case "Content-Length":
			if teBody {
				continue
			}
		case "Trailer":
			if pr.Chunked {
				trailerKeys = append(trailerKeys, sub(f.Value))
				continue
			}
		}
		x.fields = append(x.fields, respField{k, sub(f.Value)})
	}
	if len(trailerKeys) > 0 {
		resp.Trailer = http.Header{}
		for _, v := range trailerKeys {
			for k := range strings.SplitSeq(v, ",") {
				switch k = http.CanonicalHeaderKey(strings.TrimSpace(k)); k {
				case "", "Transfer-Encoding", "Trailer", "Content-Length":
				default:
					resp.Trailer[k] = nil
				}
			}
		}
	}
	b := &x.body
	*b = targetBody{br: c.br, resp: resp, chunk: b.chunk}
	switch {
	case pr.NoBody([]byte(method)):
		b.kind, resp.ContentLength = bodyNone, 0
		if method == http.MethodHead && pr.ContentLength >= 0 {
			resp.ContentLength = pr.ContentLength
		}
	case pr.Chunked:
		b.kind, resp.ContentLength = bodyChunked, -1
		b.chunk.KeepTrailer = true
		b.chunk.Reset()
	case pr.ContentLength >= 0:
		b.kind, b.left, resp.ContentLength = bodySized, pr.ContentLength, pr.ContentLength
	default:
		b.kind, resp.ContentLength, resp.Close = bodyUntilClose, -1, true
	}
	return resp, nil
}

// readHead returns a buffer that starts with a complete response head and
// the head's length, parsed into pr. The buffer is the reader's own
// (bufio.Reader.Peek: nothing copied) when the head fits in it, which is
// the common case (inReader: the caller then discards n bytes). A larger
// head is read line by line into a new buffer, so the body stays in the
// reader.
func readHead(br *bufio.Reader, pr *http1.Response) (head []byte, n int, inReader bool, err error) {
	lim := http1.Limits{MaxHeaderBytes: headerLimit}
	for want := 1; ; {
		buf, err := br.Peek(want)
		if err != nil && len(buf) < want {
			if errors.Is(err, bufio.ErrBufferFull) {
				head, n, err := readBigHead(br, pr, lim)
				return head, n, false, err
			}
			if errors.Is(err, io.EOF) && br.Buffered() > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, 0, false, err
		}
		buf, _ = br.Peek(br.Buffered())
		n, perr := http1.ParseResponse(buf, pr, lim)
		switch {
		case perr == nil:
			return buf, n, true, nil
		case perr != http1.ErrIncomplete:
			return nil, 0, false, headError(perr)
		}
		want = len(buf) + 1
	}
}

// readBigHead reads a head larger than the reader's buffer, line by line,
// so that the reader is left just after it.
func readBigHead(br *bufio.Reader, pr *http1.Response, lim http1.Limits) ([]byte, int, error) {
	var head []byte
	for {
		line, err := br.ReadSlice('\n')
		head = append(head, line...)
		if len(head) > headerLimit {
			return nil, 0, fmt.Errorf("%w: %d bytes and more", failure.ErrHeaderTooLarge, len(head))
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			return nil, 0, io.ErrUnexpectedEOF
		case err != nil:
			return nil, 0, err
		}
		if string(line) == "\n" || string(line) == "\r\n" {
			break
		}
	}
	n, err := http1.ParseResponse(head, pr, lim)
	if err != nil {
		return nil, 0, headError(err)
	}
	return head, n, nil
}

// headError marks a head past headerLimit as failure.ErrHeaderTooLarge
// (http_response_header_section_size); other parse errors stay
// *http1.Error (http_protocol_error).
func headError(err error) error {
	var pe *http1.Error
	if errors.As(err, &pe) && pe.Kind == http1.KindHeaderTooLarge {
		return fmt.Errorf("%w: %w", failure.ErrHeaderTooLarge, err)
	}
	return fmt.Errorf("malformed response head: %w", err)
}

func hasField(h []desync.Header, lower string) bool {
	for i := range h {
		if len(h[i].Name) == len(lower) && strings.EqualFold(string(h[i].Name), lower) {
			return true
		}
	}
	return false
}

// bodyKind is how a response body is delimited (RFC 9112 §6.3).
type bodyKind uint8

const (
	bodyNone       bodyKind = iota // HEAD, 1xx, 204, 304
	bodySized                      // Content-Length
	bodyChunked                    // chunked: decoded here, re-framed by the client side
	bodyUntilClose                 // read until the target closes
)

// targetBody reads a response body from a target connection. It is part
// of the exchange, so reading a body allocates nothing but a trailer
// section's copy.
type targetBody struct {
	br    *bufio.Reader
	resp  *http.Response
	kind  bodyKind
	left  int64 // bodySized: bytes still to read
	chunk http1.ChunkedDecoder
	done  bool
}

// Read returns body bytes, io.EOF at the end, io.ErrUnexpectedEOF when
// the target closed inside a sized or chunked body, or the read error.
// A malformed chunked body is an *http1.Error.
func (b *targetBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	switch b.kind {
	case bodyNone:
		b.done = true
		return 0, io.EOF
	case bodySized:
		if b.left == 0 {
			b.done = true
			return 0, io.EOF
		}
		if int64(len(p)) > b.left {
			p = p[:b.left]
		}
		n, err := b.br.Read(p)
		b.left -= int64(n)
		if errors.Is(err, io.EOF) {
			if b.left > 0 {
				return n, io.ErrUnexpectedEOF
			}
			err = nil
		}
		return n, err
	case bodyChunked:
		return b.readChunked(p)
	}
	n, err := b.br.Read(p)
	if errors.Is(err, io.EOF) {
		b.done = true
	}
	return n, err
}

func (b *targetBody) readChunked(p []byte) (int, error) {
	for len(p) > 0 {
		if b.chunk.Done() {
			b.done = true
			b.trailers()
			return 0, io.EOF
		}
		if b.br.Buffered() == 0 {
			if _, err := b.br.Peek(1); err != nil {
				if errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				return 0, err
			}
		}
		in, _ := b.br.Peek(b.br.Buffered())
		if len(in) > len(p) {
			in = in[:len(p)] // the data returned fits in p
		}
		data, n, err := b.chunk.Decode(in)
		copy(p, data)
		b.br.Discard(n)
		if err != nil {
			return 0, err
		}
		if len(data) > 0 {
			return len(data), nil
		}
	}
	return 0, nil
}

// trailers sets the chunked body's trailer fields in resp.Trailer, as
// net/http's reader does: every field, announced or not.
func (b *targetBody) trailers() {
	fields := b.chunk.Trailer(nil)
	if len(fields) == 0 {
		return
	}
	if b.resp.Trailer == nil {
		b.resp.Trailer = http.Header{}
	}
	for _, f := range fields {
		k := http.CanonicalHeaderKey(string(f.Name))
		b.resp.Trailer[k] = append(b.resp.Trailer[k], string(f.Value))
	}
}

// Close implements io.Closer; the exchange closes the connection.
func (b *targetBody) Close() error { return nil }
