package analyze

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fulcrumlb/fulcrum/internal/failure"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// albLine writes one ALB access log line.
func albLine(at time.Time, target, timings, elb, tgt, group string) string {
	return fmt.Sprintf(`http %s app/lb/1 198.51.100.7:4000 %s %s %s %s 10 20 "GET http://x:80/ HTTP/1.1" "curl" - - arn:aws:elasticloadbalancing:r:1:targetgroup/%s/abc "Root=1" "-" "-" 0 %s "forward" "-" "-" "-" "-" "-" "-"`,
		at.Format("2006-01-02T15:04:05.000000Z"), target, timings, elb, tgt, group, at.Format("2006-01-02T15:04:05.000000Z"))
}

func write(t *testing.T, path, content string, gz bool) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	data := []byte(content)
	if gz {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(data)
		zw.Close()
		data = b.Bytes()
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestKeepaliveRaceAndDyingTarget: sporadic KC-502 lines on a target that
// otherwise answers are a keep-alive race; the same lines on a target
// that never answers are a dying target.
func TestKeepaliveRaceAndDyingTarget(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for i := range 200 {
		at := t0.Add(time.Duration(i) * time.Second)
		if i%50 == 7 {
			b.WriteString(albLine(at, "10.0.0.1:80", "0.001 4.205 -1", "502", "-", "web") + "\n")
		} else {
			b.WriteString(albLine(at, "10.0.0.1:80", "0.000 0.002 0.000", "200", "200", "web") + "\n")
		}
	}
	for i := range 3 {
		b.WriteString(albLine(t0.Add(time.Duration(i)*time.Second), "10.0.0.2:80", "0.001 0.010 -1", "502", "-", "web") + "\n")
	}
	// An S3-like tree, gzipped, with a line that is not ALB at all.
	write(t, filepath.Join(dir, "AWSLogs/1/elasticloadbalancing/r/2026/11/22/a.log.gz"), b.String()+"garbage line\n", true)

	r, err := Run(context.Background(), []string{dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := r.Inputs[0]
	if in.Format != "alb" || in.Lines != 204 || in.Parsed != 203 || in.Unparsed != 1 || !strings.HasSuffix(in.UnparsedExamples[0], "a.log.gz:204: format not recognised") &&
		!strings.Contains(in.UnparsedExamples[0], ":204: alb:") {
		t.Errorf("input %+v", in)
	}
	got := map[string]int64{}
	for _, c := range r.Causes {
		got[c.ID] = c.Count
	}
	want := map[string]int64{failure.CauseKeepaliveRace: 4, failure.CauseTargetClosed: 3}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("causes (-want +got):\n%s", d)
	}
	if r.Causes[0].ID != failure.CauseKeepaliveRace || len(r.Causes[0].Examples) != 4 || r.Causes[0].Fix == "" || len(r.Causes[1].Examples) != 1 {
		t.Errorf("first cause %+v", r.Causes[0])
	}
	if r.Requests != 203 || r.LB5xx != 7 || r.Target5xx != 0 || r.Status.C2xx != 196 {
		t.Errorf("totals: %d requests, lb %d, target %d, status %+v", r.Requests, r.LB5xx, r.Target5xx, r.Status)
	}
	if len(r.Timeline) != 4 || r.Timeline[0].Start != t0 {
		t.Errorf("timeline %+v", r.Timeline)
	}
	if tr := r.Targets[0]; tr.Target != "10.0.0.1:80" || tr.P50ms < 1.9 || tr.P50ms > 2.2 {
		t.Errorf("targets %+v", r.Targets)
	}
}

// TestOverload: the LB error rate rising with the request rate across
// minutes names target-overloaded, with the coefficient and the minutes.
func TestOverload(t *testing.T) {
	var b strings.Builder
	for m := range 8 {
		reqs := 10 * (m + 1)
		for i := range reqs {
			at := t0.Add(time.Duration(m)*time.Minute + time.Duration(i)*time.Millisecond)
			if i < m*m { // errors grow faster than traffic
				b.WriteString(albLine(at, "10.0.0.1:80", "0.001 -1 -1", "504", "-", "web") + "\n")
			} else {
				b.WriteString(albLine(at, "10.0.0.1:80", "0.000 0.002 0.000", "200", "200", "web") + "\n")
			}
		}
	}
	path := filepath.Join(t.TempDir(), "alb.log")
	write(t, path, b.String(), false)
	r, err := Run(context.Background(), []string{path}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var ov *CauseReport
	for i := range r.Causes {
		if r.Causes[i].ID == failure.CauseTargetOverloaded {
			ov = &r.Causes[i]
		}
	}
	if ov == nil {
		t.Fatalf("no overload cause in %+v", r.Causes)
	}
	if ov.Correlation < 0.9 || len(ov.Buckets) != 5 || !ov.Buckets[0].Equal(t0.Add(7*time.Minute)) || !strings.Contains(ov.Signature, "r = ") {
		t.Errorf("overload %+v", ov)
	}
	// Flat traffic with errors is not overload.
	var flat strings.Builder
	for m := range 8 {
		for i := range 20 {
			status, tgt, timings := "200", "200", "0.000 0.002 0.000"
			if i == m%3 {
				status, tgt, timings = "504", "-", "0.001 -1 -1"
			}
			flat.WriteString(albLine(t0.Add(time.Duration(m)*time.Minute+time.Duration(i)*time.Second), "10.0.0.1:80", timings, status, tgt, "web") + "\n")
		}
	}
	write(t, path, flat.String(), false)
	r, _ = Run(context.Background(), []string{path}, Options{})
	for _, c := range r.Causes {
		if c.ID == failure.CauseTargetOverloaded {
			t.Errorf("overload named on flat traffic: %+v", c)
		}
	}
}

// TestMixedInputsAndFilters reads several formats at once, from stdin and
// a glob, and applies --since, --until and --target-group.
func TestMixedInputsAndFilters(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "haproxy.log"), strings.Join([]string{
		`<134>Nov 22 10:00:00 lb haproxy[1]: 10.0.1.2:33317 [22/Nov/2026:10:00:00.000] fe be/s1 0/0/-1/-1/0 503 0 - - SC-- 1/1/1/1/0 0/0 "GET / HTTP/1.1"`,
		`<134>Nov 22 10:00:01 lb haproxy[1]: 10.0.1.2:33318 [22/Nov/2026:10:00:01.000] fe be/s1 0/0/0/2/2 200 10 - - ---- 1/1/1/1/0 0/0 "GET / HTTP/1.1"`,
		`Server be/s1 is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms. 0 active and 0 backup servers left.`,
	}, "\n")+"\n", false)
	write(t, filepath.Join(dir, "nginx-error.log"),
		`2026/11/22 10:00:02 [error] 31#31: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.0.9, server: _, request: "GET / HTTP/1.1", upstream: "http://10.0.0.5:8080/", host: "x"`+"\n", false)
	stdin := strings.NewReader(albLine(t0, "10.0.0.1:80", "-1 -1 -1", "502", "-", "web") + "\n" +
		albLine(t0.Add(time.Hour), "10.0.0.1:80", "-1 -1 -1", "502", "-", "api") + "\n")

	r, err := Run(context.Background(), []string{filepath.Join(dir, "*.log"), "-"}, Options{Stdin: stdin})
	if err != nil {
		t.Fatal(err)
	}
	var formats []string
	for _, in := range r.Inputs {
		formats = append(formats, in.Format)
	}
	if d := cmp.Diff([]string{"haproxy", "nginx-error", "alb"}, formats); d != "" {
		t.Errorf("formats (-want +got):\n%s", d)
	}
	refused := int64(0)
	for _, c := range r.Causes {
		if c.ID == failure.CauseTargetNotListening {
			refused = c.Count
		}
	}
	// HAProxy SC--, its DOWN event, nginx's (111) and two ALB lines.
	if refused != 5 || r.Requests != 4 {
		t.Errorf("refused %d, requests %d: %+v", refused, r.Requests, r.Causes)
	}

	stdin = strings.NewReader(albLine(t0, "10.0.0.1:80", "-1 -1 -1", "502", "-", "web") + "\n" +
		albLine(t0.Add(time.Hour), "10.0.0.1:80", "-1 -1 -1", "502", "-", "api") + "\n")
	r, _ = Run(context.Background(), []string{"-"}, Options{Stdin: stdin, TargetGroup: "api"})
	if r.Requests != 1 {
		t.Errorf("--target-group api kept %d requests", r.Requests)
	}
	stdin = strings.NewReader(albLine(t0, "10.0.0.1:80", "-1 -1 -1", "502", "-", "web") + "\n" +
		albLine(t0.Add(time.Hour), "10.0.0.1:80", "-1 -1 -1", "502", "-", "api") + "\n")
	r, _ = Run(context.Background(), []string{"-"}, Options{Stdin: stdin, Since: t0.Add(time.Minute), Until: t0.Add(2 * time.Hour)})
	if r.Requests != 1 {
		t.Errorf("--since/--until kept %d requests", r.Requests)
	}
	if _, err := Run(context.Background(), []string{filepath.Join(dir, "nope-*.log")}, Options{}); err == nil {
		t.Error("a glob matching nothing is an error")
	}
	if _, err := Run(context.Background(), []string{dir}, Options{Format: "syslog"}); err == nil {
		t.Error("an unknown --format is an error")
	}
}

// TestReportOutputs checks the JSON contract's keys and that the HTML is
// self-contained.
func TestReportOutputs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alb.log")
	write(t, path, albLine(t0, "10.0.0.1:80", "-1 -1 -1", "502", "-", "web")+"\n"+albLine(t0, "10.0.0.1:80", "0.000 0.001 0.000", "200", "200", "web")+"\n", false)
	r, err := Run(context.Background(), []string{path}, Options{Format: "alb"})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"inputs", "requests", "status", "lb_5xx", "target_5xx", "causes", "targets", "timeline"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	cause := m["causes"].([]any)[0].(map[string]any)
	for _, k := range []string{"id", "count", "share", "signature", "examples", "fix"} {
		if _, ok := cause[k]; !ok {
			t.Errorf("cause lacks %q", k)
		}
	}
	buf.Reset()
	if err := r.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	for _, want := range []string{"<svg id=\"timeline\"", "target-not-listening", "<table id=\"causes\""} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", "http://cdn", "https://cdn", "<link"} {
		if strings.Contains(html, bad) {
			t.Errorf("HTML is not self-contained: has %q", bad)
		}
	}
	buf.Reset()
	r.WriteText(&buf)
	if !strings.Contains(buf.String(), "1. target-not-listening  1 (100.0%)") {
		t.Errorf("text:\n%s", buf.String())
	}
}

func TestLatencyHistogram(t *testing.T) {
	var h latencyHist
	for i := 1; i <= 100; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	p50, p99 := h.quantile(0.5), h.quantile(0.99)
	if p50 < 48 || p50 > 53 || p99 < 97 || p99 > 105 {
		t.Errorf("p50 %.1f p99 %.1f", p50, p99)
	}
}

// TestFixedResponseCountsAsLB5xx: ALB's HTTPCode_ELB_5XX_Count counts a
// fixed-response 503, but it is never a cause of failure.
func TestFixedResponseCountsAsLB5xx(t *testing.T) {
	line := `http 2026-11-22T10:00:00.000000Z app/lb/1 198.51.100.7:4000 - -1 -1 -1 503 - 10 20 "GET http://x:80/ HTTP/1.1" "curl" - - - "Root=1" "-" "-" 0 2026-11-22T10:00:00.000000Z "fixed-response" "-" "-" "-" "-" "-" "-"` + "\n"
	path := filepath.Join(t.TempDir(), "alb.log")
	if err := os.WriteFile(path, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Run(context.Background(), []string{path}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests != 1 || r.LB5xx != 1 || r.Target5xx != 0 || len(r.Causes) != 0 {
		t.Errorf("fixed-response 503: %d requests, lb %d, target %d, causes %+v", r.Requests, r.LB5xx, r.Target5xx, r.Causes)
	}
}

// TestTarget5xxSignatureNamesEveryCode: half 500s and half 502s from the
// target must not read as "500 = 500" alone.
func TestTarget5xxSignatureNamesEveryCode(t *testing.T) {
	var b strings.Builder
	for i, code := range []int{500, 502, 500, 502} {
		fmt.Fprintf(&b, `http 2026-11-22T10:00:0%d.000000Z app/lb/1 198.51.100.7:4000 10.0.0.1:80 0.001 0.002 0.000 %d %d 10 20 "GET http://x:80/ HTTP/1.1" "curl" - - arn:aws:elasticloadbalancing:r:1:targetgroup/web/abc "Root=1" "-" "-" 0 2026-11-22T10:00:00.000000Z "forward" "-" "-" "10.0.0.1:80" "%d" "-" "-"`+"\n", i, code, code, code)
	}
	path := filepath.Join(t.TempDir(), "alb.log")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Run(context.Background(), []string{path}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Target5xx != 4 || len(r.Causes) != 1 {
		t.Fatalf("target 5xx %d, causes %+v", r.Target5xx, r.Causes)
	}
	if s := r.Causes[0].Signature; !strings.Contains(s, "500") || !strings.Contains(s, "502") || !strings.Contains(s, "(2)") {
		t.Errorf("signature %q does not name both 500 and 502 with their counts", s)
	}
}
