package alb

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/logparse"
	"github.com/fulcrumlb/fulcrum/internal/logparse/logparsetest"
)

// TestVendorExamples parses every published example and checks the
// fields that matter.
func TestVendorExamples(t *testing.T) {
	type got struct {
		Status, TargetStatus int
		Target, Method, URL  string
		Cause                string
		Excluded             bool
	}
	var all []got
	for _, name := range []string{"aws-docs.log", "aws-kc-502.log", "observed.log"} {
		for i, l := range lines(t, name) {
			if !Sniff(l) {
				t.Errorf("%s:%d: not sniffed as ALB", name, i+1)
			}
			var e logparse.Entry
			if err := Parse(l, &e); err != nil {
				t.Fatalf("%s:%d: %v", name, i+1, err)
			}
			if e.Time.IsZero() {
				t.Errorf("%s:%d: no time", name, i+1)
			}
			all = append(all, got{e.Status, e.TargetStatus, e.Target, e.Method, e.URL, e.Cause, e.Excluded})
		}
	}
	want := []got{
		{200, 200, "10.0.0.1:80", "GET", "http://www.example.com:80/", "", false},
		{200, 200, "10.0.0.1:80", "GET", "https://www.example.com:443/", "", false},
		{200, 200, "10.0.0.66:9000", "GET", "https://10.0.2.105:773/", "", false},
		{101, 101, "10.0.1.192:8010", "GET", "http://10.0.0.30:80/", "", false},
		{101, 101, "10.0.0.171:8010", "GET", "https://10.0.0.30:443/", "", false},
		{200, 200, "", "GET", "http://www.example.com:80/", "", false},
		// Lambda failure: ALB-made 502 with a Lambda error_reason.
		{502, 0, "", "GET", "http://www.example.com:80/", failure.CauseInvalidResponse, false},
		// KC-502: the target closed the connection under the request.
		{502, 0, "10.0.0.1:80", "GET", "http://example.com:80", failure.CauseKeepaliveRace, false},
		{400, 0, "", "", "http://myalb1-878688131.us-east-1.elb.amazonaws.com:80-", "", false},
		{503, 0, "", "GET", "http://35.79.85.199:80/.env", failure.CauseNoHealthyTargets, false},
		{404, 0, "", "GET", "http://k8s-tileserver-617dd1df30-606955064.us-east-1.elb.amazonaws.com:80/", "", false},
		{404, 0, "", "POST", "https://11.22.33.44:443/", "", false},
		{200, 200, "10.20.20.37:80", "GET", "https://tile-staging.terrastride.com:443/data/roads_trails_merged-trails-z18_v2.json", "", false},
		{400, 0, "", "", "http://k8s-tileserver-617dd1df30-606955064.us-east-1.elb.amazonaws.com:80-", "", false},
	}
	if d := cmp.Diff(want, all); d != "" {
		t.Errorf("parsed examples (-want +got):\n%s", d)
	}
}

// line builds an ALB line with the fields cause rules read.
func line(timings, elb, target, targetAddr, actions, errorReason string) []byte {
	return []byte("http 2026-11-22T10:00:00.000000Z app/lb/1 198.51.100.7:4000 " + targetAddr + " " + timings + " " + elb + " " + target +
		` 10 20 "GET http://x:80/ HTTP/1.1" "curl" - - arn:aws:elasticloadbalancing:r:1:targetgroup/web/abc "Root=1" "-" "-" 0 2026-11-22T10:00:00.000000Z "` +
		actions + `" "-" "` + errorReason + `" "-" "-" "-" "-"`)
}

// TestCauses encodes the AWS troubleshooting signatures
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-troubleshooting.html), one row each.
func TestCauses(t *testing.T) {
	tests := []struct {
		signature string
		line      []byte
		cause     string
		lbError   bool
		excluded  bool
	}{
		{"502, target status -, timings -1 -1 -1: TCP RST on connect (KC-502)",
			line("-1 -1 -1", "502", "-", "10.0.0.1:80", "forward", "-"), failure.CauseTargetNotListening, true, false},
		{"502, target status -, request and target time set, response -1: target closed the connection (KC-502)",
			line("0.001 4.205 -1", "502", "-", "10.0.0.1:80", "forward", "-"), failure.CauseKeepaliveRace, true, false},
		{"504, timings -1: connect timeout (troubleshooting: 504)",
			line("-1 -1 -1", "504", "-", "10.0.0.1:80", "forward", "-"), failure.CauseTargetPortFiltered, true, false},
		{"504 with request time set: no response within the idle timeout",
			line("0.001 -1 -1", "504", "-", "10.0.0.1:80", "forward", "-"), failure.CauseTargetResponseTimeout, true, false},
		{"503 with target -: no registered targets",
			line("-1 -1 -1", "503", "-", "-", "forward", "-"), failure.CauseNoHealthyTargets, true, false},
		{"503 from a fixed-response rule is not a backend failure",
			line("-1 -1 -1", "503", "-", "-", "fixed-response", "-"), "", false, true},
		{"elb 502 = target 502: the target's own answer",
			line("0.001 0.002 0.000", "502", "502", "10.0.0.1:80", "forward", "-"), failure.CauseTarget5xx, false, false},
		{"460: client closed",
			line("0.001 -1 -1", "460", "-", "10.0.0.1:80", "forward", "-"), failure.CauseClientClosed, false, false},
		{"Fulcrum's ALB log: error_reason connection_refused",
			line("0.000 -1 -1", "502", "-", "10.0.0.1:80", "forward", "connection_refused"), failure.CauseTargetNotListening, true, false},
		{"Fulcrum's ALB log: error_reason tls_certificate_error",
			line("0.000 -1 -1", "502", "-", "10.0.0.1:80", "forward", "tls_certificate_error"), failure.CauseTLSCertificateInvalid, true, false},
		{"200: no failure",
			line("0.000 0.001 0.000", "200", "200", "10.0.0.1:80", "forward", "-"), "", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.signature, func(t *testing.T) {
			var e logparse.Entry
			if err := Parse(tc.line, &e); err != nil {
				t.Fatal(err)
			}
			if e.Cause != tc.cause || e.LBError != tc.lbError || e.Excluded != tc.excluded {
				t.Errorf("cause %q lb %v excluded %v (signature %q), want %q %v %v", e.Cause, e.LBError, e.Excluded, e.Signature, tc.cause, tc.lbError, tc.excluded)
			}
			if tc.cause != "" && e.Signature == "" {
				t.Error("a cause needs its signature")
			}
		})
	}
}

func TestEdgeCases(t *testing.T) {
	// IPv6 client without brackets, a request with spaces, a short line.
	l := []byte(`h2 2026-11-22T10:00:00.5Z app/lb/1 2a02:1234::f215:50718 10.0.0.1:80 0.1 0.2 0.3 200 200 1 2 "GET http://x:80/a b c HTTP/2.0" "ua"`)
	var e logparse.Entry
	if err := Parse(l, &e); err != nil {
		t.Fatal(err)
	}
	if e.Client != "2a02:1234::f215:50718" || e.URL != "http://x:80/a b c" || e.TargetTime != 200*time.Millisecond {
		t.Errorf("%+v", e)
	}
	if err := Parse([]byte("http 2026-11-22T10:00:00Z app/lb/1"), &e); err == nil {
		t.Error("a short line must not parse")
	}
	if err := Parse([]byte(`tcp 2026-11-22T10:00:00Z a b c d e f g h i j "k"`), &e); err == nil {
		t.Error("an unknown type must not parse")
	}
}

// TestFieldCountEras cuts the documented example after 24, 25, 27 and 29
// fields (the ALB format's eras) and adds unknown trailing fields: every
// variant parses to the same request.
func TestFieldCountEras(t *testing.T) {
	full := lines(t, "aws-docs.log")[0]
	s := logparse.NewScanner(full)
	var raw []string
	for {
		start := len(full) - len(s.Rest())
		if _, ok := s.Next(); !ok {
			break
		}
		raw = append(raw, string(full[start:len(full)-len(s.Rest())]))
	}
	for _, n := range []int{24, 25, 27, 29} {
		l := []byte(strings.TrimSpace(strings.Join(raw[:n], "")))
		var e logparse.Entry
		if err := Parse(l, &e); err != nil || e.Status != 200 || e.Target != "10.0.0.1:80" || e.URL != "http://www.example.com:80/" {
			t.Errorf("%d fields: %v %+v", n, err, e)
		}
	}
	var e logparse.Entry
	if err := Parse(append(append([]byte{}, full...), ` TID_1 "-" "-" "-" 100.51.96.60 "-" "-" "future" field`...), &e); err != nil || e.Status != 200 {
		t.Errorf("trailing fields: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"aws-docs.log", "aws-kc-502.log", "observed.log"} {
		for _, l := range lines(f, name) {
			f.Add(l)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var e logparse.Entry
		if err := Parse(b, &e); err != nil {
			return
		}
		if e.Status < 0 || e.Status > 999 || (e.Cause != "" && e.Signature == "") {
			t.Errorf("inconsistent entry %+v", e)
		}
	})
}

func lines(t testing.TB, name string) [][]byte {
	t.Helper()
	return logparsetest.Lines(t, filepath.Join("testdata", name))
}
