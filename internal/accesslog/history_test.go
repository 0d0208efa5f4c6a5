package accesslog

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

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

// TestHistoryRingSizes: NewHistoryRings keeps its own count of each:
// the last 2 successes and the last 5 failures here, and the defaults
// (below 1) are 1,000 and 10,000.
func TestHistoryRingSizes(t *testing.T) {
	h := NewHistoryRings(2, 5, 0)
	for i := range 8 {
		h.Add(&Record{TraceID: fmt.Sprint("ok", i), ELBStatus: 200})
		h.Add(&Record{TraceID: fmt.Sprint("bad", i), ELBStatus: 502})
	}
	if got, want := ids(h.Recent(100, false)), []string{"bad7", "ok7", "bad6", "ok6", "bad5", "bad4", "bad3"}; !cmp.Equal(got, want) {
		t.Errorf("recent: %v, want %v", got, want)
	}
	d := NewHistoryRings(0, 0, 0)
	if n, f := len(d.rings[0].slots), len(d.rings[1].slots); n != 1000 || f != 10000 {
		t.Errorf("default rings: %d successes, %d failures; want 1000 and 10000", n, f)
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
	// A bound below the largest record is raised to hold one per ring.
	h2 := NewHistoryBytes(10, 1)
	h2.Add(&Record{ID: "a", UserAgent: ua})
	h2.Add(&Record{ID: "b", UserAgent: ua})
	if _, ok := h2.Get("b"); !ok || h2.MaxBytes() != 2*maxEncodedRecord || h2.Bytes() > h2.MaxBytes() {
		t.Errorf("tiny bound: %v, %d of %d bytes", ids(h2.Recent(10, false)), h2.Bytes(), h2.MaxBytes())
	}
}

// maxedRecord returns a record with every string over its MaxHistory*
// limit and more than MaxHistoryAttempts attempts.
func maxedRecord(id string) *Record {
	long := strings.Repeat("x", 4*MaxHistoryURL)
	r := &Record{ID: id, TraceID: "t" + id, Time: time.Unix(1, 2), RequestCreation: time.Unix(3, 4),
		RequestProcessing: -1, TargetProcessing: time.Hour, ResponseProcessing: time.Hour,
		ELBStatus: 502, TargetStatus: 999, ReceivedBytes: 1 << 60, SentBytes: 1 << 60, RulePriority: 50000,
		Error: failure.ConnectionTimeout}
	for _, f := range historyStrings(r) {
		*f.p = long
	}
	for range MaxHistoryAttempts + 4 {
		r.Attempts = append(r.Attempts, Attempt{Target: long, Status: 999, Detail: long, Evidence: long, Duration: time.Hour,
			Class: failure.Class{Type: failure.ConnectionTimeout, Idle: time.Hour, RequestStatus: 504}})
	}
	return r
}

// TestMaxEncodedRecord: the largest record the codec can write fits
// maxEncodedRecord, the least a ring's arena holds.
func TestMaxEncodedRecord(t *testing.T) {
	n := len(appendRecord(nil, maxedRecord(strings.Repeat("i", 4*MaxHistoryField))))
	if n > maxEncodedRecord || n < maxEncodedRecord/2 {
		t.Errorf("a maxed record encodes to %d bytes; maxEncodedRecord is %d", n, maxEncodedRecord)
	}
}

// TestHistoryArenaRecords: records of random sizes, in an arena a few
// records long and in one much larger than n records, are kept whole: the
// ring holds a run of the newest records, each decoding to what was
// added, within the byte bound, and the bytes written never pass about
// n records even when the bound would allow more.
func TestHistoryArenaRecords(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		n        int
		maxBytes int64
	}{{50, 1}, {200, 1}, {1000, 300 << 10}, {50, 64 << 20}, {7, 300 << 10}} {
		h := NewHistoryBytes(tc.n, tc.maxBytes)
		var added []*Record
		var sizes []int
		reach := 0
		for i := range 3000 {
			r := &Record{ID: fmt.Sprint("r", i), URL: strings.Repeat("u", rng.IntN(MaxHistoryURL)), ELBStatus: 200}
			if rng.IntN(50) == 0 {
				r = maxedRecord(r.ID)
				r.Error, r.ELBStatus, r.Attempts = failure.None, 200, nil
			}
			added = append(added, r)
			sizes = append(sizes, len(appendRecord(nil, r)))
			h.Add(r)
			reach = max(reach, h.rings[0].head)
			if h.Bytes() > h.MaxBytes() {
				t.Fatalf("n %d bound %d: %d bytes kept", tc.n, tc.maxBytes, h.Bytes())
			}
		}
		got := h.Recent(tc.n, false)
		if len(got) == 0 || got[0].ID != added[len(added)-1].ID {
			t.Fatalf("n %d bound %d: the newest record is not kept: %v", tc.n, tc.maxBytes, ids(got))
		}
		for j, r := range got {
			want := added[len(added)-1-j]
			if r.ID != want.ID || r.URL != want.URL[:min(len(want.URL), MaxHistoryURL)] {
				t.Fatalf("n %d bound %d: record %d from the newest is %q (%d URL bytes), want %q (%d)",
					tc.n, tc.maxBytes, j, r.ID, len(r.URL), want.ID, len(want.URL))
			}
		}
		if tc.maxBytes >= 64<<20 && len(got) < tc.n-2 {
			t.Errorf("n %d: a large arena keeps %d of the last %d records", tc.n, len(got), tc.n)
		}
		window := 0 // the most bytes n consecutive records take
		for j := range sizes {
			sum := 0
			for _, z := range sizes[j:min(j+tc.n, len(sizes))] {
				sum += z
			}
			window = max(window, sum)
		}
		if limit := min(len(h.rings[0].arena), window); reach > limit {
			t.Errorf("n %d bound %d: records written up to byte %d, over %d", tc.n, tc.maxBytes, reach, limit)
		}
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

// BenchmarkHistoryAddSmallGET adds records shaped as the proxy fills them
// for a small GET: Fulcrum's own hex ids, its trace header, IPv4
// addresses. It reports the encoded bytes per record.
func BenchmarkHistoryAddSmallGET(b *testing.B) {
	h := NewHistory(DefaultHistory)
	recs := make([]Record, 1<<10)
	for i := range recs {
		id := fmt.Sprintf("%016x%016x", uint64(i)*0x9e3779b97f4a7c15, ^uint64(i))
		recs[i] = Record{Type: "http", Time: time.Now(), Listener: "web", Client: "127.0.0.1:34590", Target: "127.0.0.1:9201",
			TargetProcessing: 26 * time.Microsecond, ELBStatus: 200, TargetStatus: 200, ReceivedBytes: 224, SentBytes: 129,
			Method: "GET", URL: "http://127.0.0.1:8091/", Proto: "HTTP/1.1", TargetGroup: "app",
			ID: id, TraceID: id, RequestCreation: time.Now().Add(-26 * time.Microsecond), Forwarded: true,
			ConnID: "TID_" + id[16:] + id[:16], Action: "forward", AmznTraceID: "Root=1-6b16c3a2-" + id[8:],
			Attempts: []Attempt{{Target: "127.0.0.1:9201", Status: 200, Duration: 26 * time.Microsecond}},
			Packed: PackedIDs{ID: unhexTest(id), Conn: unhexTest(id[16:] + id[:16]), Trace: unhexTest("6b16c3a2" + id[8:]),
				Has: PackedID | PackedConn | PackedTrace}}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.Add(&recs[i%len(recs)])
	}
	b.ReportMetric(float64(h.Bytes())/float64(min(b.N, DefaultHistory)), "B/record")
}

// TestHistoryGetPackedIDs: records whose ids the history keeps packed
// (Record.Packed) are found by their ids and come back with the same
// strings; a client's X-Request-Id of the same shape finds its request,
// and an id that differs only in case finds nothing.
func TestHistoryGetPackedIDs(t *testing.T) {
	h := NewHistory(100)
	const own, client = "a858fd476c35633c7b863566598e6937", "0123456789abcdef0123456789abcdef"
	want := Record{ID: own, TraceID: client, ConnID: "TID_fb09e73348a3a3722f1a89681b087fc0",
		AmznTraceID: "Root=1-6b16c3a2-da925c1fa3c0fe49a9597813", ELBStatus: 200, URL: "http://x/",
		Packed: PackedIDs{ID: unhexTest(own), Conn: unhexTest("fb09e73348a3a3722f1a89681b087fc0"),
			Trace: unhexTest("6b16c3a2da925c1fa3c0fe49a9597813"), Has: PackedID | PackedConn | PackedTrace}}
	h.Add(&want)
	other := Record{ID: "5fd882516498a1f44ee069c957119024", TraceID: "5fd882516498a1f44ee069c957119024", ELBStatus: 200,
		Packed: PackedIDs{ID: unhexTest("5fd882516498a1f44ee069c957119024"), Has: PackedID}}
	h.Add(&other)
	for _, id := range []string{own, client} {
		got, ok := h.Get(id)
		if !ok {
			t.Fatalf("Get(%q): not found", id)
		}
		if diff := cmp.Diff(want, got, cmpopts.IgnoreUnexported(Record{})); diff != "" {
			t.Errorf("Get(%q) (-want +got):\n%s", id, diff)
		}
	}
	if got, ok := h.Get(other.ID); !ok || got.ID != other.ID {
		t.Errorf("Get(%q) = %q, %v", other.ID, got.ID, ok)
	}
	for _, id := range []string{strings.ToUpper(own), own[:31], own + "0"} {
		if got, ok := h.Get(id); ok {
			t.Errorf("Get(%q) found %q", id, got.ID)
		}
	}
}
