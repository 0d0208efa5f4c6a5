package fulcrumjson

import (
	"testing"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/accesslog"
	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/logparse"
)

// record is a Fulcrum request as the proxy logs it.
func record(status, targetStatus int, et failure.ErrorType, attempts ...accesslog.Attempt) *accesslog.Record {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	return &accesslog.Record{Type: "http", Time: now, RequestCreation: now, Listener: "web", Client: "10.0.0.9:5000",
		Target: "10.0.0.5:8080", TargetGroup: "app", ELBStatus: status, TargetStatus: targetStatus, Error: et,
		Method: "GET", URL: "http://x:80/", Proto: "HTTP/1.1", RequestProcessing: 0, TargetProcessing: -1, ResponseProcessing: -1,
		Attempts: attempts}
}

// TestOwnLog parses lines written by Fulcrum's own encoder, so the two
// cannot drift apart.
func TestOwnLog(t *testing.T) {
	terminated := failure.Class{Type: failure.ConnectionTerminated, Phase: failure.PhaseAwaitHeaders}
	tests := []struct {
		name  string
		rec   *accesslog.Record
		cause string
	}{
		{"refused", record(502, 0, failure.ConnectionRefused, accesslog.Attempt{Target: "10.0.0.5:8080", Class: failure.Class{Type: failure.ConnectionRefused}}), failure.CauseTargetNotListening},
		{"closed on a reused connection: the keep-alive race", record(502, 0, failure.ConnectionTerminated,
			accesslog.Attempt{Target: "10.0.0.5:8080", Class: func() failure.Class { c := terminated; c.Reused = true; return c }()}), failure.CauseKeepaliveRace},
		{"closed on a fresh connection", record(502, 0, failure.ConnectionTerminated, accesslog.Attempt{Target: "10.0.0.5:8080", Class: terminated}), failure.CauseTargetClosed},
		{"the target's own 503", record(503, 503, failure.None, accesslog.Attempt{Target: "10.0.0.5:8080", Status: 503}), failure.CauseTarget5xx},
		{"200", record(200, 200, failure.None, accesslog.Attempt{Target: "10.0.0.5:8080", Status: 200}), ""},
	}
	for _, tc := range tests {
		line := accesslog.AppendJSON(nil, tc.rec)
		if !Sniff(line) {
			t.Fatalf("%s: not sniffed: %s", tc.name, line)
		}
		var e logparse.Entry
		if err := Parse(line[:len(line)-1], &e); err != nil {
			t.Fatalf("%s: %v\n%s", tc.name, err, line)
		}
		if e.Cause != tc.cause || e.Status != tc.rec.ELBStatus || e.Target != "10.0.0.5:8080" || e.Group != "app" {
			t.Errorf("%s: %+v, want cause %q", tc.name, e, tc.cause)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(accesslog.AppendJSON(nil, record(502, 0, failure.ConnectionRefused)))
	f.Fuzz(func(t *testing.T, b []byte) {
		var e logparse.Entry
		if Parse(b, &e) == nil && e.Cause != "" && e.Signature == "" {
			t.Errorf("cause without signature: %+v", e)
		}
	})
}
