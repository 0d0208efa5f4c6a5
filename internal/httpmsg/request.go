package httpmsg

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Request is one client request as the handler sees it.
type Request struct {
	// Method is the request method ("GET").
	Method string
	// Target is the request-target as received (RFC 9112 §3.2): "/a?b",
	// "http://host/a", "*" or an authority for CONNECT.
	Target string
	// URI is the request-target forwarded to targets: Target in
	// origin-form, the path and query of an absolute-form Target, "*"
	// for OPTIONS *.
	URI string
	// Path is the decoded path ("/a b" for "/a%20b"), for rule
	// conditions; RawPath is the path as received, escaped.
	Path, RawPath string
	// RawQuery is the query without "?", as received.
	RawQuery string
	// Host is the authority: an absolute-form target's, else the Host
	// field's (RFC 9112 §3.2.2), or HTTP/2's :authority.
	Host string
	// Proto is "HTTP/1.0", "HTTP/1.1" or "HTTP/2.0".
	Proto                  string
	ProtoMajor, ProtoMinor int
	// Header holds every field but Host and the framing fields.
	Header Header
	// ContentLength is the body's length in bytes: 0 for none, -1 when
	// unknown (chunked, or an HTTP/2 body without content-length).
	ContentLength int64
	// Codings are the transfer codings before the final chunked
	// ("gzip"), forwarded as received; "" for none.
	Codings string
	// Body is the request body; nil when there is none.
	Body io.Reader
	// Trailer, on HTTP/2, is the trailer map the HTTP/2 server fills once
	// the body is read (gRPC sends none, but other clients may); nil on
	// HTTP/1.1, whose chunked trailers Fulcrum drops.
	Trailer http.Header
	// RemoteAddr is the client's "ip:port".
	RemoteAddr string
	// TLS is the client connection's TLS state; nil on cleartext.
	TLS *tls.ConnectionState
	// Close means the client's connection ends after this exchange.
	Close bool

	ctx context.Context
}

// Context returns the request's context: canceled when the client goes
// away or the server shuts down. Never nil.
func (r *Request) Context() context.Context {
	if r.ctx == nil {
		return context.Background()
	}
	return r.ctx
}

// SetContext sets the request's context.
func (r *Request) SetContext(ctx context.Context) { r.ctx = ctx }

// Size is the request head's size in bytes on the wire in HTTP/1.1 plus
// the body's declared length: ALB's received_bytes for a request Fulcrum
// answers itself.
func (r *Request) Size() int64 {
	n := int64(len(r.Method)+len(r.Target)+len(r.Proto)+4+len(r.Host)+8) + r.Header.Size()
	return n + 2 + max(r.ContentLength, 0)
}

// SetTarget sets Target, URI, Path, RawPath and RawQuery from a
// request-target (RFC 9112 §3.2) for method, with url.ParseRequestURI's
// rules: an error for a target it refuses. An origin-form target of
// plain bytes (no '%', no byte outside printable ASCII) is split without
// allocating; any other goes through net/url.
func (r *Request) SetTarget(method, target string) error {
	r.Target = target
	if method == http.MethodConnect && len(target) > 0 && target[0] != '/' {
		r.URI, r.Path, r.RawPath, r.RawQuery = target, "", "", ""
		return nil
	}
	if target == "*" {
		r.URI, r.Path, r.RawPath, r.RawQuery = "*", "*", "*", ""
		return nil
	}
	if plainOrigin(target) {
		path, query, _ := strings.Cut(target, "?")
		r.URI, r.Path, r.RawPath, r.RawQuery = target, path, path, query
		return nil
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return err
	}
	r.setURL(u)
	return nil
}

// setURL takes the forwarded URI and the path and query from u.
func (r *Request) setURL(u *url.URL) {
	r.URI, r.Path, r.RawPath, r.RawQuery = u.RequestURI(), u.Path, u.EscapedPath(), u.RawQuery
	if u.Opaque != "" {
		r.RawPath = u.Opaque
	}
}

// SetURL sets URI, Path, RawPath and RawQuery from a parsed URL, keeping
// Target (for a target the caller parsed itself).
func (r *Request) SetURL(u *url.URL) { r.setURL(u) }

// plainOrigin reports an origin-form target whose path needs no decoding
// and that url.ParseRequestURI would take as it is: it starts with one
// "/", and holds only printable ASCII other than '%' and '#'.
func plainOrigin(t string) bool {
	if len(t) == 0 || t[0] != '/' || len(t) > 1 && t[1] == '/' {
		return false
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; c <= ' ' || c >= 0x7f || c == '%' || c == '#' {
			return false
		}
	}
	return true
}

// FromHTTP fills r from a request net/http's HTTP/2 server parsed, for
// the same handler as the HTTP/1.1 connection loop. The header is copied
// (canonical keys, in the map's order), without Host, Content-Length and
// Transfer-Encoding; Body is nil for none.
func FromHTTP(r *Request, hr *http.Request) {
	*r = Request{Method: hr.Method, Target: hr.RequestURI, Host: hr.Host, Proto: hr.Proto,
		ProtoMajor: hr.ProtoMajor, ProtoMinor: hr.ProtoMinor, ContentLength: hr.ContentLength,
		Trailer: hr.Trailer, RemoteAddr: hr.RemoteAddr, TLS: hr.TLS, Close: hr.Close, ctx: hr.Context()}
	if hr.URL != nil {
		r.setURL(hr.URL)
	}
	if r.Target == "" {
		r.Target = r.URI
	}
	n := 0
	for _, vs := range hr.Header {
		n += len(vs)
	}
	r.Header = make(Header, 0, n+8)
	for k, vs := range hr.Header {
		switch k {
		case "Host", "Content-Length", "Transfer-Encoding":
			continue
		}
		for _, v := range vs {
			r.Header = append(r.Header, Field{k, v})
		}
	}
	if hr.Body != nil && hr.Body != http.NoBody && hr.ContentLength != 0 {
		r.Body = hr.Body
	}
	if r.Body == nil {
		r.ContentLength = 0
	}
}
