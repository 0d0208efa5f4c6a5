// Package desync classifies HTTP/1.x requests by their risk of HTTP desync
// (request smuggling), as AWS ALB does with http-desync-guardian: a Tier
// (Compliant, Acceptable, Ambiguous, Severe) and a Reason named as ALB's
// classification_reason access log field. Mode maps a tier to ALB's action.
//
// The rules follow the http-desync-guardian documentation
// (https://github.com/aws/http-desync-guardian/tree/main/docs) and
// RFC 9110 §5.6.2 (tokens), RFC 9112 §3 (request line), §6 (framing).
// The classifier is written from those rules; it shares no code with that project.
package desync

import "bytes"

// Tier is a request's classification, least risky first.
type Tier uint8

const (
	Compliant Tier = iota
	Acceptable
	Ambiguous
	Severe
)

// String returns ALB's spelling of the tier.
func (t Tier) String() string {
	return [...]string{"Compliant", "Acceptable", "Ambiguous", "Severe"}[t]
}

// Reason is ALB's classification_reason; ReasonCompliant ("-" in the
// access log) for a compliant request.
type Reason uint8

const (
	ReasonCompliant Reason = iota
	NonCompliantHeader
	SpaceInUri
	NonCompliantVersion
	GetHeadZeroContentLength
	EmptyHeader
	AmbiguousUri
	UndefinedContentLengthSemantics
	UndefinedTransferEncodingSemantics
	DuplicateContentLength
	BothTeClPresent
	SuspiciousHeader
	BadHeader
	BadUri
	BadVersion
	MultipleContentLength
	BadContentLength
	MultipleTransferEncodingChunked
	BadTransferEncoding
	BadMethod
)

var reasonNames = [...]string{
	"Compliant", "NonCompliantHeader", "SpaceInUri", "NonCompliantVersion",
	"GetHeadZeroContentLength", "EmptyHeader", "AmbiguousUri",
	"UndefinedContentLengthSemantics", "UndefinedTransferEncodingSemantics",
	"DuplicateContentLength", "BothTeClPresent", "SuspiciousHeader",
	"BadHeader", "BadUri", "BadVersion", "MultipleContentLength",
	"BadContentLength", "MultipleTransferEncodingChunked",
	"BadTransferEncoding", "BadMethod",
}

// String returns ALB's spelling of the reason.
func (r Reason) String() string { return reasonNames[r] }

// Header is one raw header field: name and value as received, without
// the colon; the value with leading and trailing OWS removed by the parser
// or not (both are accepted). Slices are only read.
type Header struct{ Name, Value []byte }

// Request is the raw facts of a request's head. Version is the request
// line's third word as received ("" for HTTP/0.9).
type Request struct {
	Method, Target, Version []byte
	Headers                 []Header
}

// Verdict is a classification: the worst tier found and the first reason
// found at that tier.
type Verdict struct {
	Tier   Tier
	Reason Reason
}

func (v *Verdict) raise(t Tier, r Reason) {
	if t > v.Tier {
		v.Tier, v.Reason = t, r
	}
}

// Classify returns the request's verdict. It does not allocate.
func Classify(r *Request) Verdict {
	var v Verdict
	classifyMethod(&v, r.Method)
	classifyTarget(&v, r.Target)
	classifyVersion(&v, r.Version)
	get := bytes.Equal(r.Method, []byte("GET")) || bytes.Equal(r.Method, []byte("HEAD"))
	var (
		cl        []byte
		nCL, nTE  int
		teChunked int
	)
	for i := range r.Headers {
		h := &r.Headers[i]
		name, val := h.Name, trimOWS(h.Value)
		// odd: a field that complies with nothing stricter than
		// Acceptable (a name that is not a token, a control byte in the
		// value).
		var isCL, isTE, framing, odd bool
		if token, like := scanToken(name); token {
			// The common case, in one pass over the name and one over
			// the value: a token holds no whitespace, NUL, CR, LF or ':'.
			switch valueCTL(val) {
			case ctlBreak:
				v.raise(Severe, BadHeader)
				continue
			case ctlOther:
				odd = true
			}
			isCL, isTE = asciiEqualFold(name, "content-length"), asciiEqualFold(name, "transfer-encoding")
			framing = like
		} else {
			if len(bytes.TrimSpace(name)) == 0 {
				v.raise(Ambiguous, EmptyHeader)
				continue
			}
			if hasNulCRLF(name) || hasNulCRLF(val) {
				v.raise(Severe, BadHeader)
				continue
			}
			if name[0] == ':' {
				v.raise(Ambiguous, EmptyHeader)
				continue
			}
			trimmed := bytes.TrimSpace(name)
			isCL, isTE = asciiEqualFold(trimmed, "content-length"), asciiEqualFold(trimmed, "transfer-encoding")
			if (isCL || isTE) && len(trimmed) != len(name) {
				// Whitespace around a framing name: a look-alike, and still
				// counted as framing, since some servers trim it.
				v.raise(Ambiguous, SuspiciousHeader)
			}
			framing, odd = looksLikeFraming(name), true
		}
		switch {
		case isCL:
			if !validLength(val) {
				v.raise(Severe, BadContentLength)
				continue
			}
			if nCL > 0 {
				if bytes.Equal(trimZeros(cl), trimZeros(val)) {
					v.raise(Ambiguous, DuplicateContentLength)
				} else {
					v.raise(Severe, MultipleContentLength)
				}
			}
			nCL++
			cl = val
		case isTE:
			nTE++
			teChunked += classifyCodings(&v, val)
			if teChunked > 1 {
				v.raise(Severe, MultipleTransferEncodingChunked)
			}
		case framing:
			v.raise(Ambiguous, SuspiciousHeader)
		case odd:
			v.raise(Acceptable, NonCompliantHeader)
		}
	}
	if nCL > 0 && nTE > 0 {
		v.raise(Ambiguous, BothTeClPresent)
	}
	if get {
		if nTE > 0 {
			v.raise(Ambiguous, UndefinedTransferEncodingSemantics)
		}
		if nCL > 0 {
			if len(trimZeros(cl)) == 0 {
				v.raise(Acceptable, GetHeadZeroContentLength)
			} else {
				v.raise(Ambiguous, UndefinedContentLengthSemantics)
			}
		}
	}
	// HTTP/0.9 has no header fields, so no framing; HTTP/1.0 has no
	// Transfer-Encoding (RFC 9112 §6.1).
	old := len(r.Version) == 0 || bytes.Equal(r.Version, []byte("HTTP/0.9"))
	if (old || bytes.Equal(r.Version, []byte("HTTP/1.0"))) && nTE > 0 {
		v.raise(Ambiguous, UndefinedTransferEncodingSemantics)
	}
	if old && nCL > 0 {
		v.raise(Ambiguous, UndefinedContentLengthSemantics)
	}
	return v
}

func classifyMethod(v *Verdict, m []byte) {
	if len(m) == 0 || !isToken(m) {
		v.raise(Severe, BadMethod)
	}
}

func classifyTarget(v *Verdict, u []byte) {
	for _, c := range u {
		switch {
		case c == 0 || c == '\r' || c == '\n':
			v.raise(Severe, BadUri)
		case c < 0x20 || c == 0x7f:
			v.raise(Ambiguous, AmbiguousUri)
		case c == ' ':
			v.raise(Acceptable, SpaceInUri)
		}
	}
}

func classifyVersion(v *Verdict, ver []byte) {
	switch {
	case bytes.Equal(ver, []byte("HTTP/1.1")), bytes.Equal(ver, []byte("HTTP/1.0")):
	case len(ver) == 0, bytes.Equal(ver, []byte("HTTP/0.9")):
		v.raise(Acceptable, NonCompliantVersion)
	default:
		t := bytes.TrimSpace(ver)
		if len(t) == 8 && bytes.HasPrefix(t, []byte("HTTP/1.")) && t[7] >= '0' && t[7] <= '9' {
			v.raise(Acceptable, NonCompliantVersion)
			return
		}
		v.raise(Severe, BadVersion)
	}
}

// looksLikeFraming reports whether a header name that is not exactly a
// framing header normalises to one: case folded, with every byte that is
// not a letter dropped (so "Transfer_Encoding", " content-length",
// "Content-Length\x0b" match).
func looksLikeFraming(name []byte) bool {
	return normalisedEqual(name, "transferencoding") || normalisedEqual(name, "contentlength")
}

func normalisedEqual(name []byte, want string) bool {
	j := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		// Unicode letters that case-fold to ASCII ones: U+017F long s,
		// U+0131 dotless i, U+212A Kelvin sign.
		switch {
		case c == 0xc5 && i+1 < len(name) && name[i+1] == 0xbf:
			c, i = 's', i+1
		case c == 0xc4 && i+1 < len(name) && name[i+1] == 0xb1:
			c, i = 'i', i+1
		case c == 0xe2 && i+2 < len(name) && name[i+1] == 0x84 && name[i+2] == 0xaa:
			c, i = 'k', i+2
		}
		c |= 0x20
		if c < 'a' || c > 'z' {
			continue
		}
		if j >= len(want) || want[j] != c {
			return false
		}
		j++
	}
	return j == len(want)
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func trimZeros(b []byte) []byte {
	for len(b) > 0 && b[0] == '0' {
		b = b[1:]
	}
	return b
}

// validLength reports whether b is a Content-Length (RFC 9110 §8.6):
// digits only, with a value that fits in an int64.
func validLength(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
		if n > (1<<63-1)/10 {
			return false
		}
		n = n*10 + uint64(c-'0')
		if n > 1<<63-1 {
			return false
		}
	}
	return true
}

// classifyCodings checks one Transfer-Encoding value, a comma list of
// codings with optional parameters (RFC 9112 §7), and returns how many
// times "chunked" occurs. A coding outside the IANA registry's
// chunked, compress, deflate, gzip, identity (and x-gzip, x-compress)
// is Severe BadTransferEncoding.
func classifyCodings(v *Verdict, val []byte) int {
	n := 0
	for len(val) > 0 {
		var item []byte
		if i := bytes.IndexByte(val, ','); i >= 0 {
			item, val = val[:i], val[i+1:]
		} else {
			item, val = val, nil
		}
		if i := bytes.IndexByte(item, ';'); i >= 0 {
			item = item[:i]
		}
		item = trimOWS(item)
		switch {
		case asciiEqualFold(item, "chunked"):
			n++
		case asciiEqualFold(item, "identity"), asciiEqualFold(item, "gzip"), asciiEqualFold(item, "x-gzip"),
			asciiEqualFold(item, "deflate"), asciiEqualFold(item, "compress"), asciiEqualFold(item, "x-compress"):
		case len(item) == 0:
		default:
			v.raise(Severe, BadTransferEncoding)
		}
	}
	return n
}

func hasNulCRLF(b []byte) bool {
	return bytes.IndexByte(b, 0) >= 0 || bytes.IndexByte(b, '\r') >= 0 || bytes.IndexByte(b, '\n') >= 0
}

// scanToken reports whether name is a token (RFC 9110 §5.6.2) and, when
// it is, whether it looks like a framing field: looksLikeFraming's
// answer, whose Unicode look-alikes cannot occur in a token, found in
// the same pass.
func scanToken(name []byte) (token, framing bool) {
	const cl, te = "contentlength", "transferencoding"
	i, j := 0, 0 // letters of cl and te matched so far; -1 once not
	for _, c := range name {
		if c >= 0x80 || !tokenChar[c] {
			return false, false
		}
		if c |= 0x20; c < 'a' || c > 'z' {
			continue
		}
		if i >= 0 {
			if i < len(cl) && cl[i] == c {
				i++
			} else {
				i = -1
			}
		}
		if j >= 0 {
			if j < len(te) && te[j] == c {
				j++
			} else {
				j = -1
			}
		}
	}
	return len(name) > 0, i == len(cl) || j == len(te)
}

// What valueCTL finds in a field value.
const (
	ctlNone  = iota
	ctlOther // a control byte other than HTAB, NUL, CR and LF
	ctlBreak // NUL, CR or LF (hasNulCRLF)
)

// valueCTL scans a field value once: ctlBreak when it holds NUL, CR or
// LF (as hasNulCRLF), else ctlOther when it holds another control byte
// but HTAB (obs-text, 0x80-0xff, is allowed: RFC 9110 §5.5), else
// ctlNone.
func valueCTL(b []byte) int {
	found := ctlNone
	for _, c := range b {
		if (c < 0x20 && c != '\t') || c == 0x7f {
			if c == 0 || c == '\r' || c == '\n' {
				return ctlBreak
			}
			found = ctlOther
		}
	}
	return found
}

// isToken reports whether b is an RFC 9110 §5.6.2 token.
func isToken(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 || !tokenChar[c] {
			return false
		}
	}
	return len(b) > 0
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// tokenChar is RFC 9110 §5.6.2 tchar. Read only.
var tokenChar = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// LooksLikeFraming reports whether a header name is, or normalises to,
// Content-Length or Transfer-Encoding (case folded, non-letters dropped,
// Unicode look-alike letters folded). A forwarder drops every such field
// and writes its own framing.
func LooksLikeFraming(name []byte) bool { return looksLikeFraming(name) }
