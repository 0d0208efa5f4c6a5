package accesslog

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fulcrumlb/fulcrum/internal/failure"
)

// athena is the Athena RegexSerDe for ALB logs quoted in
// the AWS documentation's Athena table for ALB logs
// (https://docs.aws.amazon.com/athena/latest/ug/application-load-balancer-logs.html), with its newer request pattern that allows
// spaces in the URI.
var athena = regexp.MustCompile(`([^ ]*) ([^ ]*) ([^ ]*) ([^ ]*):([0-9]*) ([^ ]*)[:-]([0-9]*) ([-.0-9]*) ([-.0-9]*) ([-.0-9]*) (|[-0-9]*) (-|[-0-9]*) ([-0-9]*) ([-0-9]*) \"([^ ]*) (.*) (- |[^ ]*)\" \"([^\"]*)\" ([A-Z0-9-]+) ([A-Za-z0-9.-]*) ([^ ]*) \"([^\"]*)\" \"([^\"]*)\" \"([^\"]*)\" ([-.0-9]*) ([^ ]*) \"([^\"]*)\"($| \"[^ ]*\")(.*)`)

func failedRecord() *Record {
	at := time.Date(2026, 11, 22, 14, 0, 0, 123456000, time.UTC)
	return &Record{
		Type: "http", Time: at, Listener: "web", Client: "192.168.1.10:51234", Target: "10.0.0.6:8080",
		RequestProcessing: 0, TargetProcessing: -1, ResponseProcessing: -1,
		ELBStatus: 502, ReceivedBytes: 120, SentBytes: 240,
		Method: "GET", URL: "http://shop.example.com:80/cart?x=1", Proto: "HTTP/1.1",
		UserAgent: `curl/8.0 "quoted"`, TargetGroup: "app", TraceID: "5f0c9d2a", RulePriority: 0,
		RequestCreation: at.Add(-2 * time.Millisecond), Forwarded: true, Error: failure.ConnectionRefused,
		Attempts: []Attempt{
			{Target: "10.0.0.5:8080", Class: failure.Class{Type: failure.ConnectionRefused, Phase: failure.PhaseConnect}},
			{Target: "10.0.0.6:8080", Class: failure.Class{Type: failure.ConnectionRefused, Phase: failure.PhaseConnect}},
		},
		ConnID:      "TID_0123456789abcdef0123456789abcdef",
		AmznTraceID: "Root=1-6940f0a0-0123456789abcdef01234567",
	}
}

func TestAppendALBExactLine(t *testing.T) {
	got := string(AppendALB(nil, failedRecord()))
	want := `http 2026-11-22T14:00:00.123456Z web 192.168.1.10:51234 10.0.0.6:8080 0.000 -1 -1 502 - 120 240 ` +
		`"GET http://shop.example.com:80/cart?x=1 HTTP/1.1" "curl/8.0 \"quoted\"" - - app "Root=1-6940f0a0-0123456789abcdef01234567" "-" "-" 0 ` +
		`2026-11-22T14:00:00.121456Z "forward" "-" "connection_refused" "10.0.0.5:8080 10.0.0.6:8080" "- -" "-" "-" ` +
		`TID_0123456789abcdef0123456789abcdef "-" "-" "-" "5f0c9d2a"` + "\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ALB line mismatch (-want +got):\n%s", diff)
	}
}

// TestAppendALBDesyncAndTraceFields: fields 28 and 29 carry the
// classification, field 18 the X-Amzn-Trace-Id, and Fulcrum's request id
// comes after ALB's last documented field (request_transform_status).
func TestAppendALBDesyncAndTraceFields(t *testing.T) {
	r := failedRecord()
	r.ELBStatus, r.Error, r.Attempts, r.Target = 400, failure.HTTPRequestDenied, nil, ""
	r.Classification, r.ClassificationReason = "Severe", "BothTeClPresent"
	fs := splitFields(string(AppendALB(nil, r)))
	if len(fs) != 34 {
		t.Fatalf("%d fields, want ALB's 33 and the request id: %q", len(fs), fs)
	}
	for i, want := range map[int]string{17: r.AmznTraceID, 24: "http_request_denied", 27: "Severe", 28: "BothTeClPresent", 29: r.ConnID, 32: "-", 33: "5f0c9d2a"} {
		if fs[i] != want {
			t.Errorf("field %d (0-based) = %q, want %q", i, fs[i], want)
		}
	}
	r.Classification, r.ClassificationReason, r.AmznTraceID, r.TraceID = "", "", "", ""
	fs = splitFields(string(AppendALB(nil, r)))
	if fs[17] != "-" || fs[27] != "-" || fs[28] != "-" || fs[33] != "-" {
		t.Errorf("Compliant request without ids: trace_id %q classification %q %q request id %q, want \"-\"", fs[17], fs[27], fs[28], fs[33])
	}
}

// splitFields splits an ALB line into fields, quoted ones whole and
// without their quotes.
func splitFields(line string) []string {
	line = strings.TrimSuffix(line, "\n")
	var out []string
	for line != "" {
		if line[0] == '"' {
			end := 1
			for end < len(line) && (line[end] != '"' || line[end-1] == '\\') {
				end++
			}
			out = append(out, line[1:end])
			line = strings.TrimPrefix(line[min(end+1, len(line)):], " ")
			continue
		}
		f, rest, _ := strings.Cut(line, " ")
		out = append(out, f)
		line = rest
	}
	return out
}

func TestAppendALBReadByAthenaRegex(t *testing.T) {
	ok := failedRecord()
	ok.UserAgent = "Mozilla/5.0 (X11; Linux x86_64)"
	ok.ELBStatus, ok.TargetStatus, ok.Error, ok.TargetProcessing, ok.ResponseProcessing = 200, 200, failure.None, 3*time.Millisecond, 0
	ok.Attempts = []Attempt{{Target: "10.0.0.6:8080", Status: 200}}
	malformed := &Record{Type: "http", Time: time.Unix(1, 0), Listener: "web", Client: "127.0.0.1:1",
		RequestProcessing: -1, TargetProcessing: -1, ResponseProcessing: -1, ELBStatus: 400, RulePriority: -1,
		Error: failure.HTTPRequestError, RequestCreation: time.Unix(1, 0)}
	failed := failedRecord()
	failed.UserAgent = "curl/8.0"
	for name, r := range map[string]*Record{"failed": failed, "ok": ok, "malformed": malformed} {
		line := strings.TrimSuffix(string(AppendALB(nil, r)), "\n")
		m := athena.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("%s: Athena regex does not match %q", name, line)
			continue
		}
		if m[1] != r.Type || m[11] != strconv.Itoa(r.ELBStatus) || m[21] != orDash(r.TargetGroup) || m[25] != strconv.Itoa(max(r.RulePriority, 0)) && r.RulePriority >= 0 {
			t.Errorf("%s: type %q elb_status_code %q target_group %q priority %q", name, m[1], m[11], m[21], m[25])
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func TestAppendJSONIsValidAndCarriesAttempts(t *testing.T) {
	r := failedRecord()
	r.Attempts[1].Class.Reused, r.Attempts[1].Class.Idle = true, 1500*time.Millisecond
	r.Classification, r.ClassificationReason = "Ambiguous", "SpaceInUri"
	var got struct {
		ELBStatus      int    `json:"elb_status_code"`
		ErrorReason    string `json:"error_reason"`
		TraceID        string `json:"trace_id"`
		AmznTraceID    string `json:"amzn_trace_id"`
		Classification string `json:"classification"`
		Reason         string `json:"classification_reason"`
		UserAgent      string `json:"user_agent"`
		Attempts       []struct {
			ErrorType string  `json:"error_type"`
			Phase     string  `json:"phase"`
			Reused    bool    `json:"reused"`
			Idle      float64 `json:"idle_seconds"`
		} `json:"attempts"`
	}
	if err := json.Unmarshal(AppendJSON(nil, r), &got); err != nil {
		t.Fatalf("invalid JSON: %v", err)
	}
	if got.ELBStatus != 502 || got.ErrorReason != "connection_refused" || got.UserAgent != r.UserAgent ||
		len(got.Attempts) != 2 || got.Attempts[1].Phase != "connect" || !got.Attempts[1].Reused || got.Attempts[1].Idle != 1.5 {
		t.Errorf("decoded %+v", got)
	}
	if got.Classification != "Ambiguous" || got.Reason != "SpaceInUri" || got.TraceID != r.TraceID || got.AmznTraceID != r.AmznTraceID {
		t.Errorf("classification %q/%q trace_id %q amzn_trace_id %q", got.Classification, got.Reason, got.TraceID, got.AmznTraceID)
	}
	r.Classification, r.ClassificationReason = "", ""
	if err := json.Unmarshal(AppendJSON(nil, r), &got); err != nil || got.Classification != "" || got.Reason != "" {
		t.Errorf("Compliant request: %v classification %q/%q, want empty", err, got.Classification, got.Reason)
	}
}

func TestLoggerDropsWhenFullAndFlushesOnStop(t *testing.T) {
	var out bytes.Buffer
	l := New(&out, nil, "alb", 2)
	for range 5 {
		l.Submit(failedRecord()) // Run is not started: two fit, three drop
	}
	if l.Dropped() != 3 {
		t.Errorf("Dropped = %d, want 3", l.Dropped())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "\n"); n != 2 {
		t.Errorf("wrote %d lines, want the 2 queued", n)
	}
}

func BenchmarkAppendALB(b *testing.B) {
	r := failedRecord()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendALB(buf[:0], r)
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	r := failedRecord()
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendJSON(buf[:0], r)
	}
}

// TestRecordKeep: Keep's copies stay as they were while the record lives,
// however many follow (a copy that does not fit goes to a new block);
// after Reset the memory is reused, without allocating, and a block over
// maxKeep is not kept.
func TestRecordKeep(t *testing.T) {
	var r Record
	src := []byte("GET")
	m := r.KeepBytes(src)
	src[0] = 'P' // the copy does not follow its source
	var kept []string
	for i := range 300 {
		kept = append(kept, r.Keep(strings.Repeat(string(rune('a'+i%26)), i)))
	}
	if m != "GET" {
		t.Errorf("first copy %q after 300 more, want GET", m)
	}
	for i, s := range kept {
		if want := strings.Repeat(string(rune('a'+i%26)), i); s != want {
			t.Fatalf("copy %d is %q, want %q", i, s, want)
		}
	}
	if cap(r.keep) <= maxKeep {
		t.Fatalf("300 copies took %d bytes of memory; the test needs more than maxKeep (%d)", cap(r.keep), maxKeep)
	}
	r.Reset()
	if r.keep != nil {
		t.Errorf("Reset kept a block of %d bytes, over maxKeep", cap(r.keep))
	}
	r.Keep("warm up")
	r.Reset()
	if n := testing.AllocsPerRun(100, func() {
		r.Keep("Mozilla/5.0 (X11; Linux x86_64)")
		r.Keep("0123456789abcdef0123456789abcdef")
		r.Reset()
	}); n != 0 {
		t.Errorf("Keep after Reset: %v allocations, want 0", n)
	}
	if s := r.Keep(""); s != "" {
		t.Errorf("Keep(\"\") = %q", s)
	}
}
