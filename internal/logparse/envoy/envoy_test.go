package envoy

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/logparse"
	"github.com/fulcrumlb/fulcrum/internal/logparse/logparsetest"
)

type row struct {
	Status        int
	Target, Cause string
	LB            bool
}

// TestTextCauses encodes the response flags of usage.rst
// (response flags, https://www.envoyproxy.io/docs/envoy/latest/configuration/observability/access_log/usage), one line each.
func TestTextCauses(t *testing.T) {
	want := []row{
		{204, "10.0.2.1:80", "", false},                                  // the docs' example
		{503, "10.0.0.5:8080", failure.CauseTargetNotListening, true},    // UF + delayed_connect_error:_111
		{503, "10.0.0.5:8080", failure.CauseKeepaliveRace, true},         // UC connection_termination
		{503, "10.0.0.7:8443", failure.CauseTLSCertificateInvalid, true}, // UF + TLS_error CERTIFICATE_VERIFY_FAILED
		{503, "", failure.CauseNoHealthyTargets, true},                   // UH
		{500, "10.0.0.5:8080", failure.CauseTarget5xx, false},            // no flags: the upstream's 500
	}
	var got []row
	for i, l := range lines(t, "text.log") {
		if !SniffText(l) {
			t.Errorf("line %d not sniffed", i+1)
		}
		var e logparse.Entry
		if err := ParseText(l, &e); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		got = append(got, row{e.Status, e.Target, e.Cause, e.LBError})
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestJSON(t *testing.T) {
	want := []row{{504, "10.0.0.5:8080", failure.CauseTargetResponseTimeout, true}, {200, "10.0.0.5:8080", "", false}}
	var got []row
	for i, l := range lines(t, "json.log") {
		if !SniffJSON(l) {
			t.Errorf("line %d not sniffed", i+1)
		}
		var e logparse.Entry
		if err := ParseJSON(l, &e); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		got = append(got, row{e.Status, e.Target, e.Cause, e.LBError})
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func FuzzParseText(f *testing.F) {
	for _, l := range lines(f, "text.log") {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var e logparse.Entry
		if ParseText(b, &e) == nil && (e.Status < 0 || e.Status > 999) {
			t.Errorf("status %d", e.Status)
		}
	})
}

func FuzzParseJSON(f *testing.F) {
	for _, l := range lines(f, "json.log") {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var e logparse.Entry
		if ParseJSON(b, &e) == nil && (e.Status < 0 || e.Status > 999) {
			t.Errorf("status %d", e.Status)
		}
	})
}

func lines(t testing.TB, name string) [][]byte {
	t.Helper()
	return logparsetest.Lines(t, "testdata/"+name)
}
