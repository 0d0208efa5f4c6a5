package proxy

import (
	"net/http"
	"testing"
	"time"
)

// TestDateCache: the cached value is http.TimeFormat of the second asked
// for, in GMT, and changes with the second.
func TestDateCache(t *testing.T) {
	var d dateCache
	at := time.Date(2026, 12, 3, 5, 50, 0, 900_000_000, time.FixedZone("X", 3600))
	if got, want := string(d.append([]byte("Date: "), at)), "Date: "+at.UTC().Format(http.TimeFormat); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := string(d.append(nil, at.Add(50*time.Millisecond))); got != "Thu, 03 Dec 2026 04:50:00 GMT" {
		t.Errorf("same second: %q", got)
	}
	if got := string(d.append(nil, at.Add(150*time.Millisecond))); got != "Thu, 03 Dec 2026 04:50:01 GMT" {
		t.Errorf("next second: %q", got)
	}
}
