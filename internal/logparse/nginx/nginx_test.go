package nginx

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/logparse"
	"github.com/fulcrumlb/fulcrum/internal/logparse/logparsetest"
)

// TestErrorCauses: each upstream message of nginx's
// src/http/ngx_http_upstream.c names its cause
// (errno number and "while …" phase).
func TestErrorCauses(t *testing.T) {
	want := []struct{ target, cause string }{
		{"10.0.0.5:8080", failure.CauseTargetNotListening},    // (111) while connecting
		{"10.0.0.6:8080", failure.CauseTargetPortFiltered},    // timed out while connecting
		{"10.0.0.5:8080", failure.CauseTargetResponseTimeout}, // timed out reading the header
		{"10.0.0.5:8080", failure.CauseKeepaliveRace},         // prematurely closed reading the header
		{"10.0.0.5:8080", failure.CauseTargetClosed},          // (104) reset
		{"backend", failure.CauseNoHealthyTargets},            // no live upstreams
		{"10.0.0.5:8080", failure.CauseInvalidResponse},       // invalid header
		{"10.0.0.7:8443", failure.CauseTLSHandshakeFailed},    // SSL_do_handshake() failed
		{"10.0.0.8:8080", failure.CauseTargetUnreachable},     // (113) no route
		{"", ""}, // a notice: parsed, no cause
	}
	var got []struct{ target, cause string }
	for i, l := range lines(t, "error.log") {
		if !SniffError(l) {
			t.Errorf("line %d not sniffed", i+1)
		}
		var e logparse.Entry
		if err := ParseError(l, &e); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if e.Kind != logparse.Event {
			t.Errorf("line %d: error log lines are events", i+1)
		}
		got = append(got, struct{ target, cause string }{e.Target, e.Cause})
	}
	if d := cmp.Diff(want, got, cmp.AllowUnexported(struct{ target, cause string }{})); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestAccess(t *testing.T) {
	type row struct {
		Status, TargetStatus int
		Target, Cause        string
		LB                   bool
	}
	want := []row{
		{200, 0, "", "", false},
		// nginx puts its own 502/504 in $upstream_status too: not proof.
		{502, 0, "10.0.0.5:8080", failure.CauseLBError, true},
		{504, 0, "10.0.0.6:8080", failure.CauseTargetResponseTimeout, true},
		{200, 200, "10.0.0.5:8080", "", false},
		{499, 0, "", failure.CauseClientClosed, false},
	}
	var got []row
	for i, l := range lines(t, "access.log") {
		if !SniffAccess(l) {
			t.Errorf("line %d not sniffed", i+1)
		}
		var e logparse.Entry
		if err := ParseAccess(l, &e); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		got = append(got, row{e.Status, e.TargetStatus, e.Target, e.Cause, e.LBError})
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	// Without upstream variables, nginx's own 502 is the load balancer's.
	var e logparse.Entry
	ParseAccess([]byte(`10.0.0.9 - - [29/Oct/2024:14:51:09 +0000] "GET / HTTP/1.1" 502 157 "-" "curl"`), &e)
	if !e.LBError || e.Cause != failure.CauseLBError {
		t.Errorf("bare 502: %+v", e)
	}
	// Another 5xx in $upstream_status is the target's own answer.
	ParseAccess([]byte(`10.0.0.9 - - [29/Oct/2024:14:51:09 +0000] "GET / HTTP/1.1" 500 157 "-" "curl" 10.0.0.5:8080 500 0.010`), &e)
	if e.LBError || e.Cause != failure.CauseTarget5xx {
		t.Errorf("upstream 500: %+v", e)
	}
}

func FuzzParseError(f *testing.F) {
	for _, l := range lines(f, "error.log") {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var e logparse.Entry
		if ParseError(b, &e) == nil && e.Kind != logparse.Event {
			t.Error("error log lines are events")
		}
	})
}

func FuzzParseAccess(f *testing.F) {
	for _, l := range lines(f, "access.log") {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var e logparse.Entry
		if ParseAccess(b, &e) == nil && (e.Status < 0 || e.Status > 999) {
			t.Errorf("status %d", e.Status)
		}
	})
}

func lines(t testing.TB, name string) [][]byte {
	t.Helper()
	return logparsetest.Lines(t, "testdata/"+name)
}
