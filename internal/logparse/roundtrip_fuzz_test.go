package logparse_test

import (
	"testing"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/accesslog"
	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/logparse"
	"github.com/fulcrumlb/fulcrum/internal/logparse/alb"
	"github.com/fulcrumlb/fulcrum/internal/logparse/fulcrumjson"
)

// FuzzEncoderRoundTrip: whatever a client puts in the fields it controls
// (User-Agent, URL, request id, domain), a line Fulcrum's ALB and JSON
// encoders write parses back with the same statuses and target.
func FuzzEncoderRoundTrip(f *testing.F) {
	f.Add("curl/8.0", "http://x:80/p?q=1", "abc", "x.example", "10.0.0.1:80", 200, 200, uint8(0))
	f.Add(`a "quoted" \ ua`, "http://x:80/\x00\n", "id with spaces", "", "", 502, 0, uint8(failure.ConnectionRefused))
	f.Fuzz(func(t *testing.T, ua, url, id, domain, tgt string, status, tstatus int, et uint8) {
		if status < 100 || status > 599 || tstatus < 0 || tstatus > 599 || (tstatus > 0 && tstatus < 100) {
			return
		}
		r := &accesslog.Record{Type: "http", Time: time.Unix(1700000000, 0).UTC(), Listener: "web", Client: "192.0.2.1:5000",
			Target: tgt, ELBStatus: status, TargetStatus: tstatus, Method: "GET", URL: url, Proto: "HTTP/1.1",
			UserAgent: ua, TargetGroup: "app", TraceID: id, DomainName: domain, Error: failure.ErrorType(et % uint8(failure.NumTypes)),
			RequestProcessing: time.Millisecond, TargetProcessing: -1, ResponseProcessing: -1, RequestCreation: time.Unix(1700000000, 0).UTC()}
		for _, enc := range []struct {
			name   string
			encode func([]byte, *accesslog.Record) []byte
			parse  func([]byte, *logparse.Entry) error
		}{
			{"alb", accesslog.AppendALB, alb.Parse},
			{"json", accesslog.AppendJSON, fulcrumjson.Parse},
		} {
			line := enc.encode(nil, r)
			if n := len(line); n > 0 && line[n-1] == '\n' {
				line = line[:n-1]
			}
			var e logparse.Entry
			if err := enc.parse(line, &e); err != nil {
				t.Fatalf("%s: own line does not parse: %v\n%q", enc.name, err, line)
			}
			if e.Status != status || e.TargetStatus != tstatus {
				t.Fatalf("%s: statuses %d/%d, want %d/%d\n%q", enc.name, e.Status, e.TargetStatus, status, tstatus, line)
			}
		}
	})
}
