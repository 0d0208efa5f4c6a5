package proxy

import (
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/httpmsg"
)

// idLen is the length of an id from newID: 32 hex digits.
const idLen = 32

// newID returns 32 random hex digits, for request ids and connection ids.
func newID() string {
	var b [idLen]byte
	return string(appendID(b[:0]))
}

// appendID appends 32 random hex digits (16 random bytes) to dst.
func appendID(dst []byte) []byte {
	var b [16]byte
	u, v := rand.Uint64(), rand.Uint64()
	for i := range 8 {
		b[i], b[8+i] = byte(u>>(8*i)), byte(v>>(8*i))
	}
	return hex.AppendEncode(dst, b[:])
}

// requestStrings are the strings Fulcrum makes for each request. They are
// substrings of one string, allocated once per request by
// newRequestStrings and never written after: the access log record, the
// request header and the request history may keep them after the request
// has ended.
type requestStrings struct {
	// id is the request id: 32 random hex digits (newID).
	id string
	// url is ALB's request field URL: scheme://host:port/uri, with the
	// listener's port when Host has none.
	url string
	// trace is the X-Amzn-Trace-Id value to send on (writeTraceValue);
	// empty unless newRequestStrings was asked for it.
	trace string
}

// newRequestStrings makes a request's id, its log URL from r.Host and
// r.URI as they are now (tls picks the scheme, port is the listener's)
// and, when trace is set, the X-Amzn-Trace-Id value from r's header as it
// is now, with a trace id of now's epoch second (writeTraceValue), in one
// allocation.
func newRequestStrings(r *httpmsg.Request, tls bool, port string, trace bool, now time.Time) requestStrings {
	scheme, portSep := "http://", ":"
	if tls {
		scheme = "https://"
	}
	if hasPort(r.Host) {
		portSep, port = "", "" // Host has a port: not the listener's
	}
	urlLen := len(scheme) + len(r.Host) + len(portSep) + len(port) + len(r.URI)
	var old string
	traceLen := 0
	if trace {
		old = r.Header.Get(traceHeaderName)
		traceLen = traceValueLen(old)
	}
	var b strings.Builder
	b.Grow(idLen + urlLen + traceLen)
	var id [idLen]byte
	b.Write(appendID(id[:0]))
	b.WriteString(scheme)
	b.WriteString(r.Host)
	b.WriteString(portSep)
	b.WriteString(port)
	b.WriteString(r.URI)
	if trace {
		writeTraceValue(&b, old, now)
	}
	s := b.String()
	return requestStrings{id: s[:idLen], url: s[idLen : idLen+urlLen], trace: s[idLen+urlLen:]}
}
