package proxy

import (
	"net/http"
	"regexp"
	"testing"
	"time"
)

// TestTraceHeaderFormat checks the X-Amzn-Trace-Id forms and that a new
// Root costs two allocations (the value and its slice).
func TestTraceHeaderFormat(t *testing.T) {
	h := http.Header{}
	if v := traceHeader(h, time.Unix(0x5f000000, 0)); !regexp.MustCompile(`^Root=1-5f000000-[0-9a-f]{24}$`).MatchString(v) {
		t.Errorf("new: %q", v)
	}
	old := http.Header{"X-Amzn-Trace-Id": {"Root=1-abc-def;Self=x;Sampled=1"}}
	if v := traceHeader(old, time.Unix(0x5f000000, 0)); !regexp.MustCompile(`^Self=1-5f000000-[0-9a-f]{24};Root=1-abc-def;Sampled=1$`).MatchString(v) {
		t.Errorf("with a Root: %q", v)
	}
	if n := testing.AllocsPerRun(100, func() { delete(h, traceHeaderName); traceHeader(h, time.Now()) }); n > 2 {
		t.Errorf("%v allocations, want 2", n)
	}
}
