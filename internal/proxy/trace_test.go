package proxy

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/httpmsg"
)

// TestTraceHeaderFormat checks the X-Amzn-Trace-Id forms that
// newRequestStrings makes, and that traceValueLen is what
// appendTraceValue appends.
func TestTraceHeaderFormat(t *testing.T) {
	now := time.Unix(0x5f000000, 0)
	tests := []struct{ old, want string }{
		{"", `^Root=1-5f000000-[0-9a-f]{24}$`},
		{"Root=1-abc-def;Self=x;Sampled=1", `^Self=1-5f000000-[0-9a-f]{24};Root=1-abc-def;Sampled=1$`},
		{" Self=1-0-0 ; Root=1-abc-def;; Parent=7 ", `^Self=1-5f000000-[0-9a-f]{24};Root=1-abc-def;Parent=7$`},
		{"Sampled=1", `^Root=1-5f000000-[0-9a-f]{24}$`},                           // no Root: replaced
		{"Root=1-" + strings.Repeat("a", 1020), `^Root=1-5f000000-[0-9a-f]{24}$`}, // over 1024 bytes
	}
	for _, tc := range tests {
		r := &httpmsg.Request{Host: "h", URI: "/"}
		if tc.old != "" {
			r.Header.Add("x-amzn-trace-id", tc.old)
		}
		v := newRequestStrings(nil, r, false, "80", true, now).trace
		if !regexp.MustCompile(tc.want).MatchString(v) {
			t.Errorf("from %.40q: %q, want %s", tc.old, v, tc.want)
		}
		if n := traceValueLen(tc.old); n != len(v) {
			t.Errorf("from %.40q: traceValueLen %d, value %d bytes", tc.old, n, len(v))
		}
	}
}
