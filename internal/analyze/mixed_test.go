package analyze

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fulcrumlb/fulcrum/internal/failure"
)

// TestMixedFile: one file holding HAProxy, nginx error log, ALB and
// Envoy lines, bare and in envelopes, is read line by line; the input
// counts each format and envelope, every failure counts for its cause,
// and the requests with no full time are counted as not on the timeline.
func TestMixedFile(t *testing.T) {
	lines := []string{
		// HAProxy (configuration manual §8.2.3 layout, §8.5 state SC)
		// in a short syslog stamp without a year: no place on the timeline.
		`Oct 11 22:14:15 lb1 haproxy[123]: 10.0.1.2:33318 [06/Feb/2009:12:14:15.655] http-in static/srv1 10/0/-1/-1/11 503 212 - - SC-- 1/1/1/1/3 0/0 "GET /index.html HTTP/1.1"`,
		// nginx error log (ngx_http_upstream.c's refused connect).
		`2026/11/22 10:00:01 [error] 7#7: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.0.9, server: _, request: "GET / HTTP/1.1", upstream: "http://10.0.0.5:8080/", host: "x"`,
		// ALB (KC-502) in a docker compose prefix.
		"web-1  | " + albLine(t0, "10.0.0.1:80", "0.001 -1 -1", "502", "-", "web"),
		albLine(t0.Add(time.Minute), "10.0.0.1:80", "0.000 0.002 0.000", "200", "200", "web"),
		// Envoy's default format with an upstream reset (UC).
		`[pod/envoy-1/envoy] [2026-11-22T10:02:00.000Z] "GET /a HTTP/1.1" 503 UC 0 95 5 - "-" "curl/8.0" "9b1c" "svc" "10.0.0.7:8080"`,
		"a line no format knows",
	}
	path := filepath.Join(t.TempDir(), "mixed.log")
	write(t, path, strings.Join(lines, "\n")+"\n", false)
	r, err := Run(context.Background(), []string{path}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := r.Inputs[0]
	if in.Format != "mixed" || in.Parsed != 5 || in.Unparsed != 1 || !strings.HasSuffix(in.UnparsedExamples[0], ":6: format not recognised") {
		t.Errorf("input %+v", in)
	}
	if d := cmp.Diff(map[string]int64{"haproxy": 1, "nginx-error": 1, "alb": 2, "envoy": 1}, in.Formats); d != "" {
		t.Errorf("formats (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]int64{"syslog-short": 1, "docker-compose": 1, "kubectl-prefix": 1}, in.Envelopes); d != "" {
		t.Errorf("envelopes (-want +got):\n%s", d)
	}
	got := map[string]int64{}
	for _, c := range r.Causes {
		got[c.ID] = c.Count
	}
	// The Envoy UC is on a target that never answers: a dying target.
	want := map[string]int64{failure.CauseTargetNotListening: 2, failure.CauseKeepaliveRace: 1, failure.CauseTargetClosed: 1}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("causes (-want +got):\n%s", d)
	}
	if r.Requests != 4 || r.Unplaced != 0 {
		t.Errorf("requests %d, unplaced %d", r.Requests, r.Unplaced)
	}
	var b bytes.Buffer
	r.WriteText(&b)
	if !strings.Contains(b.String(), "  formats: alb 2, envoy 1, haproxy 1, nginx-error 1\n") {
		t.Errorf("text report:\n%s", b.String())
	}
}

// TestUnplaced: lines of a log-format without a time, and lines whose
// only time is an RFC 3164 stamp without a year, still count for the
// causes; the timeline counts them as not placed.
func TestUnplaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "haproxy.log")
	write(t, path, strings.Join([]string{
		`<134>Nov 22 10:00:00 lb haproxy[1]: "GET / HTTP/1.1" 503 be/s1 SC--`,
		`"GET / HTTP/1.1" 504 be/s1 sH--`,
		`10.0.0.5:41235 [22/Nov/2026:10:00:02.120] fe be/s2 0/0/1/5/6 200 198 - - ---- 3/3/1/1/0 0/0 "GET / HTTP/1.1"`,
	}, "\n")+"\n", false)
	r, err := Run(context.Background(), []string{path}, Options{HAProxyLogFormat: `%{+Q}r %ST %b/%s %tsc`})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]int64{"haproxy-log-format": 2, "haproxy": 1}, r.Inputs[0].Formats); d != "" {
		t.Errorf("formats (-want +got):\n%s", d)
	}
	if r.Requests != 3 || r.Unplaced != 2 || len(r.Timeline) != 1 || r.LB5xx != 2 || len(r.Causes) != 2 {
		t.Errorf("requests %d, unplaced %d, timeline %+v, lb 5xx %d, causes %+v", r.Requests, r.Unplaced, r.Timeline, r.LB5xx, r.Causes)
	}
	var b bytes.Buffer
	r.WriteText(&b)
	if !strings.Contains(b.String(), "2 requests without a full time are not on the timeline") {
		t.Errorf("text report:\n%s", b.String())
	}
	if _, err := Run(context.Background(), []string{path}, Options{HAProxyLogFormat: `%Zq`}); err == nil {
		t.Error("a bad log-format was accepted")
	}
}

// TestFormatGroups: a --format name takes its variants.
func TestFormatGroups(t *testing.T) {
	fs, err := formats(Options{HAProxyLogFormat: "%ci %ST", NginxLogFormat: "$remote_addr $status", EnvoyLogFormat: "%RESPONSE_CODE% %RESPONSE_FLAGS%"})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]string{
		"fulcrum":      {"fulcrum-json", "fulcrum-health", "alb"},
		"alb":          {"alb", "alb-connection"},
		"envoy":        {"envoy-log-format", "envoy-json", "envoy"},
		"haproxy":      {"haproxy-log-format", "haproxy"},
		"nginx-access": {"nginx-log-format", "nginx-access"},
		"traefik":      {"traefik-json", "traefik-log", "traefik-clf"},
		"caddy":        {"caddy", "caddy-v1"},
		"elb":          {"elb"},
	} {
		g, ok := group(name, fs)
		var got []string
		for _, f := range g {
			got = append(got, f.name)
		}
		if d := cmp.Diff(want, got); !ok || d != "" {
			t.Errorf("--format %s (-want +got):\n%s", name, d)
		}
	}
	if _, ok := group("apache", fs); ok {
		t.Error("an unknown --format was accepted")
	}
}
