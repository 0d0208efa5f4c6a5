package proxy

import (
	"encoding/hex"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/httpmsg"
)

// traceHeaderName is ALB's request tracing header.
const traceHeaderName = "X-Amzn-Trace-Id"

// traceHeader sets the request's X-Amzn-Trace-Id as ALB does (AWS,
// "Request tracing for your Application Load Balancer") and returns it:
// without a header carrying a Root field, it becomes
// "Root=1-{8 hex digits of the epoch second}-{24 random hex digits}";
// with one, a Self field of the same form is put first, replacing any
// earlier Self, and the other fields are kept. A header over 1024 bytes
// is replaced.
func traceHeader(h *httpmsg.Header, now time.Time) string {
	old := h.Get(traceHeaderName)
	var v string
	if old != "" && len(old) <= 1024 && strings.Contains(old, "Root=") {
		var b strings.Builder
		b.WriteString("Self=" + traceID(now))
		for f := range strings.SplitSeq(old, ";") {
			if f = strings.TrimSpace(f); f == "" || strings.HasPrefix(f, "Self=") {
				continue
			}
			b.WriteByte(';')
			b.WriteString(f)
		}
		v = b.String()
	} else {
		var b [5 + traceIDLen]byte
		v = string(appendTraceID(append(b[:0], "Root="...), now))
	}
	h.Set(traceHeaderName, v)
	return v
}

// traceIDLen is the length of a trace id: "1-" 8 hex "-" 24 hex.
const traceIDLen = 2 + 8 + 1 + 24

// traceID is "1-{epoch hex}-{24 hex}", the X-Ray trace id format.
func traceID(now time.Time) string {
	var b [traceIDLen]byte
	return string(appendTraceID(b[:0], now))
}

// appendTraceID appends a trace id (traceID) to dst.
func appendTraceID(dst []byte, now time.Time) []byte {
	var r [12]byte
	u, w := rand.Uint64(), rand.Uint32()
	for i := range 8 {
		r[i] = byte(u >> (8 * i))
	}
	for i := range 4 {
		r[8+i] = byte(w >> (8 * i))
	}
	dst = append(dst, '1', '-')
	var e [16]byte
	epoch := strconv.AppendInt(e[:0], now.Unix(), 16)
	for range max(0, 8-len(epoch)) {
		dst = append(dst, '0')
	}
	dst = append(dst, epoch...)
	dst = append(dst, '-')
	return hex.AppendEncode(dst, r[:])
}
