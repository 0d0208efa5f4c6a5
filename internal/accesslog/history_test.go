package accesslog

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fulcrumlb/fulcrum/internal/failure"
)

func TestHistoryKeepsFailuresLonger(t *testing.T) {
	h := NewHistory(4)
	failed := &Record{TraceID: "bad", ELBStatus: 502, Error: failure.ConnectionRefused,
		Attempts: []Attempt{{Target: "a:1", Class: failure.Class{Type: failure.ConnectionRefused}}}}
	h.Add(failed)
	retried := &Record{TraceID: "retried", ELBStatus: 200,
		Attempts: []Attempt{{Target: "a:1", Class: failure.Class{Type: failure.ConnectionTerminated, Reused: true}}, {Target: "b:1", Status: 200}}}
	h.Add(retried)
	// The caller reuses its record; the history must hold its own copy.
	failed.Attempts[0].Target = "changed"
	for i := range 10 {
		h.Add(&Record{TraceID: fmt.Sprint("ok", i), ELBStatus: 200, Attempts: []Attempt{{Target: "b:1", Status: 200}}})
	}
	got, ok := h.Get("bad")
	if !ok || got.Attempts[0].Target != "a:1" || got.Error != failure.ConnectionRefused {
		t.Fatalf("failed request lost or aliased: %v %+v", ok, got)
	}
	if _, ok := h.Get("retried"); !ok {
		t.Error("a request with a failed attempt must count as failed")
	}
	if _, ok := h.Get("ok5"); ok {
		t.Error("ok5 should have been evicted by 4 later successes")
	}
	if _, ok := h.Get("ok9"); !ok {
		t.Error("latest success missing")
	}
	recent := h.Recent(3, false)
	if len(recent) != 3 || recent[0].TraceID != "ok9" || recent[2].TraceID != "ok7" {
		t.Errorf("recent: %v", ids(recent))
	}
	fails := h.Recent(10, true)
	if len(fails) != 2 || fails[0].TraceID != "retried" || fails[1].TraceID != "bad" {
		t.Errorf("recent failures: %v", ids(fails))
	}
	for i := range 4 {
		h.Add(&Record{TraceID: fmt.Sprint("bad", i), ELBStatus: 504})
	}
	if _, ok := h.Get("bad"); ok {
		t.Error("failure ring is bounded too")
	}
}

func ids(rs []Record) []string {
	var s []string
	for _, r := range rs {
		s = append(s, r.TraceID)
	}
	return s
}

func BenchmarkHistoryAdd(b *testing.B) {
	h := NewHistory(DefaultHistory)
	ids := make([]string, 1<<14)
	for i := range ids {
		ids[i] = fmt.Sprint("req", i)
	}
	rec := &Record{ELBStatus: 200, Attempts: []Attempt{{Target: "10.0.0.1:80", Status: 200}}}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		rec.TraceID = ids[i%len(ids)]
		h.Add(rec)
	}
}

// TestHistoryBoundedInBytes: 30,000 requests with a 62 KB User-Agent and
// URL retain at most the byte bound, by the history's own accounting, and
// each stored string is cut to its limit.
func TestHistoryBoundedInBytes(t *testing.T) {
	const limit = 4 << 20
	h := NewHistoryBytes(10000, limit)
	ua := strings.Repeat("U", 62<<10)
	url := "http://x/" + strings.Repeat("p", 62<<10)
	detail := strings.Repeat("d", 62<<10)
	for i := range 30000 {
		h.Add(&Record{ID: fmt.Sprint("id", i), TraceID: fmt.Sprint("id", i), UserAgent: ua, URL: url, ELBStatus: 200,
			Attempts: []Attempt{{Target: "a:1", Status: 200, Detail: detail}}})
		if b := h.Bytes(); b > limit {
			t.Fatalf("after %d requests the history retains %d bytes, over %d", i+1, b, limit)
		}
	}
	got, ok := h.Get("id29999")
	if !ok {
		t.Fatal("the newest request is gone")
	}
	if len(got.UserAgent) != MaxHistoryUserAgent || len(got.URL) != MaxHistoryURL || len(got.Attempts[0].Detail) != MaxHistoryDetail {
		t.Errorf("stored lengths: ua %d url %d detail %d", len(got.UserAgent), len(got.URL), len(got.Attempts[0].Detail))
	}
	if _, ok := h.Get("id0"); ok {
		t.Error("the oldest request should have been dropped to stay within the byte bound")
	}
	if n := len(h.Recent(100000, false)); n == 0 || int64(n)*int64(MaxHistoryUserAgent+MaxHistoryURL) > limit {
		t.Errorf("%d records kept", n)
	}
	// A record over the bound by itself is still kept, alone.
	h2 := NewHistoryBytes(10, 1)
	h2.Add(&Record{ID: "a", UserAgent: ua})
	h2.Add(&Record{ID: "b", UserAgent: ua})
	if _, ok := h2.Get("b"); !ok || len(h2.Recent(10, false)) != 1 {
		t.Errorf("tiny bound: %v", ids(h2.Recent(10, false)))
	}
}

// TestHistoryClientIDCannotReplaceStory: a client that sends another
// request's X-Request-Id does not hide that request: Fulcrum's own id
// finds each, and the trace id finds the newest.
func TestHistoryClientIDCannotReplaceStory(t *testing.T) {
	h := NewHistory(10)
	h.Add(&Record{ID: "own1", TraceID: "own1", ELBStatus: 502, Error: failure.ConnectionRefused})
	h.Add(&Record{ID: "own2", TraceID: "own1", ELBStatus: 200}) // the client chose own1
	h.Add(&Record{ID: "own3", TraceID: "client-x", ELBStatus: 200})
	if r, ok := h.Get("own1"); !ok || r.ID != "own1" || r.ELBStatus != 502 {
		t.Errorf("own1: %v %+v", ok, r)
	}
	if r, ok := h.Get("own2"); !ok || r.TraceID != "own1" {
		t.Errorf("own2: %v %+v", ok, r)
	}
	if r, ok := h.Get("client-x"); !ok || r.ID != "own3" {
		t.Errorf("client-x: %v %+v", ok, r)
	}
	h.Add(&Record{ID: "own4", TraceID: "client-x", ELBStatus: 503, Error: failure.ConnectionRefused}) // the failure ring
	h.Add(&Record{ID: "own5", TraceID: "client-x", ELBStatus: 200})
	if r, ok := h.Get("client-x"); !ok || r.ID != "own5" {
		t.Errorf("client-x after two more: %v %+v, want the newest, own5", ok, r)
	}
	if _, ok := h.Get(""); ok {
		t.Error(`Get("") found a record`)
	}
}

// TestHistoryKeepsClassification: the request story carries the desync
// verdict and the trace header, bounded like every other field.
func TestHistoryKeepsClassification(t *testing.T) {
	h := NewHistory(4)
	h.Add(&Record{ID: "own", TraceID: "x", ELBStatus: 400, Error: failure.HTTPRequestDenied,
		Classification: "Severe", ClassificationReason: "BothTeClPresent", AmznTraceID: "Root=1-" + strings.Repeat("a", 1000)})
	got, ok := h.Get("own")
	if !ok || got.Classification != "Severe" || got.ClassificationReason != "BothTeClPresent" {
		t.Fatalf("story lost the classification: %v %+v", ok, got)
	}
	if len(got.AmznTraceID) != MaxHistoryField {
		t.Errorf("trace header kept %d bytes, want %d", len(got.AmznTraceID), MaxHistoryField)
	}
}
