package failure

import "testing"

// TestCatalogue: ids are unique, every entry has its words, and every
// error type Fulcrum classifies maps to a cause in the catalogue.
func TestCatalogue(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Catalogue() {
		if seen[c.ID] {
			t.Errorf("duplicate id %s", c.ID)
		}
		seen[c.ID] = true
		if c.Summary == "" || c.Fix == "" || (c.Side != "target" && c.Side != "lb" && c.Side != "client") {
			t.Errorf("%s is incomplete: %+v", c.ID, c)
		}
	}
	for et := ErrorType(1); int(et) < NumTypes; et++ {
		id := CauseOf(et, false)
		if _, ok := LookupCause(id); !ok {
			t.Errorf("%s maps to %q, not in the catalogue", et, id)
		}
	}
	if CauseOf(ConnectionTerminated, true) != CauseKeepaliveRace || CauseOf(ConnectionTerminated, false) != CauseTargetClosed {
		t.Error("connection_terminated: reused is the keep-alive race, fresh is a closed connection")
	}
	if CauseOf(None, false) != "" {
		t.Error("no error, no cause")
	}
}
