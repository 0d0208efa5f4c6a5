package haproxy

import (
	"errors"
	"testing"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/logparse"
	"github.com/fulcrumlb/fulcrum/internal/logparse/envelope"
	"github.com/fulcrumlb/fulcrum/internal/logparse/logparsetest"
)

// TestVersions: every class of line in testdata/versions.log (see its
// SOURCES.md) parses, inside its syslog envelope or bare, to the kind,
// status and cause its documented signature names.
func TestVersions(t *testing.T) {
	want := []struct {
		kind   logparse.Kind
		status int
		target string
		cause  string
	}{
		{logparse.Request, 0, "srv1", ""},                                 // tcplog --
		{logparse.Request, 200, "srv1", ""},                               // httpslog
		{logparse.Event, 0, "", ""},                                       // Connect from
		{logparse.Event, 0, "", failure.CauseClientTLSHandshakeFailed},    // SSL handshake
		{logparse.Request, 200, "cache1", ""},                             // 1.3, no ms, captures
		{logparse.Request, 502, "srv1", failure.CauseTargetClosed},        // SH
		{logparse.Request, 0, "", failure.CauseClientClosed},              // CR
		{logparse.Request, 408, "", failure.CauseClientClosed},            // cR
		{logparse.Request, 200, "webhost01_8001", ""},                     // blog line
		{logparse.Request, 302, "", ""},                                   // LR
		{logparse.Request, 503, "s1", failure.CauseTargetPortFiltered},    // sC
		{logparse.Request, 504, "s2", failure.CauseTargetResponseTimeout}, // sH
		{logparse.Request, 200, "s1", failure.CauseClientClosed},          // cD
		{logparse.Request, 200, "s1", failure.CauseClientClosed},          // CD
		{logparse.Request, 403, "", failure.CauseRequestDenied},           // PR
		{logparse.Request, 502, "s3", failure.CauseInvalidResponse},       // PH
		{logparse.Request, 503, "s1", failure.CauseConnectionLimit},       // sQ
		{logparse.Request, 503, "", failure.CauseNoHealthyTargets},        // NOSRV SC
		{logparse.Event, 0, "s1", failure.CauseTargetPortFiltered},
		{logparse.Event, 0, "s2", failure.CauseHealthCheckStatus},
		{logparse.Event, 0, "s3", failure.CauseTLSHandshakeFailed},
		{logparse.Event, 0, "s1", ""},
		{logparse.Event, 0, "s4", failure.CauseDNSResolutionFailed},
		{logparse.Event, 0, "s5", ""},
		{}, // Proxy fe started.
		{}, // [NOTICE] New worker
		{logparse.Event, 0, "s6", failure.CauseTargetNotListening},
		{logparse.Request, 503, "srv1", failure.CauseTargetNotListening}, // httplog clf, quoted
		{logparse.Request, 200, "srv1", ""},                              // httplog clf, bare
	}
	lines := logparsetest.Lines(t, "testdata/versions.log")
	parse := New()
	for i, l := range lines {
		inner := envelope.Unwrap(l).Line
		if !Sniff(inner) {
			t.Errorf("line %d not sniffed: %s", i+1, inner)
		}
		var e logparse.Entry
		err := parse(inner, &e)
		if want[i] == (struct {
			kind   logparse.Kind
			status int
			target string
			cause  string
		}{}) {
			if !errors.Is(err, logparse.ErrSkip) {
				t.Errorf("line %d: %v, want ErrSkip", i+1, err)
			}
			continue
		}
		w := want[i]
		if err != nil || e.Kind != w.kind || e.Status != w.status || e.Target != w.target || e.Cause != w.cause {
			t.Errorf("line %d: %v kind %d status %d target %q cause %q; want %d %d %q %q\n%s", i+1, err, e.Kind, e.Status, e.Target, e.Cause, w.kind, w.status, w.target, w.cause, inner)
		}
		if e.Cause != "" && e.Signature == "" {
			t.Errorf("line %d: cause %s without a signature", i+1, e.Cause)
		}
	}
	var e logparse.Entry
	// An httpslog line whose ssl_fc_err is not zero is a client TLS
	// failure; zero in hex is none (line 2).
	failed := []byte(`10.0.1.2:33317 [06/Feb/2009:12:14:14.655] https-in~ static/<NOSRV> -1/-1/-1/-1/0 0 0 - - CR-- 1/1/0/0/0 0/0 "<BADREQ>" 0/0000000014094418/0/0/0 -/-/-`)
	if err := parse(failed, &e); err != nil || e.Cause != failure.CauseClientClosed {
		t.Errorf("httpslog CR: %v %+v", err, e)
	}
	failed = []byte(`10.0.1.2:33317 [06/Feb/2009:12:14:14.655] https-in~ static/srv1 0/0/0/1/1 200 10 - - ---- 1/1/0/0/0 0/0 "GET / HTTP/1.1" 0/0000000014094418/0/0/0 -/TLSv1.2/-`)
	if err := parse(failed, &e); err != nil || e.Cause != failure.CauseClientTLSHandshakeFailed {
		t.Errorf("httpslog ssl_fc_err: %v %+v", err, e)
	}
	if err := parse(envelope.Unwrap(lines[4]).Line, &e); err != nil || !e.Time.Equal(time.Date(2004, 8, 9, 20, 26, 9, 0, time.UTC)) || e.TargetTime != 162*time.Millisecond || e.Method != "GET" {
		t.Errorf("no-millisecond line: %v %+v", err, e)
	}
}

// TestNotNginx: an nginx or Apache combined line has an accept-date-like
// stamp but is not HAProxy (nor its httplog clf).
func TestNotNginx(t *testing.T) {
	if Sniff([]byte(`127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "-" "Mozilla/4.08"`)) {
		t.Error("combined line sniffed as HAProxy")
	}
}

// TestCustomLogFormat: lines written by a log-format string (the
// documented httplog equivalent, and a reordered one with %T and %[…])
// parse through Compile.
func TestCustomLogFormat(t *testing.T) {
	httplog := `"%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r"`
	p, err := Compile(httplog)
	if err != nil {
		t.Fatal(err)
	}
	var e logparse.Entry
	line := `[2001:db8::1]:33318 [06/Feb/2009:12:14:15.655] http-in static/srv1 10/0/-1/-1/11 503 212 - - SC-- 1/1/1/1/3 0/0 "GET /index.html HTTP/1.1"`
	if err := p([]byte(line), &e); err != nil || e.Client != "[2001:db8::1]:33318" || e.Target != "srv1" || e.Status != 503 || e.Cause != failure.CauseTargetNotListening || e.URL != "/index.html" {
		t.Errorf("httplog as log-format: %v %+v", err, e)
	}
	p, err = Compile(`%T\ %{+Q}r\ %ST\ %b/%s\ %tsc\ %Tr\ %[ssl_fc_sni]\ %ID`)
	if err != nil {
		t.Fatal(err)
	}
	line = `22/Nov/2026:10:00:00 +0100 "GET /x HTTP/1.1" 504 be/s9 sH-- -1 www.example.com 9f3c`
	if err := p([]byte(line), &e); err != nil || !e.Time.Equal(time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)) || e.Target != "s9" || e.Cause != failure.CauseTargetResponseTimeout || !e.LBError {
		t.Errorf("reordered log-format: %v %+v", err, e)
	}
	if err := p([]byte(`not this format`), &e); err == nil {
		t.Error("a line of another format parsed")
	}
	// A shorter log-format must not take a built-in httplog line (its
	// %ST would be the timers, its %tsc the rest of the line).
	p, err = Compile(`%ci:%cp [%tr] %ft %b/%s %ST %tsc %{+Q}r`)
	if err != nil {
		t.Fatal(err)
	}
	if err := p([]byte(`127.0.0.1:53824 [02/Dec/2026:16:27:42.297] httplog be/s1 0/0/-1/-1/0 503 217 - - SC-- 1/1/0/0/0 0/0 "GET /x HTTP/1.1"`), &e); err == nil {
		t.Errorf("an httplog line parsed as a shorter log-format: %+v", e)
	}
	if err := p([]byte(`127.0.0.1:38218 [02/Dec/2026:16:27:42.300] custom be/s1 503 SC-- "GET /x HTTP/1.1"`), &e); err != nil || e.Cause != failure.CauseTargetNotListening {
		t.Errorf("the log-format's own line: %v %+v", err, e)
	}
	if _, err := Compile(`%ci %Zz`); err == nil {
		t.Error("unknown variable accepted")
	}
}

// FuzzCompiled: a compiled log-format and the built-in parser never
// fail on a line without saying why, and never give an impossible status.
func FuzzCompiled(f *testing.F) {
	for _, l := range logparsetest.Lines(f, "testdata/versions.log") {
		f.Add(l)
	}
	f.Add([]byte(`[2001:db8::1]:33318 [06/Feb/2009:12:14:15.655] http-in static/srv1 10/0/-1/-1/11 503 212 - - SC-- 1/1/1/1/3 0/0 {a b} "GET / HTTP/1.1"`))
	custom, err := Compile(`"%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r"`)
	if err != nil {
		f.Fatal(err)
	}
	builtin := New()
	f.Fuzz(func(t *testing.T, b []byte) {
		var e logparse.Entry
		for _, p := range []logparse.Parser{custom, builtin} {
			if p(b, &e) == nil && (e.Status < 0 || e.Status > 999) {
				t.Errorf("status %d", e.Status)
			}
		}
	})
}
