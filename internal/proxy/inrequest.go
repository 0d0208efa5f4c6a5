package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unsafe"

	"github.com/fulcrumlb/fulcrum/internal/desync"
	"github.com/fulcrumlb/fulcrum/internal/http1"
	"github.com/fulcrumlb/fulcrum/internal/httpmsg"
)

// newRequest fills the connection's reusable request (cc.rs.msg) from a
// parsed head. Every string in it is a substring of one copy of the head
// in the request state's reused buffer (reqState.head), so the request
// allocates nothing: the strings are valid until the state's next
// request, and what outlives the request (its access log record's
// fields) is copied (accesslog.Record.Keep, Handler.fillRecord). A head
// over maxReusedHead gets a string of its own. The header holds the fields
// with canonical names, without Host (it is r.Host), without the framing
// fields and their look-alikes (desync.LooksLikeFraming; the transport
// frames the body itself, RFC 9112 §6) and without an h2c upgrade
// (Upgrade: h2c and HTTP2-Settings, RFC 9113 §3.1: Fulcrum never
// upgrades an HTTP/1.1 connection to HTTP/2).
func (cc *clientConn) newRequest(head []byte, p *http1.Request) (*httpmsg.Request, error) {
	var s string
	if rs := cc.rs; len(head) <= maxReusedHead {
		rs.head = append(rs.head[:0], head...)
		s = unsafe.String(unsafe.SliceData(rs.head), len(head))
	} else {
		s = string(head)
	}
	sub := func(b []byte) string {
		if len(b) == 0 {
			return ""
		}
		off := cap(head) - cap(b)
		return s[off : off+len(b)]
	}
	r := &cc.rs.msg
	hdr := r.Header[:0]
	clear(hdr[:cap(hdr)])
	*r = httpmsg.Request{Method: sub(p.Method), Host: sub(p.Host), ProtoMajor: 1, ProtoMinor: p.Minor, Proto: "HTTP/1.1",
		RemoteAddr: cc.remote, TLS: cc.tls, Close: p.Close}
	r.SetContext(cc.ctx)
	if p.Minor == 0 {
		r.Proto = "HTTP/1.0"
	}
	target := sub(p.Target)
	if err := r.SetTarget(r.Method, target); err != nil {
		if !hasCTL(target) {
			return nil, err
		}
		u, err := ctlTarget(r.Method, target)
		if err != nil {
			return nil, err
		}
		r.Target = target
		r.SetURL(u)
	}
	h2c := false
	for _, hf := range p.Headers {
		if len(hf.Name) == len("upgrade") && bytes.EqualFold(hf.Name, []byte("upgrade")) && hasTokenFold(hf.Value, "h2c") {
			h2c = true
		}
	}
	for _, hf := range p.Headers {
		if len(hf.Name) == 0 || desync.LooksLikeFraming(hf.Name) {
			continue
		}
		k := canonicalKey(hf.Name, sub)
		switch k {
		case "Host":
			continue
		case "Upgrade", "Http2-Settings":
			if h2c {
				continue
			}
		}
		hdr = append(hdr, httpmsg.Field{Name: k, Value: sub(hf.Value)})
	}
	r.Header = hdr
	if h2c {
		// The Connection tokens that named the upgrade go with it.
		for i := range r.Header {
			if f := &r.Header[i]; f.Name == "Connection" {
				f.Value = dropTokens(f.Value, "upgrade", "http2-settings")
			}
		}
		r.Header.DelFunc(func(f httpmsg.Field) bool { return f.Name == "Connection" && f.Value == "" })
	}
	switch {
	case p.Chunked:
		r.ContentLength, r.Body = -1, &cc.body
		if p.Codings {
			// The codings before the final chunked travel on (the
			// transport writes "Transfer-Encoding: gzip, chunked"); only
			// the chunked framing is decoded and made anew.
			r.Codings = string(p.AppendCodings(nil))
		}
	case p.ContentLength > 0:
		r.ContentLength, r.Body = p.ContentLength, &cc.body
	}
	return r, nil
}

var errTarget = errors.New("invalid request target")

// parseTarget parses a request target as net/http's server does:
// origin-form, absolute-form, asterisk-form, and authority-form for
// CONNECT (RFC 9112 §3.2).
func parseTarget(method, target string) (*url.URL, error) {
	if method == http.MethodConnect && len(target) > 0 && target[0] != '/' {
		if target == "" {
			return nil, errTarget
		}
		return &url.URL{Host: target}, nil
	}
	return url.ParseRequestURI(target)
}

// hasCTL reports a control byte (0x00-0x1f, DEL) in s.
func hasCTL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// ctlTarget parses an origin-form target that carries control bytes the
// URL grammar refuses (HTAB, 0x01-0x1f, DEL; the parser refuses NUL and
// CR), which the listener's desync_mitigation_mode let through as
// AmbiguousUri. Path and query hold the bytes decoded, for routing; the
// URL's RequestURI is the target exactly as received, so that the
// request line forwarded is the client's, as ALB forwards it (not
// percent-encoded).
func ctlTarget(method, target string) (*url.URL, error) {
	var b strings.Builder
	for i := 0; i < len(target); i++ {
		if c := target[i]; c < ' ' || c == 0x7f {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	u, err := parseTarget(method, b.String())
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(target, "/") || strings.HasPrefix(target, "//") {
		return u, nil // forwarded percent-encoded: Opaque cannot carry it
	}
	path, query, hasQuery := strings.Cut(target, "?")
	u.Opaque = path
	if hasQuery {
		u.RawQuery = query
	}
	return u, nil
}

// canonicalKey returns name in canonical form (textproto's rules) as a
// substring of the head when it already is, else as a new string.
func canonicalKey(name []byte, sub func([]byte) string) string {
	upper := true
	canonical := true
	for _, c := range name {
		if !validKeyByte(c) {
			return sub(name) // as net/http: not canonicalised
		}
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			canonical = false
		}
		upper = c == '-'
	}
	if canonical {
		return sub(name)
	}
	var stack [64]byte
	b := stack[:0]
	if len(name) > len(stack) {
		b = make([]byte, 0, len(name))
	}
	upper = true
	for _, c := range name {
		switch {
		case upper && 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		case !upper && 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		b = append(b, c)
		upper = c == '-'
	}
	if k, ok := commonKeys[string(b)]; ok {
		return k
	}
	return string(b)
}

func validKeyByte(c byte) bool {
	return c < 0x80 && c > ' ' && c != ':' && c != 0x7f
}

// commonKeys interns frequent header names sent in lower case (as HTTP/2
// clients and some tools do), so they cost no allocation. Read only.
var commonKeys = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{"Accept", "Accept-Encoding", "Accept-Language", "Authorization", "Cache-Control",
		"Connection", "Content-Type", "Cookie", "Host", "If-Modified-Since", "If-None-Match", "Origin", "Referer",
		"User-Agent", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Port", "X-Request-Id", "X-Amzn-Trace-Id",
		"Upgrade", "Http2-Settings", "Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Extensions",
		"Sec-Websocket-Protocol", "Expect", "Range", "Pragma", "Te", "Keep-Alive"} {
		m[k] = k
	}
	return m
}()

// hasTokenFold reports whether the comma list v holds tok, ignoring case.
func hasTokenFold(v []byte, tok string) bool {
	for item := range bytes.SplitSeq(v, []byte{','}) {
		if bytes.EqualFold(bytes.TrimSpace(item), []byte(tok)) {
			return true
		}
	}
	return false
}

// dropTokens returns a Connection value without the named tokens.
func dropTokens(v string, drop ...string) string {
	var kept []byte
	for item := range bytes.SplitSeq([]byte(v), []byte{','}) {
		item = bytes.TrimSpace(item)
		skip := len(item) == 0
		for _, d := range drop {
			skip = skip || bytes.EqualFold(item, []byte(d))
		}
		if skip {
			continue
		}
		if len(kept) > 0 {
			kept = append(kept, ", "...)
		}
		kept = append(kept, item...)
	}
	return string(kept)
}
