package elb

import (
	"testing"

	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/logparse"
	"github.com/fulcrumlb/fulcrum/internal/logparse/logparsetest"
)

func TestVendorExamples(t *testing.T) {
	ls := docLines(t)
	if len(ls) != 4 {
		t.Fatalf("%d lines", len(ls))
	}
	for i, l := range ls {
		var e logparse.Entry
		if !Sniff(l) {
			t.Errorf("line %d not sniffed", i+1)
		}
		if err := Parse(l, &e); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if e.Group != "my-loadbalancer" || e.Target != "10.0.0.1:80" || e.Cause != "" {
			t.Errorf("line %d: %+v", i+1, e)
		}
		// HTTP and HTTPS lines carry statuses; TCP and SSL lines "-".
		if wantStatus := map[int]int{0: 200, 1: 200, 2: 0, 3: 0}[i]; e.Status != wantStatus {
			t.Errorf("line %d: status %d, want %d", i+1, e.Status, wantStatus)
		}
	}
}

// TestCauses encodes the Classic ELB error pages
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/classic/ts-elb-http-errors.html): one row per documented signature.
func TestCauses(t *testing.T) {
	mk := func(backend, timings, elb, be string) []byte {
		return []byte("2026-11-22T10:00:00.000000Z my-lb 198.51.100.7:4000 " + backend + " " + timings + " " + elb + " " + be + ` 0 0 "GET http://x:80/ HTTP/1.1" "curl" - -`)
	}
	tests := []struct {
		signature string
		line      []byte
		cause     string
	}{
		{"504 -1 -1 -1 with backend status 0: the instance closed the connection (keep-alive shorter than the idle timeout)",
			mk("10.0.0.1:80", "-1 -1 -1", "504", "0"), failure.CauseKeepaliveRace},
		{"504 with timings: the application is slower than the idle timeout",
			mk("10.0.0.1:80", "0.000 60.001 -1", "504", "-"), failure.CauseTargetResponseTimeout},
		{"502: the ELB could not parse the instance's response", mk("10.0.0.1:80", "0.000 0.001 -1", "502", "-"), failure.CauseInvalidResponse},
		{"503 with backend -: no healthy instances or surge queue full", mk("-", "-1 -1 -1", "503", "-"), failure.CauseNoHealthyTargets},
		{"500 = backend 500: the instance's own answer", mk("10.0.0.1:80", "0.000 0.001 0.000", "500", "500"), failure.CauseTarget5xx},
	}
	for _, tc := range tests {
		var e logparse.Entry
		if err := Parse(tc.line, &e); err != nil {
			t.Fatalf("%s: %v", tc.signature, err)
		}
		if e.Cause != tc.cause {
			t.Errorf("%s: cause %q, want %q", tc.signature, e.Cause, tc.cause)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, l := range docLines(f) {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var e logparse.Entry
		if Parse(b, &e) == nil && (e.Status < 0 || e.Status > 999) {
			t.Errorf("status %d", e.Status)
		}
	})
}

func docLines(t testing.TB) [][]byte {
	t.Helper()
	return logparsetest.Lines(t, "testdata/aws-docs.log")
}
