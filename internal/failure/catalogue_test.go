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

// TestCauseForStatus: each of Fulcrum's own client-side answers names its
// own client-side cause, and everything else is CauseOf's.
func TestCauseForStatus(t *testing.T) {
	cases := []struct {
		t      ErrorType
		status int
		want   string
	}{
		{HTTPRequestError, 400, CauseMalformedRequest},
		{HTTPRequestDenied, 400, CauseDesyncMitigationRefused},
		{HTTPRequestError, 408, CauseRequestHeaderTimeout},
		{HTTPRequestDenied, 413, CauseRequestBodyTooLarge},
		{HTTPRequestDenied, 414, CauseURITooLong},
		{HTTPRequestError, 414, CauseURITooLong},
		{HTTPRequestDenied, 431, CauseRequestHeaderTooLarge},
		{HTTPRequestDenied, 463, CauseTooManyForwardedFor},
		{HTTPRequestError, 501, CauseUnsupportedTransferCoding},
		{HTTPRequestError, 505, CauseUnsupportedHTTPVersion},
		{ClientClosed, 460, CauseClientClosed},
		{None, 460, CauseClientClosed},
		{ConnectionRefused, 502, CauseTargetNotListening},
		{ConnectionRefused, 505, CauseTargetNotListening},
		{None, 200, ""},
	}
	for _, c := range cases {
		got := CauseForStatus(c.t, c.status, false)
		if got != c.want {
			t.Errorf("CauseForStatus(%s, %d) = %q, want %q", c.t, c.status, got, c.want)
			continue
		}
		if got == "" {
			continue
		}
		cause, ok := LookupCause(got)
		if !ok {
			t.Errorf("%s is not in the catalogue", got)
		}
		if (c.t == HTTPRequestError || c.t == HTTPRequestDenied || c.status == 460) && cause.Side != "client" {
			t.Errorf("%s: side %q, want client", got, cause.Side)
		}
	}
	if CauseForStatus(ConnectionTerminated, 502, true) != CauseKeepaliveRace {
		t.Error("reused is passed on to CauseOf")
	}
}
