package doctor

import (
	"strings"
	"testing"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/failure"
)

var now = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func ok(addr string) Connect { return Connect{Done: true, Address: addr, Outcome: "ok"} }

func base() Evidence {
	return Evidence{TargetGroup: "web", Target: "10.0.0.5:8080", PoolIdle: 60 * time.Second, ListenerIdle: 60 * time.Second,
		Traffic:     ok("10.0.0.5:8080"),
		Check:       HealthCheck{Done: true, Address: "10.0.0.5:8080", OK: true, Status: 200, Latency: 2 * time.Millisecond, Timeout: 5 * time.Second, Matcher: "200"},
		Conformance: Conformance{Done: true, Path: "/", Status: 200, StatusLine: "HTTP/1.1 200 OK", Framing: "content-length"},
		KeepAlive:   KeepAlive{Done: true, Limit: 75 * time.Second}}
}

// TestDiagnose: one row per rule, each turning evidence into the finding
// the catalogue names.
func TestDiagnose(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(*Evidence)
		id       string
		severity Severity
		evidence string
	}{
		{"healthy", func(*Evidence) {}, "", "", ""},
		{"refused", func(e *Evidence) {
			e.Traffic = Connect{Done: true, Address: e.Target, Outcome: "refused", Detail: "connection refused"}
			e.Check = HealthCheck{Done: true, Address: e.Target, Class: failure.Class{Type: failure.ConnectionRefused}}
		}, failure.CauseTargetNotListening, SeverityError, "refused"},
		{"connect timeout", func(e *Evidence) {
			e.Traffic = Connect{Done: true, Address: e.Target, Outcome: "timeout", Duration: time.Second}
		},
			failure.CauseTargetPortFiltered, SeverityError, "no answer within 1000.0 ms"},
		{"unreachable", func(e *Evidence) {
			e.Traffic = Connect{Done: true, Address: e.Target, Outcome: "unreachable", Detail: "no route to host"}
		}, failure.CauseTargetUnreachable, SeverityError, "no route to host"},
		{"dns", func(e *Evidence) { e.DNS = Connect{Done: true, Outcome: "dns", Detail: "no such host"} },
			failure.CauseDNSResolutionFailed, SeverityError, "no such host"},
		{"health port passes, traffic port refuses", func(e *Evidence) {
			e.HealthPort, e.Health = true, ok("10.0.0.5:8081")
			e.Traffic = Connect{Done: true, Address: e.Target, Outcome: "refused"}
		}, failure.CauseHealthCheckPortMismatch, SeverityError, "health checks pass on port 8081 while the traffic port 8080 is refused"},
		{"traffic port fine, health port refuses", func(e *Evidence) {
			e.HealthPort, e.Health = true, Connect{Done: true, Address: "10.0.0.5:8081", Outcome: "refused"}
			e.Check.OK, e.Check.Status = false, 0
		}, failure.CauseHealthCheckPortMismatch, SeverityError, "health-check port 8081: refused"},
		{"handshake", func(e *Evidence) { e.TLS = TLSInfo{Done: true, HandshakeErr: "remote error: tls: handshake failure"} },
			failure.CauseTLSHandshakeFailed, SeverityError, "handshake failure"},
		{"self-signed", func(e *Evidence) {
			e.TLS = TLSInfo{Done: true, Subject: "CN=x", VerifyErr: "x509: certificate signed by unknown authority"}
		}, failure.CauseTLSCertificateInvalid, SeverityError, "unknown authority"},
		{"skip verify hides it", func(e *Evidence) {
			e.TLS = TLSInfo{Done: true, Subject: "CN=x", VerifyErr: "x509: unknown authority", SkipVerify: true}
		}, failure.CauseTLSCertificateInvalid, SeverityWarning, "insecure_skip_verify"},
		{"expiring", func(e *Evidence) { e.TLS = TLSInfo{Done: true, Subject: "CN=x", NotAfter: now.Add(72 * time.Hour)} },
			failure.CauseTLSCertificateInvalid, SeverityWarning, "in 3.0 days"},
		{"status mismatch", func(e *Evidence) { e.Check.OK, e.Check.Status = false, 503 },
			failure.CauseHealthCheckStatus, SeverityError, "answered 503; the matcher accepts 200"},
		{"check timeout", func(e *Evidence) {
			e.Check.OK, e.Check.Status, e.Check.Latency = false, 0, 5*time.Second
			e.Check.Class = failure.Class{Type: failure.HTTPResponseTimeout}
		}, failure.CauseHealthCheckTimeout, SeverityError, "timed out"},
		{"check close to its timeout", func(e *Evidence) { e.Check.Latency = 4500 * time.Millisecond },
			failure.CauseHealthCheckTimeout, SeverityWarning, "90% of its 5s timeout"},
		{"invalid header", func(e *Evidence) { e.Conformance.Problems = []string{`invalid header name "Bad Header"`} },
			failure.CauseInvalidResponse, SeverityError, "Bad Header"},
		{"target 5xx", func(e *Evidence) {
			e.Conformance.Status, e.Conformance.StatusLine = 500, "HTTP/1.1 500 Internal Server Error"
		},
			failure.CauseTarget5xx, SeverityError, "500 Internal Server Error"},
		{"keep-alive shorter than the idle timeouts", func(e *Evidence) { e.KeepAlive.IdleClose = time.Second },
			failure.CauseKeepaliveRace, SeverityWarning, "closes idle connections after 1.0s"},
		{"keep-alive longer than the idle timeouts", func(e *Evidence) { e.KeepAlive.IdleClose = 90 * time.Second }, "", "", ""},
		{"live errors", func(e *Evidence) {
			e.Live = &Live{Requests5m: 100, Errors5m: map[string]int64{"connection_terminated": 7}}
		}, failure.CauseTargetClosed, SeverityWarning, "live: 7 connection_terminated"},
		{"live: errors rise with load", func(e *Evidence) {
			e.Live = &Live{Requests1m: 300, Errors1m: 60, Requests15m: 1500, Errors15m: 75, P99: 900 * time.Millisecond,
				Requests5m: 600, Errors5m: map[string]int64{}}
		}, failure.CauseTargetOverloaded, SeverityWarning, "errors rise with load"},
		{"live: steady errors are not overload", func(e *Evidence) {
			e.Live = &Live{Requests1m: 100, Errors1m: 5, Requests15m: 1500, Errors15m: 75, Errors5m: map[string]int64{}}
		}, "", "", ""},
		{"live: draining target still answering", func(e *Evidence) {
			e.Live = &Live{State: "draining", Reason: "Target.DeregistrationInProgress", Requests1m: 12, Errors5m: map[string]int64{}}
		}, failure.CauseDrainingTarget, SeverityWarning, "12 requests answered in the last minute while the target is draining"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := base()
			tc.edit(&ev)
			fs := Diagnose(ev, now)
			if tc.id == "" {
				if len(fs) != 0 {
					t.Fatalf("want no finding, got %+v", fs)
				}
				return
			}
			if len(fs) == 0 || fs[0].ID != tc.id || fs[0].Severity != tc.severity || !strings.Contains(fs[0].Evidence, tc.evidence) {
				t.Fatalf("got %+v\nwant %s %s with evidence containing %q", fs, tc.id, tc.severity, tc.evidence)
			}
			if fs[0].Fix == "" || fs[0].Summary == "" || fs[0].TargetGroup != "web" {
				t.Errorf("incomplete finding %+v", fs[0])
			}
		})
	}
}

func TestGroupFailsAlike(t *testing.T) {
	refused := []Finding{{ID: failure.CauseTargetNotListening, Severity: SeverityError}}
	if fs := SharedCause("web", 2, [][]Finding{refused, refused}); len(fs) != 1 || fs[0].ID != failure.CauseAllTargetsFailAlike {
		t.Errorf("same error on both targets: %+v", fs)
	}
	other := []Finding{{ID: failure.CauseTargetPortFiltered, Severity: SeverityError}}
	if fs := SharedCause("web", 2, [][]Finding{refused, other}); fs != nil {
		t.Errorf("different errors: %+v", fs)
	}
	if fs := SharedCause("web", 1, [][]Finding{refused}); fs != nil {
		t.Errorf("one target: %+v", fs)
	}
}

func TestCheckHead(t *testing.T) {
	tests := []struct {
		head    string
		problem string
		framing string
	}{
		{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", "", "content-length"},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "", "chunked"},
		{"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", "", "close"},
		{"HTTP/1.1 200 OK\r\nBad Header: 1\r\n\r\n", "invalid header name", ""},
		{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n", "both Transfer-Encoding", "chunked"},
		{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", "conflicting Content-Length", ""},
		{"HTTP/1.1 200 OK\r\nX: a\x01b\r\n\r\n", "control byte 0x01", ""},
		{"HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n", "obsolete line folding", ""},
		{"HTTP/1.1 200 OK\nContent-Length: 2\n\n", "bare LF", ""},
		{"ICY 200 OK\r\n\r\n", "malformed status line", ""},
	}
	for _, tc := range tests {
		var r Conformance
		checkHead([]byte(tc.head), &r)
		got := strings.Join(r.Problems, "; ")
		if (tc.problem == "" && got != "") || !strings.Contains(got, tc.problem) {
			t.Errorf("%q: problems %q, want %q", tc.head, got, tc.problem)
		}
		if tc.framing != "" && r.Framing != tc.framing {
			t.Errorf("%q: framing %q, want %q", tc.head, r.Framing, tc.framing)
		}
	}
}
