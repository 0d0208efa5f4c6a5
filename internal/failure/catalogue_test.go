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
	for _, id := range []string{CauseTargetSlowerThanIdle, CauseTargetHung, CauseNoRegisteredTargets, CauseAllTargetsDraining} {
		if c, ok := LookupCause(id); !ok || c.Summary == "" {
			t.Errorf("%s is not in the catalogue", id)
		}
	}
	if CauseOf(None, false) != "" {
		t.Error("no error, no cause")
	}
}

// TestFixFor: a fix names the real target, port and path.
func TestFixFor(t *testing.T) {
	c, _ := LookupCause(CauseTargetNotListening)
	if got := c.FixFor("10.0.0.5:8080", "/", "/health"); got != "On the target: ss -ltnp | grep :8080; start the service or fix the registered port." {
		t.Errorf("not listening: %q", got)
	}
	c, _ = LookupCause(CauseHealthCheckStatus)
	if got := c.FixFor("10.0.0.5:8080", "/", "/health"); got != "curl -i http://10.0.0.5:8080/health on the target; fix the endpoint or health_check.matcher." {
		t.Errorf("health status: %q", got)
	}
	c, _ = LookupCause(CauseTargetUnreachable)
	if got := c.FixFor("10.0.0.5:8080", "", ""); got != "Check routes and subnets between the load balancer and the target: ip route get 10.0.0.5." {
		t.Errorf("unreachable: %q", got)
	}
}
