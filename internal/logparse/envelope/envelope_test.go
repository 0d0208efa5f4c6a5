package envelope_test

import (
	"testing"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/logparse/envelope"
)

// haproxyLine is the bare line in the examples: the httplog example of
// the HAProxy configuration manual, §8.2.3.
const haproxyLine = `10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 {1wt.eu} {} "GET /index.html HTTP/1.1"`

func TestUnwrap(t *testing.T) {
	utc := func(s string) time.Time {
		p, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	bsd := time.Date(0, time.October, 11, 22, 14, 15, 0, time.UTC)
	for _, tc := range []struct {
		name, line, envelope, inner string
		time                        time.Time
	}{
		// RFC 3164 §5.4 example shape: PRI, TIMESTAMP, HOSTNAME, TAG.
		{"rfc3164", "<134>Oct 11 22:14:15 lb1 haproxy[123]: " + haproxyLine, "syslog-rfc3164", haproxyLine, bsd},
		// HAProxy's own "log stdout format rfc3164" has no host.
		{"rfc3164 no host", "<134>Oct 11 22:14:15 haproxy[123]: " + haproxyLine, "syslog-rfc3164", haproxyLine, bsd},
		{"rfc3164 day padded", "<134>Oct  1 22:14:15 lb1 haproxy: x", "syslog-rfc3164", "x", time.Date(0, time.October, 1, 22, 14, 15, 0, time.UTC)},
		// RFC 3164 §4.3.2: no timestamp after PRI.
		{"rfc3164 no stamp", "<13>hello there", "syslog-rfc3164", "hello there", time.Time{}},
		// RFC 5424 §6.5 example 1 and example 3 (structured data).
		{"rfc5424", "<165>1 2003-10-11T22:14:15.003Z lb1 haproxy 123 - - " + haproxyLine, "syslog-rfc5424", haproxyLine, utc("2003-10-11T22:14:15.003Z")},
		{"rfc5424 sd", `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"] ` + haproxyLine, "syslog-rfc5424", haproxyLine, utc("2003-10-11T22:14:15.003Z")},
		{"rfc5424 escaped sd, bom", `<165>1 - h a - - [x@1 v="a\]b"] ` + "\xef\xbb\xbfmsg", "syslog-rfc5424", "msg", time.Time{}},
		// journalctl(1) -o short (the default) and -o short-iso.
		{"journald short", "Oct 11 22:14:15 lb1 haproxy[123]: " + haproxyLine, "syslog-short", haproxyLine, bsd},
		{"journald short-iso", "2024-10-11T22:14:15+0000 lb1 haproxy[123]: " + haproxyLine, "journald-short-iso", haproxyLine, utc("2024-10-11T22:14:15Z")},
		{"journald short-iso-precise", "2024-10-11T22:14:15.123456+0200 lb1 haproxy[123]: x", "journald-short-iso", "x", utc("2024-10-11T22:14:15.123456+02:00")},
		// rsyslog RSYSLOG_FileFormat.
		{"rsyslog rfc3339", "2024-10-11T22:14:15.123456+00:00 lb1 haproxy[123]: x", "syslog-rfc3339", "x", utc("2024-10-11T22:14:15.123456Z")},
		// journalctl -o json; systemd.journal-fields(7).
		{"journald json", `{"__REALTIME_TIMESTAMP":"1728684855003000","_HOSTNAME":"lb1","SYSLOG_IDENTIFIER":"haproxy","MESSAGE":"hello"}`, "journald-json", "hello", utc("2024-10-11T22:14:15.003Z")},
		{"journald json bytes", `{"MESSAGE":[104,105,255]}`, "journald-json", "hi\xff", time.Time{}},
		// Docker CLI reference, docker container logs --timestamps.
		{"docker timestamps", "2024-01-02T03:04:05.123456789Z " + haproxyLine, "docker-timestamps", haproxyLine, utc("2024-01-02T03:04:05.123456789Z")},
		// Docker Compose reference, docker compose logs.
		{"compose", "envoy-1  | " + haproxyLine, "docker-compose", haproxyLine, time.Time{}},
		{"compose v1", "web_envoy_1 | x", "docker-compose", "x", time.Time{}},
		// kubectl reference, kubectl logs --prefix and --timestamps.
		{"kubectl prefix", "[pod/web-7d9c4/envoy] " + haproxyLine, "kubectl-prefix", haproxyLine, time.Time{}},
		{"kubectl prefix timestamps", "[pod/web-7d9c4/envoy] 2024-01-02T03:04:05.1Z " + haproxyLine, "kubectl-prefix+docker-timestamps", haproxyLine, utc("2024-01-02T03:04:05.1Z")},
		// AWS CLI reference, aws logs tail (default --format detailed).
		{"aws logs tail", "2024-01-02T03:04:05.123000+00:00 ecs/envoy/0a1b2c " + haproxyLine, "aws-logs-tail", haproxyLine, utc("2024-01-02T03:04:05.123Z")},
		// Logstash's json codec; Loki's JSON; Docker's json-file driver;
		// a CloudWatch Logs export (timestamp in epoch milliseconds).
		{"logstash", `{"@timestamp":"2024-01-02T03:04:05.123Z","host":"lb1","message":"hello"}`, "json-message", "hello", utc("2024-01-02T03:04:05.123Z")},
		{"docker json-file", `{"log":"hello\n","stream":"stdout","time":"2024-01-02T03:04:05.123456789Z"}`, "json-message", "hello", utc("2024-01-02T03:04:05.123456789Z")},
		{"cloudwatch export", `{"timestamp":1704164645123,"message":"hello","ingestionTime":1704164646000}`, "json-message", "hello", utc("2024-01-02T03:04:05.123Z")},
		{"nested", `{"log":"[pod/a/b] <134>Oct 11 22:14:15 haproxy[1]: x\n"}`, "json-message+kubectl-prefix+syslog-rfc3164", "x", bsd},

		// Bare lines stay as they are.
		{"bare haproxy", haproxyLine, "", haproxyLine, time.Time{}},
		{"bare alb", "http 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366", "", "http 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366", time.Time{}},
		{"bare nginx error", "2024/10/29 14:51:09 [error] 31#31: *1 connect() failed", "", "2024/10/29 14:51:09 [error] 31#31: *1 connect() failed", time.Time{}},
		{"bare envoy", `[2016-04-15T20:17:00.310Z] "POST /api/v1/locations HTTP/2" 204`, "", `[2016-04-15T20:17:00.310Z] "POST /api/v1/locations HTTP/2" 204`, time.Time{}},
		{"bare envoy json", `{"start_time":"2026-11-22T10:00:00.000Z","response_flags":"UT"}`, "", `{"start_time":"2026-11-22T10:00:00.000Z","response_flags":"UT"}`, time.Time{}},
		{"not a pri", "<abc> x", "", "<abc> x", time.Time{}},
		{"empty", "", "", "", time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := envelope.Unwrap([]byte(tc.line))
			if u.Envelope != tc.envelope || string(u.Line) != tc.inner || !u.Time.Equal(tc.time) {
				t.Errorf("Unwrap(%q)\n = %q, %q, %v\nwant %q, %q, %v", tc.line, u.Envelope, u.Line, u.Time, tc.envelope, tc.inner, tc.time)
			}
		})
	}
}

// FuzzUnwrap: any input unwraps without panicking, the first layer is
// the input itself, Unwrap is the last layer, and peeling is
// stable: unwrapping the innermost line again peels nothing more unless
// the depth limit stopped it.
func FuzzUnwrap(f *testing.F) {
	for _, s := range []string{
		"<134>Oct 11 22:14:15 lb1 haproxy[123]: x",
		`<165>1 2003-10-11T22:14:15.003Z h a - - [x@1 a="\]"] m`,
		"2024-10-11T22:14:15+0000 h t[1]: m",
		"2024-01-02T03:04:05.123456789Z m",
		"2024-01-02T03:04:05.123000+00:00 s m",
		"envoy-1  | m",
		"[pod/a/b] m",
		`{"MESSAGE":[1,2]}`,
		`{"log":"m\n","time":"x"}`,
		`{"timestamp":1,"message":"<1>x"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var buf [8]envelope.Unwrapped
		l := envelope.Layers(b, buf[:0])
		if string(l[0].Line) != string(b) || l[0].Envelope != "" {
			t.Fatalf("first layer %q %q is not the input", l[0].Line, l[0].Envelope)
		}
		u := envelope.Unwrap(b)
		last := l[len(l)-1]
		if string(u.Line) != string(last.Line) || u.Envelope != last.Envelope {
			t.Fatalf("Unwrap %q/%q differs from last layer %q/%q", u.Line, u.Envelope, last.Line, last.Envelope)
		}
		if len(l) < 5 {
			if again := envelope.Unwrap(u.Line); again.Envelope != "" {
				t.Fatalf("inner %q still peels as %q", u.Line, again.Envelope)
			}
		}
	})
}
