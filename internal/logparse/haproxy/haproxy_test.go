package haproxy

import (
	"testing"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/logparse"
	"github.com/fulcrumlb/fulcrum/internal/logparse/logparsetest"
)

func TestVendorExamples(t *testing.T) {
	parse := New()
	ls := docLines(t)
	var e logparse.Entry
	for i, l := range ls {
		if !Sniff(l) {
			t.Errorf("line %d not sniffed", i+1)
		}
	}
	if err := parse(ls[0], &e); err != nil {
		t.Fatal(err)
	}
	want := logparse.Entry{Kind: logparse.Request, Time: time.Date(2009, 2, 6, 12, 14, 14, 655e6, time.UTC), Client: "10.0.1.2:33317",
		Group: "static", Target: "srv1", Method: "GET", URL: "/index.html", Status: 200, TargetStatus: 200, TargetTime: 69 * time.Millisecond}
	if e != want {
		t.Errorf("httplog example:\n got %+v\nwant %+v", e, want)
	}
	if err := parse(ls[1], &e); err != nil || e.Kind != logparse.Event || e.Cause != failure.CauseTargetNotListening || e.Target != "srv" || e.Group != "be" {
		t.Errorf("server DOWN event: %v %+v", err, e)
	}
	if err := parse(ls[2], &e); err != nil || e.Kind != logparse.Event || e.Cause != failure.CauseNoHealthyTargets {
		t.Errorf("no server event: %v %+v", err, e)
	}
	// Health check lines (src/check.c) are events too.
	for line, cause := range map[string]string{
		`Health check for server be/s2 failed, reason: Layer7 wrong status, code: 503, info: "Service Unavailable", check duration: 1ms, status: 0/2 DOWN.`: failure.CauseHealthCheckStatus,
		`Health check for server be/s2 failed, reason: Layer4 timeout, check duration: 2001ms, status: 0/2 DOWN.`:                                           failure.CauseTargetPortFiltered,
		`Health check for server be/s2 succeeded, reason: Layer7 check passed, code: 200, check duration: 1ms, status: 3/3 UP.`:                             "",
	} {
		if !Sniff([]byte(line)) {
			t.Errorf("not sniffed: %s", line)
		}
		if err := parse([]byte(line), &e); err != nil || e.Kind != logparse.Event || e.Cause != cause || e.Target != "s2" {
			t.Errorf("%s: %v %+v, want cause %q", line, err, e, cause)
		}
	}
}

// TestCauses encodes the HAProxy Configuration Manual §8.5's termination states, one row
// per documented pair, behind three different envelopes.
func TestCauses(t *testing.T) {
	mk := func(prefix, server, timers, status, term string) []byte {
		return []byte(prefix + "10.0.1.2:33317 [22/Nov/2026:10:00:00.000] fe be/" + server + " " + timers + " " + status + " 0 - - " + term + ` 1/1/1/1/0 0/0 "GET / HTTP/1.1"`)
	}
	const syslog, rfc5424, docker = "<134>Nov 22 10:00:00 lb haproxy[1]: ", "<134>1 2026-11-22T10:00:00Z lb haproxy 1 - - ", "web-1  | "
	tests := []struct {
		signature string
		line      []byte
		cause     string
		lbError   bool
	}{
		{"SC: the server refused the connection", mk(syslog, "s1", "0/0/-1/-1/0", "503", "SC--"), failure.CauseTargetNotListening, true},
		{"sC: connect timeout", mk(rfc5424, "s1", "0/0/-1/-1/5000", "503", "sC--"), failure.CauseTargetPortFiltered, true},
		{"SH: the server aborted before its headers", mk(docker, "s1", "0/0/0/-1/3", "502", "SH--"), failure.CauseTargetClosed, true},
		{"sH: server timeout", mk("", "s1", "0/0/0/-1/30000", "504", "sH--"), failure.CauseTargetResponseTimeout, true},
		{"sQ: expired in the queue (every server at maxconn)", mk("", "s1", "0/5000/-1/-1/5000", "503", "sQ--"), failure.CauseConnectionLimit, true},
		{"PH: HAProxy blocked an invalid response", mk("", "s1", "0/0/0/1/1", "502", "PH--"), failure.CauseInvalidResponse, true},
		{"SD: server reset during data", mk("", "s1", "0/0/0/1/9", "200", "SD--"), failure.CauseResponseIncomplete, false},
		{"CD: the client aborted", mk("", "s1", "0/0/0/1/9", "200", "CD--"), failure.CauseClientClosed, false},
		{"<NOSRV> 503: no server available", mk("", "<NOSRV>", "0/-1/-1/-1/0", "503", "SC--"), failure.CauseNoHealthyTargets, true},
		{"-- with 500: the server's own answer", mk("", "s1", "0/0/0/1/1", "500", "----"), failure.CauseTarget5xx, false},
		{"-- with 200: no failure", mk("", "s1", "0/0/0/1/1", "200", "----"), "", false},
	}
	parse := New()
	for _, tc := range tests {
		var e logparse.Entry
		if err := parse(tc.line, &e); err != nil {
			t.Fatalf("%s: %v", tc.signature, err)
		}
		if e.Cause != tc.cause || e.LBError != tc.lbError {
			t.Errorf("%s: cause %q lb %v, want %q %v", tc.signature, e.Cause, e.LBError, tc.cause, tc.lbError)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, l := range docLines(f) {
		f.Add(l)
	}
	parse := New()
	f.Fuzz(func(t *testing.T, b []byte) {
		var e logparse.Entry
		if parse(b, &e) == nil && (e.Status < 0 || e.Status > 999) {
			t.Errorf("status %d", e.Status)
		}
	})
}

func docLines(t testing.TB) [][]byte {
	t.Helper()
	return logparsetest.Lines(t, "testdata/docs.log")
}
