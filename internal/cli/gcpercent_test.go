package cli

import (
	"runtime/debug"
	"testing"
)

func TestServeGCPercent(t *testing.T) {
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	if got := setServeGCPercent(""); got != serveGCPercent {
		t.Errorf("without GOGC: %d in effect, want %d", got, serveGCPercent)
	}
	if p := debug.SetGCPercent(100); p != serveGCPercent {
		t.Errorf("without GOGC the runtime has %d, want %d", p, serveGCPercent)
	}
	// GOGC set: the runtime's value (here 100, as if GOGC=100) stays.
	if got := setServeGCPercent("100"); got != 100 {
		t.Errorf("with GOGC=100: %d in effect, want 100", got)
	}
	if p := debug.SetGCPercent(100); p != 100 {
		t.Errorf("with GOGC set the runtime has %d, want it untouched (100)", p)
	}
}
