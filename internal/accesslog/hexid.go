package accesslog

import (
	"encoding/hex"
	"strings"
)

// Fulcrum's own ids in the request history (historycodec.go): spelled
// back from the bytes the proxy made them from (Record.Packed), and a
// looked-up id packed to compare with them.

// packHexID packs an id of 32 lower-case hex digits (proxy/reqid.go)
// into dst; it reports false for anything else, upper case included (an
// id is matched as the string it is).
func packHexID(dst *[16]byte, s string) bool {
	if len(s) != 32 || strings.ContainsAny(s, "ABCDEF") {
		return false
	}
	_, err := hex.Decode(dst[:], []byte(s))
	return err == nil
}

// spellHexID spells raw, 16 bytes, as 32 lower-case hex digits and
// copies it to packed; a corrupt record (raw of another length) spells
// "" (the decoder has its error).
func spellHexID(packed *[16]byte, raw []byte) string {
	if len(raw) != 16 {
		return ""
	}
	copy(packed[:], raw)
	var b [32]byte
	return string(hex.AppendEncode(b[:0], raw))
}

// connIDPrefix starts Fulcrum's connection ids, "TID_" and 32 hex
// digits, after ALB's conn_trace_id.
const connIDPrefix = "TID_"

// spellConnID spells raw as a connection id, "TID_" and 32 hex
// digits, as spellHexID does.
func spellConnID(packed *[16]byte, raw []byte) string {
	if len(raw) != 16 {
		return ""
	}
	copy(packed[:], raw)
	var b [len(connIDPrefix) + 32]byte
	return string(hex.AppendEncode(append(b[:0], connIDPrefix...), raw))
}

// traceRootPrefix starts the X-Amzn-Trace-Id Fulcrum makes when the
// client sent none (proxy/trace.go): "Root=1-", the epoch second in 8
// hex digits, "-" and 24 random hex digits (the X-Ray trace id format,
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-request-tracing.html).
const traceRootPrefix = "Root=1-"

// traceRootLen is the length of such a value.
const traceRootLen = len(traceRootPrefix) + 8 + 1 + 24

// spellTraceRoot spells raw as an X-Amzn-Trace-Id of Fulcrum's own
// making, "Root=1-", 8 hex digits, "-" and 24, as spellHexID does.
func spellTraceRoot(packed *[16]byte, raw []byte) string {
	if len(raw) != 16 {
		return ""
	}
	copy(packed[:], raw)
	var b [traceRootLen]byte
	out := hex.AppendEncode(append(b[:0], traceRootPrefix...), raw[:4])
	out = hex.AppendEncode(append(out, '-'), raw[4:])
	return string(out)
}
