package accesslog

import "testing"

// A slot starts with room for one attempt; a retried request grows it
// once, and Reset keeps the room, so the next retried request on the
// same slot allocates nothing.
func TestRecordKeepsAttemptRoom(t *testing.T) {
	r := NewRecord()
	if cap(r.Attempts) != 1 {
		t.Fatalf("a new record has room for %d attempts, want 1", cap(r.Attempts))
	}
	retried := func() {
		for range 3 {
			r.Attempts = append(r.Attempts, Attempt{Target: "10.0.0.1:80"})
		}
		r.Reset()
	}
	retried()
	if n := testing.AllocsPerRun(100, retried); n != 0 {
		t.Errorf("a retried request on a used slot: %.1f allocations, want 0", n)
	}
	if cap(r.Attempts) < 3 {
		t.Errorf("after Reset the record has room for %d attempts, want at least 3", cap(r.Attempts))
	}
}
