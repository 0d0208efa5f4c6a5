package http1

import (
	"strconv"

	"github.com/fulcrumlb/fulcrum/internal/desync"
)

// AppendRequest appends r's head, as it is forwarded, to dst: the request
// line with r.Version normalised to HTTP/1.1, every header field except
// Content-Length, Transfer-Encoding, their look-alikes
// (desync.LooksLikeFraming) and fields with an empty name, then exactly
// one framing field: Transfer-Encoding ending in chunked when r.Chunked,
// with the codings before it (AppendCodings; the caller re-frames the
// body with AppendChunk), else
// Content-Length when r.ContentLength > 0 or the method is one with a body
// and a length was sent. extra fields (e.g. X-Forwarded-For) follow. It
// does not allocate when dst has room.
func AppendRequest(dst []byte, r *Request, extra ...desync.Header) []byte {
	dst = append(dst, r.Method...)
	dst = append(dst, ' ')
	dst = append(dst, r.Target...)
	dst = append(dst, " HTTP/1.1\r\n"...)
	for _, h := range r.Headers {
		if len(h.Name) == 0 || desync.LooksLikeFraming(h.Name) {
			continue
		}
		dst = appendField(dst, h)
	}
	for _, h := range extra {
		dst = appendField(dst, h)
	}
	switch {
	case r.Chunked:
		dst = append(dst, "Transfer-Encoding: "...)
		if r.Codings {
			dst = append(r.AppendCodings(dst), ", "...)
		}
		dst = append(dst, "chunked\r\n"...)
	case r.ContentLength >= 0 && r.HadContentLength:
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, r.ContentLength, 10)
		dst = append(dst, '\r', '\n')
	}
	return append(dst, '\r', '\n')
}

func appendField(dst []byte, h desync.Header) []byte {
	dst = append(dst, h.Name...)
	dst = append(dst, ':', ' ')
	dst = append(dst, h.Value...)
	return append(dst, '\r', '\n')
}
