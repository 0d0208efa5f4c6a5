package http1

import "bytes"

// nextLine returns the line starting at p without its terminator (CRLF,
// or a bare LF as RFC 9112 §2.2 allows), and the offset after it.
func nextLine(buf []byte, p int) (line []byte, next int, ok bool) {
	i := bytes.IndexByte(buf[p:], '\n')
	if i < 0 {
		return nil, len(buf), false
	}
	line = buf[p : p+i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, p + i + 1, true
}

// parseLine parses "method SP request-target SP HTTP-version" (RFC 9112 §3).
// The target is everything between the first and the last space, so an
// unescaped space stays in it for the classifier (SpaceInUri).
func parseLine(line []byte, r *Request, lim Limits) error {
	sp1 := bytes.IndexByte(line, ' ')
	sp2 := bytes.LastIndexByte(line, ' ')
	if sp1 <= 0 || sp2 <= sp1+1 {
		return errLine
	}
	r.Method, r.Target, r.Version = line[:sp1], line[sp1+1:sp2], line[sp2+1:]
	if !isToken(r.Method) {
		return errMethod
	}
	if len(r.Target) > lim.MaxURIBytes {
		return errURITooBig
	}
	// NUL and CR are refused (desync BadUri). Other control bytes (HTAB,
	// 0x01-0x1f, DEL) stay in the target for the classifier (AmbiguousUri)
	// and the listener's desync_mitigation_mode to decide, as ALB does:
	// the target ends at the last space either way, so the request line
	// forwarded is the one received.
	if bytes.IndexByte(r.Target, 0) >= 0 || bytes.IndexByte(r.Target, '\r') >= 0 {
		return errTarget
	}
	v := r.Version
	if len(v) != 8 || string(v[:5]) != "HTTP/" || v[6] != '.' || !isDigit(v[5]) || !isDigit(v[7]) {
		return errVersion
	}
	if v[5] != '1' {
		return errVersion5
	}
	r.Minor = int(v[7] - '0')
	if r.Minor > 1 {
		r.Minor = 1 // HTTP/1.x, x > 1: answer as 1.1 (RFC 9110 §6.2)
	}
	if len(r.Target) > 0 && r.Target[0] != '/' && !(len(r.Target) == 1 && r.Target[0] == '*') {
		// absolute-form (RFC 9112 §3.2.2) or authority-form for CONNECT.
		if i := bytes.IndexByte(r.Target, ':'); i > 0 && isScheme(r.Target[:i]) && bytes.HasPrefix(r.Target[i:], []byte("://")) {
			auth := r.Target[i+3:]
			if j := bytes.IndexAny(auth, "/?#"); j >= 0 {
				auth = auth[:j]
			}
			if j := bytes.LastIndexByte(auth, '@'); j >= 0 {
				auth = auth[j+1:] // userinfo is not the host (RFC 3986 §3.2)
			}
			r.absHost = auth
		} else if !bytes.Equal(r.Method, []byte("CONNECT")) {
			return errTarget
		}
	}
	return nil
}

// finish applies the framing rules of RFC 9112 §6 and the Host rules of §3.2.
func (r *Request) finish(cl []byte) error {
	if r.Minor == 1 && r.Host == nil {
		return errHost
	}
	if len(r.absHost) > 0 {
		// RFC 9112 §3.2.2: the target's authority wins over Host; an
		// empty one (scheme:///path) leaves Host, as net/http does.
		r.Host = r.absHost
	}
	if r.Minor == 0 {
		// RFC 9110 §10.1.1: a 100-continue expectation in HTTP/1.0 is ignored.
		r.Expect100 = false
		if !r.keepAlive10 {
			r.Close = true
		}
	}
	if r.HadTransferEncoding {
		// Every Transfer-Encoding field, as one list; chunked must be
		// final and appear once. The registered codings (RFC 9110 §8.4.1,
		// the IANA HTTP Transfer Coding registry) may come before it:
		// Fulcrum decodes only the chunked framing and forwards the rest
		// as received. An unregistered coding is 501 (RFC 9112 §6.1).
		n, last := 0, false
		for i := range r.Headers {
			h := &r.Headers[i]
			if !equalFold(h.Name, "transfer-encoding") {
				continue
			}
			for v := h.Value; len(v) > 0; {
				item, rest := nextCoding(v)
				v = rest
				switch {
				case len(item) == 0:
				case equalFold(item, "chunked"):
					n++
					last = true
				case equalFold(item, "identity"):
					// No transformation (RFC 2616 §3.6, dropped by RFC
					// 9112): nothing to forward.
				case isCoding(item):
					last = false
					r.Codings = true
				case isToken(item):
					return errTE501
				default:
					return errTE
				}
			}
		}
		if n != 1 || !last {
			if n <= 1 && !last && r.Codings {
				return errTE501 // the final coding is one Fulcrum does not decode
			}
			return errTE
		}
		r.Chunked = true
		if r.HadContentLength || r.Minor == 0 {
			// RFC 9112 §6.1: Transfer-Encoding overrides Content-Length,
			// and such a request (or one over HTTP/1.0) ends the connection.
			r.Close = true
		}
		return nil
	}
	if r.HadContentLength {
		var n int64
		if len(cl) == 0 {
			return errCL
		}
		for _, c := range cl {
			if !isDigit(c) || n > (1<<63-1)/10 {
				return errCL
			}
			n = n*10 + int64(c-'0')
			if n < 0 {
				return errCL
			}
		}
		r.ContentLength = n
	}
	return nil
}

// nextCoding splits the first coding off a Transfer-Encoding list: its
// name without parameters and OWS, and the rest of the list.
func nextCoding(v []byte) (item, rest []byte) {
	if j := bytes.IndexByte(v, ','); j >= 0 {
		item, rest = v[:j], v[j+1:]
	} else {
		item = v
	}
	if j := bytes.IndexByte(item, ';'); j >= 0 {
		item = item[:j]
	}
	return trimOWS(item), rest
}

// isCoding reports whether item is a registered transfer coding other
// than chunked and identity.
func isCoding(item []byte) bool {
	return equalFold(item, "gzip") || equalFold(item, "x-gzip") || equalFold(item, "deflate") ||
		equalFold(item, "compress") || equalFold(item, "x-compress")
}

// AppendCodings appends the transfer codings before the final chunked, as
// a comma list in the order received ("gzip, deflate"), without
// parameters and without identity, to dst. It appends nothing unless
// r.Codings.
func (r *Request) AppendCodings(dst []byte) []byte {
	if !r.Codings {
		return dst
	}
	first := true
	for i := range r.Headers {
		h := &r.Headers[i]
		if !equalFold(h.Name, "transfer-encoding") {
			continue
		}
		for v := h.Value; len(v) > 0; {
			item, rest := nextCoding(v)
			v = rest
			if isCoding(item) {
				if !first {
					dst = append(dst, ", "...)
				}
				dst = append(dst, item...)
				first = false
			}
		}
	}
	return dst
}

// isScheme reports whether b is an RFC 3986 §3.1 scheme:
// ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
func isScheme(b []byte) bool {
	for i, c := range b {
		alpha := 'a' <= c|0x20 && c|0x20 <= 'z'
		if !alpha && (i == 0 || !isDigit(c) && c != '+' && c != '-' && c != '.') {
			return false
		}
	}
	return len(b) > 0
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// hasToken reports whether a comma list contains tok, case-insensitively.
func hasToken(v []byte, tok string) bool {
	for len(v) > 0 {
		var item []byte
		if j := bytes.IndexByte(v, ','); j >= 0 {
			item, v = v[:j], v[j+1:]
		} else {
			item, v = v, nil
		}
		if equalFold(trimOWS(item), tok) {
			return true
		}
	}
	return false
}

// isToken reports whether b is an RFC 9110 §5.6.2 token.
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c >= 0x80 || !tchar[c] {
			return false
		}
	}
	return true
}

// tchar is RFC 9110 §5.6.2. Read only.
var tchar = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()
