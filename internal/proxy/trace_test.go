package proxy

import (
	"regexp"
	"testing"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/httpmsg"
)

// TestTraceHeaderFormat checks the X-Amzn-Trace-Id forms and that a new
// Root costs one allocation (the value) in a header with room for it.
func TestTraceHeaderFormat(t *testing.T) {
	h := make(httpmsg.Header, 0, 4)
	if v := traceHeader(&h, time.Unix(0x5f000000, 0)); !regexp.MustCompile(`^Root=1-5f000000-[0-9a-f]{24}$`).MatchString(v) {
		t.Errorf("new: %q", v)
	}
	if h.Get("x-amzn-trace-id") != h[0].Value || len(h) != 1 {
		t.Errorf("header after: %v", h)
	}
	old := httpmsg.Header{{Name: "X-Amzn-Trace-Id", Value: "Root=1-abc-def;Self=x;Sampled=1"}}
	if v := traceHeader(&old, time.Unix(0x5f000000, 0)); !regexp.MustCompile(`^Self=1-5f000000-[0-9a-f]{24};Root=1-abc-def;Sampled=1$`).MatchString(v) {
		t.Errorf("with a Root: %q", v)
	}
	if len(old) != 1 {
		t.Errorf("the old field was kept beside the new: %v", old)
	}
	if n := testing.AllocsPerRun(100, func() { h = h[:0]; traceHeader(&h, time.Now()) }); n > 1 {
		t.Errorf("%v allocations, want 1", n)
	}
}
