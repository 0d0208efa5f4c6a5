package proxy

import (
	"encoding/hex"
	"math/rand/v2"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/accesslog"
	"github.com/fulcrumlb/fulcrum/internal/httpmsg"
)

// idLen is the length of an id from appendID: 32 hex digits.
const idLen = 32

// newConnID returns a connection id, "TID_" and 32 random hex digits
// (ALB's conn_trace_id shape), and the 16 bytes the digits spell
// (accesslog.PackedIDs.Conn).
func newConnID() (string, [16]byte) {
	var raw [16]byte
	const prefix = "TID_"
	var b [len(prefix) + idLen]byte
	return string(appendID(append(b[:0], prefix...), &raw)), raw
}

// appendID appends 32 random hex digits to dst: the lower-case hex of
// the 16 random bytes it also writes to raw.
func appendID(dst []byte, raw *[16]byte) []byte {
	u, v := rand.Uint64(), rand.Uint64()
	for i := range 8 {
		raw[i], raw[8+i] = byte(u>>(8*i)), byte(v>>(8*i))
	}
	return hex.AppendEncode(dst, raw[:])
}

// requestStrings are the strings Fulcrum makes for each request. They are
// substrings of one string that newRequestStrings copies into the
// request's access log record (accesslog.Record.Keep): valid as long as
// the record, which the access log's writer encodes after the request
// has ended; the request history keeps copies of its own.
type requestStrings struct {
	// id is the request id: 32 random hex digits (newID).
	id string
	// url is ALB's request field URL: scheme://host:port/uri, with the
	// listener's port when Host has none.
	url string
	// trace is the X-Amzn-Trace-Id value to send on (writeTraceValue);
	// empty unless newRequestStrings was asked for it.
	trace string
	// packed holds the bytes id and, when Has says so, trace were
	// spelled from (accesslog.PackedIDs), for the request history.
	packed accesslog.PackedIDs
}

// newRequestStrings makes a request's id, its log URL from r.Host and
// r.URI as they are now (tls picks the scheme, port is the listener's)
// and, when trace is set, the X-Amzn-Trace-Id value from r's header as it
// is now, with a trace id of now's epoch second (appendTraceValue). They
// go into rec's memory (no allocation once rec has carried a request or
// two, unless they pass 512 bytes), or into a new string when rec is nil.
func newRequestStrings(rec *accesslog.Record, r *httpmsg.Request, tls bool, port string, trace bool, now time.Time) requestStrings {
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
	var buf [512]byte
	b := buf[:0]
	if n := idLen + urlLen + traceLen; n > len(buf) {
		b = make([]byte, 0, n)
	}
	var packed accesslog.PackedIDs
	b = appendID(b, &packed.ID)
	packed.Has = accesslog.PackedID
	b = append(b, scheme...)
	b = append(b, r.Host...)
	b = append(b, portSep...)
	b = append(b, port...)
	b = append(b, r.URI...)
	if trace {
		b = appendTraceValue(b, old, now, &packed)
	}
	var s string
	if rec != nil {
		s = rec.KeepBytes(b)
	} else {
		s = string(b)
	}
	return requestStrings{id: s[:idLen], url: s[idLen : idLen+urlLen], trace: s[idLen+urlLen:], packed: packed}
}
