package proxy

import (
	"encoding/hex"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/accesslog"
)

// traceHeaderName is ALB's request tracing header.
const traceHeaderName = "X-Amzn-Trace-Id"

// The X-Amzn-Trace-Id value sent to the target is made as ALB does (AWS,
// "Request tracing for your Application Load Balancer"): without a header
// carrying a Root field, it is
// "Root=1-{8 hex digits of the epoch second}-{24 random hex digits}";
// with one, a Self field of the same form is put first, replacing any
// earlier Self, and the other fields are kept. A header over 1024 bytes
// is replaced. newRequestStrings makes it (traceValueLen,
// appendTraceValue); routeRequest sets it.

// traceKeeps reports whether the value made from the client's header old
// keeps old's fields after a new Self.
func traceKeeps(old string) bool {
	return old != "" && len(old) <= 1024 && strings.Contains(old, "Root=")
}

// traceKept trims one ';'-separated field of the client's header and
// reports whether the new value keeps it: not empty, not a Self.
func traceKept(f string) (string, bool) {
	f = strings.TrimSpace(f)
	return f, f != "" && !strings.HasPrefix(f, "Self=")
}

// traceValueLen is the length in bytes of the value appendTraceValue
// appends for the client's header old ("" for none).
func traceValueLen(old string) int {
	n := 5 + traceIDLen // "Root=" or "Self=", and the id
	if traceKeeps(old) {
		for f := range strings.SplitSeq(old, ";") {
			if f, ok := traceKept(f); ok {
				n += 1 + len(f)
			}
		}
	}
	return n
}

// appendTraceValue appends the X-Amzn-Trace-Id value for the client's
// header old ("" for none) to b, with a new trace id of now's epoch
// second. A value that is the new Root alone is recorded in packed
// (accesslog.PackedTrace) as the bytes it spells.
func appendTraceValue(b []byte, old string, now time.Time, packed *accesslog.PackedIDs) []byte {
	var raw [16]byte
	if !traceKeeps(old) {
		b = appendTraceID(append(b, "Root="...), now, &raw)
		if e := now.Unix(); e >= 0 && e < 1<<32 { // 8 hex digits
			packed.Trace = raw
			packed.Has |= accesslog.PackedTrace
		}
		return b
	}
	b = appendTraceID(append(b, "Self="...), now, &raw)
	for f := range strings.SplitSeq(old, ";") {
		if f, ok := traceKept(f); ok {
			b = append(append(b, ';'), f...)
		}
	}
	return b
}

// traceIDLen is the length of a trace id: "1-" 8 hex "-" 24 hex.
const traceIDLen = 2 + 8 + 1 + 24

// appendTraceID appends a trace id, "1-{epoch hex}-{24 hex}" (the X-Ray
// trace id format), to dst, and writes to raw the epoch's low 4 bytes,
// big-endian (all of it before 2106), and the 12 random bytes.
func appendTraceID(dst []byte, now time.Time, raw *[16]byte) []byte {
	sec := uint32(now.Unix())
	raw[0], raw[1], raw[2], raw[3] = byte(sec>>24), byte(sec>>16), byte(sec>>8), byte(sec)
	r := raw[4:]
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
	return hex.AppendEncode(dst, r)
}
