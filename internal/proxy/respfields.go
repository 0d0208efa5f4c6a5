package proxy

import (
	"net/http"
	"strings"
)

// respField is one field of a target's HTTP/1.1 response head, in the
// order the target sent it: the canonical name (as http.Header's key)
// and the value. A field with an empty name has been removed.
type respField struct {
	name, value string
}

// respFieldsInline is how many fields an exchange holds without an
// allocation of their own (a typical response has 4 to 10).
const respFieldsInline = 16

// passFields readies a target's fields to be forwarded as they are, in
// place (a removed field keeps its slot with an empty name, so the list
// stays the exchange's header for exchange.header): it removes the
// hop-by-hop fields (hopHeaders and those a
// Connection field names, RFC 9110 §7.6.1) and X-Request-Id, which
// Fulcrum sets itself. size is the head's size as responseHeaderSize
// counts it (the fields left by the hop-by-hop removal, X-Request-Id
// included). This is the response path without an http.Header map: the
// fields go from the target's head to the client's in order, with no
// hashing and no copy.
func passFields(fields []respField, status string) (pass []respField, size int64) {
	var buf [4]string
	named := buf[:0]
	for i := range fields {
		if fields[i].name == "Connection" {
			for sf := range strings.SplitSeq(fields[i].value, ",") {
				if sf = strings.TrimSpace(sf); sf != "" {
					named = append(named, sf)
				}
			}
		}
	}
	size = int64(len(status) + 11)
	for i := range fields {
		f := &fields[i]
		if f.name == "" || isHopField(f.name) || nameIn(f.name, named) {
			f.name = ""
			continue
		}
		size += int64(len(f.name) + len(f.value) + 4)
		if f.name == "X-Request-Id" {
			f.name = ""
		}
	}
	return fields, size + 2
}

func isHopField(name string) bool {
	for _, h := range hopHeaders {
		if name == h {
			return true
		}
	}
	return false
}

func nameIn(name string, names []string) bool {
	for _, n := range names {
		if nameFold(name, n) {
			return true
		}
	}
	return false
}

// fieldIndex returns the index of the first field named name (canonical)
// in fields, or -1.
func fieldIndex(fields []respField, name string) int {
	for i := range fields {
		if fields[i].name == name {
			return i
		}
	}
	return -1
}

// fieldValues appends the values of every field named name (canonical)
// to dst.
func fieldValues(dst []string, fields []respField, name string) []string {
	for _, f := range fields {
		if f.name == name {
			dst = append(dst, f.value)
		}
	}
	return dst
}

// header returns the response's header as a map: for an HTTP/1.1 target
// it is built from x.fields on first use (the forward between HTTP/1.1
// peers does without it); an HTTP/2 target's response has its own.
func (x *exchange) header() http.Header {
	if x.fields == nil {
		return x.resp.Header
	}
	r := &x.respv // readResponse's
	if r.Header == nil {
		r.Header = make(http.Header, len(x.fields))
		for _, f := range x.fields {
			if f.name != "" {
				r.Header[f.name] = append(r.Header[f.name], f.value)
			}
		}
	}
	return r.Header
}

// headerValue is the first value of the response's field name
// (canonical), "" when there is none, without building the map.
func (x *exchange) headerValue(name string) string {
	if x.fields != nil {
		if i := fieldIndex(x.fields, name); i >= 0 {
			return x.fields[i].value
		}
		return ""
	}
	return x.resp.Header.Get(name)
}
