package proxy

import (
	"regexp"
	"testing"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/httpmsg"
)

// TestRequestStrings checks each piece of a request's strings, that they
// are made in one allocation, and that the trace value is left out when
// not asked for.
func TestRequestStrings(t *testing.T) {
	r := &httpmsg.Request{Method: "GET", Host: "shop.example.com"}
	if err := r.SetTarget("GET", "/a?b=1"); err != nil {
		t.Fatal(err)
	}
	r.Header.Add("X-Amzn-Trace-Id", "Root=1-abc-def")
	now := time.Unix(0x5f000000, 0)
	s := newRequestStrings(r, true, "8443", true, now)
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(s.id) {
		t.Errorf("id %q", s.id)
	}
	if s.url != "https://shop.example.com:8443/a?b=1" {
		t.Errorf("url %q", s.url)
	}
	if !regexp.MustCompile(`^Self=1-5f000000-[0-9a-f]{24};Root=1-abc-def$`).MatchString(s.trace) {
		t.Errorf("trace %q", s.trace)
	}
	if s2 := newRequestStrings(r, true, "8443", true, now); s2.id == s.id || s2.trace == s.trace {
		t.Errorf("two requests share id %q or trace %q", s.id, s.trace)
	}
	if s := newRequestStrings(r, false, "80", false, now); s.trace != "" || s.url != "http://shop.example.com:80/a?b=1" || len(s.id) != 32 {
		t.Errorf("without trace: %+v", s)
	}
	for _, trace := range []bool{false, true} {
		if n := testing.AllocsPerRun(100, func() { s = newRequestStrings(r, false, "80", trace, now) }); n != 1 {
			t.Errorf("trace %v: %v allocations, want 1", trace, n)
		}
	}
}
