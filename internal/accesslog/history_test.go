package accesslog

import (
	"fmt"
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
