package proxy

import (
	"net"
	"net/http"
	"strings"

	"golang.org/x/net/http/httpguts"
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
func upgradeType(h http.Header) string {
	if !httpguts.HeaderValuesContainsToken(h["Connection"], "Upgrade") {
		return ""
	}
	return h.Get("Upgrade")
}

// forwardHeaders rewrites the client's headers in place for the target:
// hop-by-hop headers go, X-Forwarded-For is appended to, X-Forwarded-Proto
// and -Port are set, and X-Request-Id carries the request id (ALB,
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/x-forwarded-headers.html). Expect is dropped: Fulcrum answers 100 Continue
// itself when it reads the body, as ALB does.
func forwardHeaders(h http.Header, remoteAddr, proto, port, reqID, upgrade string) {
	removeHopHeaders(h)
	delete(h, "Expect")
	if upgrade != "" {
		h["Connection"] = []string{"Upgrade"}
		h["Upgrade"] = []string{upgrade}
	}
	ip, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		ip = remoteAddr
	}
	if prior := h["X-Forwarded-For"]; len(prior) > 0 {
		ip = strings.Join(prior, ", ") + ", " + ip
	}
	// One backing array for the four values: one allocation, not four.
	v := &[4]string{ip, proto, port, reqID}
	h["X-Forwarded-For"] = v[0:1:1]
	h["X-Forwarded-Proto"] = v[1:2:2]
	h["X-Forwarded-Port"] = v[2:3:3]
	h["X-Request-Id"] = v[3:4:4]
}
