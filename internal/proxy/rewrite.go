package proxy

import (
	"net/http"
	"strings"

	"github.com/fulcrumlb/fulcrum/internal/httpmsg"
)

// hopHeaders are removed in both directions (RFC 9110 §7.6.1), with the
// headers named in Connection.
var hopHeaders = [...]string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// removeHopHeaders deletes hop-by-hop headers from h.
func removeHopHeaders(h http.Header) {
	for _, f := range h["Connection"] {
		for sf := range strings.SplitSeq(f, ",") {
			if sf = strings.TrimSpace(sf); sf != "" {
				h.Del(sf)
			}
		}
	}
	for _, k := range hopHeaders {
		delete(h, k)
	}
}

// upgradeType returns the protocol a request asks to upgrade to, or "".
func upgradeType(h httpmsg.Header) string {
	if !h.HasToken("Connection", "Upgrade") {
		return ""
	}
	return h.Get("Upgrade")
}

// removeHopFields deletes a request's hop-by-hop fields: hopHeaders and
// the fields its Connection fields name (RFC 9110 §7.6.1).
func removeHopFields(h *httpmsg.Header) {
	var buf [8]string
	named := buf[:0] // grows past 8 names: every one is removed
	h.Each("Connection", func(v string) bool {
		for sf := range strings.SplitSeq(v, ",") {
			if sf = strings.TrimSpace(sf); sf != "" {
				named = append(named, sf)
			}
		}
		return true
	})
	h.DelFunc(func(f httpmsg.Field) bool {
		for _, k := range hopHeaders {
			if nameFold(f.Name, k) {
				return true
			}
		}
		for _, k := range named {
			if nameFold(f.Name, k) {
				return true
			}
		}
		return nameFold(f.Name, "Expect")
	})
}

// forwardHeaders rewrites the client's headers in place for the target:
// hop-by-hop headers go, X-Forwarded-For is appended to, X-Forwarded-Proto
// and -Port are set, and X-Request-Id carries the request id (ALB,
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/x-forwarded-headers.html). Expect is dropped: Fulcrum answers 100 Continue
// itself when it reads the body, as ALB does.
func forwardHeaders(h *httpmsg.Header, remoteAddr, proto, port, reqID, upgrade string) {
	removeHopFields(h)
	var xff string
	h.Each("X-Forwarded-For", func(v string) bool {
		if xff == "" {
			xff = v
		} else {
			xff += ", " + v
		}
		return true
	})
	h.DelFunc(func(f httpmsg.Field) bool {
		return nameFold(f.Name, "X-Forwarded-For") || nameFold(f.Name, "X-Forwarded-Proto") ||
			nameFold(f.Name, "X-Forwarded-Port") || nameFold(f.Name, "X-Request-Id")
	})
	if upgrade != "" {
		h.Add("Connection", "Upgrade")
		h.Add("Upgrade", upgrade)
	}
	ip := clientIP(remoteAddr)
	if xff != "" {
		ip = xff + ", " + ip
	}
	h.Add("X-Forwarded-For", ip)
	h.Add("X-Forwarded-Proto", proto)
	h.Add("X-Forwarded-Port", port)
	h.Add("X-Request-Id", reqID)
}

// nameFold reports whether field names a and b are equal ignoring ASCII
// case. Field names are tokens (RFC 9110 §5.1), all ASCII, so names of
// different lengths differ: that check first spares strings.EqualFold
// its walk for nearly every pair.
func nameFold(a, b string) bool { return len(a) == len(b) && strings.EqualFold(a, b) }

// clientIP is the address of "ip:port" without the port, without
// net.SplitHostPort's error cost; remoteAddr itself when it has no port.
func clientIP(remoteAddr string) string {
	i := strings.LastIndexByte(remoteAddr, ':')
	if i < 0 {
		return remoteAddr
	}
	ip := remoteAddr[:i]
	if len(ip) >= 2 && ip[0] == '[' && ip[len(ip)-1] == ']' {
		return ip[1 : len(ip)-1]
	}
	if strings.IndexByte(ip, ':') >= 0 {
		return remoteAddr // a bare IPv6 address: no port
	}
	return ip
}
