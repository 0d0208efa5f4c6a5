package fulcrumhc

import (
	"bufio"
	"bytes"
	"testing"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/health"
	"github.com/fulcrumlb/fulcrum/internal/logparse"
)

var end = time.Date(2026, 11, 22, 10, 0, 1, 500000000, time.UTC)

// ownLines writes one line per result with Fulcrum's own writer.
func ownLines(t testing.TB, rs ...health.Result) [][]byte {
	t.Helper()
	var buf bytes.Buffer
	l, err := health.OpenCheckLog("-", &buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if err := l.Log("http", "web", "10.0.0.5:8080", r, end); err != nil {
			t.Fatal(err)
		}
	}
	var out [][]byte
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	return out
}

func TestOwnLines(t *testing.T) {
	cls := func(typ failure.ErrorType) failure.Class { return failure.Class{Type: typ} }
	tests := []struct {
		name   string
		r      health.Result
		cause  string
		status int
	}{
		{"pass", health.Result{OK: true, Address: "10.0.0.5:8080", Status: 200, Latency: 1500 * time.Microsecond}, "", 200},
		{"refused", health.Result{Address: "10.0.0.5:8081", Latency: 20 * time.Millisecond, Class: cls(failure.ConnectionRefused),
			Description: "connection refused on 10.0.0.5:8081"}, failure.CauseTargetNotListening, 0},
		{"unroutable", health.Result{Address: "10.0.0.5:8080", Class: cls(failure.DestinationIPUnroutable),
			Description: "destination ip unroutable on 10.0.0.5:8080"}, failure.CauseTargetUnreachable, 0},
		{"reset", health.Result{Address: "10.0.0.5:8080", Class: cls(failure.ConnectionTerminated),
			Description: "connection terminated on 10.0.0.5:8080"}, failure.CauseTargetClosed, 0},
		{"connect timeout", health.Result{Address: "10.0.0.5:8080", Latency: 5 * time.Second, Class: cls(failure.ConnectionTimeout),
			Description: "Request timed out after 5s: connection timeout on 10.0.0.5:8080"}, failure.CauseTargetPortFiltered, 0},
		{"response timeout", health.Result{Address: "10.0.0.5:8080", Latency: 5 * time.Second, Class: cls(failure.HTTPResponseTimeout),
			Description: "Request timed out after 5s: http response timeout on 10.0.0.5:8080"}, failure.CauseHealthCheckTimeout, 0},
		{"tls", health.Result{Address: "10.0.0.5:8080", Class: cls(failure.TLSProtocolError),
			Description: `tls protocol error on 10.0.0.5:8080: remote error: "bad" alert`}, failure.CauseTLSHandshakeFailed, 0},
		{"mismatch", health.Result{Address: "10.0.0.5:8080", Status: 404, Description: "Health checks failed with these codes: [404]"},
			failure.CauseHealthCheckStatus, 404},
		{"5xx", health.Result{Address: "10.0.0.5:8080", Status: 503}, failure.CauseHealthCheckStatus, 503},
	}
	for _, tt := range tests {
		line := ownLines(t, tt.r)[0]
		if !Sniff(line) {
			t.Errorf("%s: not sniffed: %s", tt.name, line)
		}
		var e logparse.Entry
		if err := Parse(line, &e); err != nil {
			t.Fatalf("%s: %v\n%s", tt.name, err, line)
		}
		if e.Kind != logparse.Event || e.Target != "10.0.0.5:8080" || e.Group != "web" || e.Cause != tt.cause || e.TargetStatus != tt.status {
			t.Errorf("%s: %+v, want cause %q status %d\n%s", tt.name, e, tt.cause, tt.status, line)
		}
		if !e.Time.Equal(end) {
			t.Errorf("%s: time %v, want the check's end %v", tt.name, e.Time, end)
		}
		if tt.cause != "" && e.Signature == "" {
			t.Errorf("%s: no signature", tt.name)
		}
	}
}

func TestSignatureKeepsEvidence(t *testing.T) {
	line := ownLines(t, health.Result{Address: "10.0.0.5:8081", Class: failure.Class{Type: failure.ConnectionRefused},
		Description: "connection refused on 10.0.0.5:8081"})[0]
	var e logparse.Entry
	if err := Parse(line, &e); err != nil {
		t.Fatal(err)
	}
	if want := `health check ConnectionReset: "connection refused on 10.0.0.5:8081"`; e.Signature != want {
		t.Errorf("signature %q, want %q", e.Signature, want)
	}
}

func TestNotOtherFormats(t *testing.T) {
	albLine := []byte(`http 2026-11-22T10:00:00.000000Z app/lb/1 198.51.100.7:4000 10.0.0.5:80 0.001 0.002 0.000 200 200 10 20 "GET http://x:80/ HTTP/1.1" "curl" - -`)
	if Sniff(albLine) {
		t.Error("an ALB access log line is not a health check line")
	}
	for _, bad := range []string{
		"http 2026-11-22T10:00:00.000000Z 0.1 t g",
		"udp 2026-11-22T10:00:00.000000Z 0.1 t g FAIL - TimedOut fulcrum -",
		"http yesterday-at-noon-x 0.1 t g FAIL - TimedOut fulcrum -",
		"http 2026-11-22T10:00:00.000000Z 0.1 t g MAYBE - TimedOut fulcrum -",
	} {
		var e logparse.Entry
		if err := Parse([]byte(bad), &e); err == nil {
			t.Errorf("%q parsed: %+v", bad, e)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, l := range ownLines(f,
		health.Result{OK: true, Address: "10.0.0.6:8080", Status: 200, Latency: time.Millisecond},
		health.Result{Address: "10.0.0.5:8081", Class: failure.Class{Type: failure.ConnectionRefused}, Description: "connection refused on 10.0.0.5:8081"},
		health.Result{Address: "a", Description: "Request timed out after 5s: connection timeout on a"}) {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var e logparse.Entry
		err := Parse(line, &e)
		if err == nil && e.Kind != logparse.Event {
			t.Fatalf("a health check line is an event: %+v", e)
		}
		if err == nil && e.Cause != "" {
			if _, ok := failure.LookupCause(e.Cause); !ok {
				t.Fatalf("cause %q not in the catalogue", e.Cause)
			}
		}
	})
}
