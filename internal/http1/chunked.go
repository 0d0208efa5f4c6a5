package http1

import (
	"bytes"
	"strconv"

	"github.com/fulcrumlb/fulcrum/internal/desync"
)

// ChunkedDecoder decodes a chunked body (RFC 9112 §7.1) incrementally.
// Feed it the bytes after the head; chunk extensions are checked and
// dropped, trailer fields are checked and dropped (the forwarder re-frames
// the body and writes no trailers of its own) unless KeepTrailer is set.
// The zero value is ready.
type ChunkedDecoder struct {
	// KeepTrailer keeps the trailer section's bytes for Trailer (a
	// response's trailers are forwarded, RFC 9110 §6.5). Keeping them
	// allocates; without trailers nothing is kept.
	KeepTrailer bool
	trailer     []byte
	state       uint8
	remain      uint64 // data bytes left in the current chunk
	line        int    // bytes of the current size or trailer line seen so far
	digits      bool   // the size line has its hex digits
	ext         bool   // in the size line's extensions (or its CR)
	done        bool
}

const (
	chSize uint8 = iota
	chData
	chDataCRLF
	chTrailer
)

var (
	errChunk     = &Error{KindMalformed, "chunk"}
	errChunkLine = &Error{KindMalformed, "chunk size line"}
)

// maxChunkLine bounds a chunk-size line with its extensions, or a
// trailer line, in bytes.
const maxChunkLine = 4096

// maxTrailer bounds a kept trailer section, in bytes.
const maxTrailer = 32 << 10

// Trailer returns the trailer fields kept with KeepTrailer once Done, in
// order, names and values as received (OWS trimmed); fields whose name is
// not a token, or whose value has a control byte, are left out (RFC 9110
// §6.5.1: a recipient may discard trailers it cannot process). The slices
// point into the decoder's own copy, valid until Reset.
func (d *ChunkedDecoder) Trailer(dst []desync.Header) []desync.Header {
	for t := d.trailer; len(t) > 0; {
		line := t
		if i := bytes.IndexByte(t, '\n'); i >= 0 {
			line, t = t[:i], t[i+1:]
		} else {
			t = nil
		}
		c := bytes.IndexByte(line, ':')
		if c <= 0 || !isToken(line[:c]) {
			continue
		}
		if v := trimOWS(line[c+1:]); validValue(v) {
			dst = append(dst, desync.Header{Name: line[:c], Value: v})
		}
	}
	return dst
}

// Reset readies the decoder for another body, keeping KeepTrailer and the
// trailer buffer's memory.
func (d *ChunkedDecoder) Reset() {
	*d = ChunkedDecoder{KeepTrailer: d.KeepTrailer, trailer: d.trailer[:0]}
}

// Done reports whether the last chunk and the trailer section were read.
func (d *ChunkedDecoder) Done() bool { return d.done }

// Decode consumes bytes from in. It returns a view of chunk data in in
// (possibly empty) and how many bytes of in it used; call it again with
// in[n:] until n is 0 (more input is needed) or Done. Errors are *Error
// with KindMalformed (400). It does not allocate.
func (d *ChunkedDecoder) Decode(in []byte) (data []byte, n int, err error) {
	for n < len(in) && !d.done {
		switch d.state {
		case chSize:
			c := in[n]
			n++
			d.line++
			if d.line > maxChunkLine {
				return nil, n, errChunkLine
			}
			switch {
			case c == '\n':
				if !d.digits {
					return nil, n, errChunkLine
				}
				d.line, d.digits, d.ext = 0, false, false
				if d.remain == 0 {
					d.state = chTrailer
				} else {
					d.state = chData
				}
			case d.ext:
				// chunk-ext (RFC 9112 §7.1.1): dropped, but no CTL but HTAB and CR.
				if c < ' ' && c != '\t' && c != '\r' || c == 0x7f {
					return nil, n, errChunkLine
				}
			case isHex(c) && !d.ext:
				if d.remain>>59 != 0 {
					return nil, n, errChunk // over 2^63 bytes
				}
				d.remain = d.remain<<4 | uint64(unhex(c))
				d.digits = true
			case d.digits && (c == ';' || c == ' ' || c == '\t' || c == '\r'):
				d.ext = true
			default:
				return nil, n, errChunkLine
			}
		case chData:
			k := uint64(len(in) - n)
			if k > d.remain {
				k = d.remain
			}
			data = in[n : n+int(k)]
			n += int(k)
			d.remain -= k
			if d.remain == 0 {
				d.state = chDataCRLF
			}
			return data, n, nil
		case chDataCRLF:
			c := in[n]
			n++
			if c == '\r' && d.line == 0 {
				d.line = 1
				continue
			}
			if c != '\n' {
				return nil, n, errChunk
			}
			d.line = 0
			d.state = chSize
		case chTrailer:
			c := in[n]
			n++
			if c == '\n' {
				if d.line == 0 {
					d.done = true
				} else if d.KeepTrailer {
					d.trailer = append(d.trailer, '\n')
				}
				d.line = 0
				continue
			}
			if c == '\r' {
				continue // line content is counted without CR
			}
			d.line++
			if d.line > maxChunkLine || c == 0 {
				return nil, n, errChunk
			}
			if d.KeepTrailer {
				if len(d.trailer) >= maxTrailer {
					return nil, n, errChunk
				}
				d.trailer = append(d.trailer, c)
			}
		}
	}
	return nil, n, nil
}

func isHex(c byte) bool { return isDigit(c) || 'a' <= c|0x20 && c|0x20 <= 'f' }

func unhex(c byte) byte {
	if isDigit(c) {
		return c - '0'
	}
	return c | 0x20 - 'a' + 10
}

// AppendChunk appends data as one chunk (size line, data, CRLF) to dst.
// Empty data appends nothing: the last chunk is AppendLastChunk.
func AppendChunk(dst, data []byte) []byte {
	if len(data) == 0 {
		return dst
	}
	dst = strconv.AppendUint(dst, uint64(len(data)), 16)
	dst = append(dst, '\r', '\n')
	dst = append(dst, data...)
	return append(dst, '\r', '\n')
}

// AppendLastChunk appends the last chunk and an empty trailer section.
func AppendLastChunk(dst []byte) []byte { return append(dst, "0\r\n\r\n"...) }
