package target

import (
	"sync"
	"testing"
)

// TestAttach: a target keeps one attachment, found only under its key;
// a newer attachment replaces it, and Detach removes only its own.
func TestAttach(t *testing.T) {
	tg := New("app", "10.0.0.1:80", 1, Health{})
	a, b := new(int), new(int)
	if v := tg.Attached(a); v != nil {
		t.Fatalf("fresh target has %v attached", v)
	}
	tg.Attach(&Attachment{a, "pool-a"})
	if v := tg.Attached(a); v != "pool-a" {
		t.Errorf("Attached(a) = %v", v)
	}
	if v := tg.Attached(b); v != nil {
		t.Errorf("Attached(b) = %v, want nil: another key's value", v)
	}
	tg.Attach(&Attachment{b, "pool-b"})
	if tg.Attached(a) != nil || tg.Attached(b) != "pool-b" {
		t.Errorf("after Attach(b): a %v, b %v", tg.Attached(a), tg.Attached(b))
	}
	tg.Detach(a) // not a's any more: b's stays
	if tg.Attached(b) != "pool-b" {
		t.Error("Detach(a) removed b's attachment")
	}
	tg.Detach(b)
	if tg.Attached(b) != nil {
		t.Error("Detach(b) left b's attachment")
	}
	// Concurrent use is safe (go test -race).
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for range 1000 {
				tg.Attach(&Attachment{i, i})
				_ = tg.Attached(i)
				tg.Detach(i)
			}
		})
	}
	wg.Wait()
}
