package proxy

import (
	"strings"
	"testing"
	"time"
)

// TestNowAfter: nowAfter gives a time between its base and a time.Now
// taken after it, with a monotonic reading (so the durations between a
// request's timestamps are monotonic ones), and time.Now for a zero base.
func TestNowAfter(t *testing.T) {
	base := time.Now()
	got := nowAfter(base)
	after := time.Now()
	if got.Before(base) || got.After(after) {
		t.Errorf("nowAfter = base%+v, want between base and time.Now (base%+v)", got.Sub(base), after.Sub(base))
	}
	if !strings.Contains(got.String(), " m=") {
		t.Errorf("nowAfter(%v) = %v has no monotonic reading", base, got)
	}
	if d := got.Round(0).Sub(base.Round(0)); d < 0 || d > after.Sub(base) {
		t.Errorf("wall clock base%+v, want within the monotonic elapsed %v", d, after.Sub(base))
	}
	if z := nowAfter(time.Time{}); z.Before(after) {
		t.Errorf("nowAfter(zero) = %v, want time.Now (at least %v)", z, after)
	}
}
