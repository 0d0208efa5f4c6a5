// Package httpmsg is Fulcrum's own request type: what the handler, the
// rules and the transport read of a client's request, whichever front end
// (Fulcrum's HTTP/1.1 connection loop or the HTTP/2 server) parsed it.
// It is not tied to net/http's server: a Request is plain data, reusable
// across the requests of one connection, and its strings may all be views
// of one copy of the request head.
package httpmsg

import "strings"

// Field is one header field: its name (canonical form, as Fulcrum
// forwards it) and its value with surrounding whitespace removed.
type Field struct{ Name, Value string }

// Header is a request's header fields in the order received; fields added
// by Fulcrum (X-Forwarded-*) come after. Names compare case-insensitively
// (RFC 9110 §5.1). Framing fields (Content-Length, Transfer-Encoding) and
// Host are never in it: Request carries them. A nil Header is empty.
type Header []Field

// Get returns the value of the first field named name, or "".
func (h Header) Get(name string) string {
	for i := range h {
		if strings.EqualFold(h[i].Name, name) {
			return h[i].Value
		}
	}
	return ""
}

// Has reports whether a field named name is present.
func (h Header) Has(name string) bool {
	for i := range h {
		if strings.EqualFold(h[i].Name, name) {
			return true
		}
	}
	return false
}

// Each calls fn with the value of every field named name, in order, until
// fn returns false.
func (h Header) Each(name string, fn func(value string) bool) {
	for i := range h {
		if strings.EqualFold(h[i].Name, name) && !fn(h[i].Value) {
			return
		}
	}
}

// Values returns the values of every field named name, in order; nil
// when there is none. It allocates when there is one or more.
func (h Header) Values(name string) []string {
	var vs []string
	for i := range h {
		if strings.EqualFold(h[i].Name, name) {
			vs = append(vs, h[i].Value)
		}
	}
	return vs
}

// Add appends a field.
func (h *Header) Add(name, value string) { *h = append(*h, Field{name, value}) }

// Set replaces the first field named name with value and deletes the
// others, or appends the field when there is none.
func (h *Header) Set(name, value string) {
	s := *h
	for i := range s {
		if strings.EqualFold(s[i].Name, name) {
			s[i].Value = value
			*h = append(s[:i+1], deleted(s[i+1:], name)...)
			return
		}
	}
	*h = append(s, Field{name, value})
}

// Del deletes every field named name.
func (h *Header) Del(name string) { *h = deleted(*h, name) }

// DelFunc deletes every field for which del returns true.
func (h *Header) DelFunc(del func(Field) bool) {
	s := *h
	j := 0
	for i := range s {
		if !del(s[i]) {
			s[j] = s[i]
			j++
		}
	}
	clear(s[j:])
	*h = s[:j]
}

// deleted returns s without the fields named name, in place.
func deleted(s Header, name string) Header {
	j := 0
	for i := range s {
		if !strings.EqualFold(s[i].Name, name) {
			s[j] = s[i]
			j++
		}
	}
	clear(s[j:])
	return s[:j]
}

// HasToken reports whether a comma-separated list in any field named name
// holds token, case-insensitively (RFC 9110 §5.6.1), as for Connection:
// upgrade.
func (h Header) HasToken(name, token string) bool {
	found := false
	h.Each(name, func(v string) bool {
		for item := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(item), token) {
				found = true
				return false
			}
		}
		return true
	})
	return found
}

// Cookie returns the value of the first cookie named name in the Cookie
// fields (RFC 6265 §5.4: "name=value" pairs separated by "; "), with one
// pair of surrounding double quotes removed, and whether it was found.
// Names compare exactly.
func (h Header) Cookie(name string) (string, bool) {
	var val string
	found := false
	h.Each("Cookie", func(v string) bool {
		for pair := range strings.SplitSeq(v, ";") {
			k, cv, ok := strings.Cut(strings.TrimSpace(pair), "=")
			if !ok || k != name {
				continue
			}
			if len(cv) >= 2 && cv[0] == '"' && cv[len(cv)-1] == '"' {
				cv = cv[1 : len(cv)-1]
			}
			val, found = cv, true
			return false
		}
		return true
	})
	return val, found
}

// Size is the bytes the fields take on the wire in HTTP/1.1, "Name: value"
// plus CRLF each.
func (h Header) Size() int64 {
	var n int64
	for i := range h {
		n += int64(len(h[i].Name) + len(h[i].Value) + 4)
	}
	return n
}
