package accesslog

import (
	"encoding/hex"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fulcrumlb/fulcrum/internal/failure"
)

// fullRecord sets every field of a Record, and of its attempts, to a
// distinct non-zero value.
func fullRecord() Record {
	now := time.Now()
	return Record{
		Type: "https", Time: now, Listener: "web", Client: "198.51.100.7:51234", Target: "10.0.0.2:8080",
		RequestProcessing: 1500 * time.Microsecond, TargetProcessing: -1, ResponseProcessing: 2 * time.Millisecond,
		ELBStatus: 502, TargetStatus: 200, ReceivedBytes: 812, SentBytes: 1 << 40,
		Method: "POST", URL: "https://example.com:443/a?b=c", Proto: "HTTP/1.1", UserAgent: "curl/8.5.0",
		SSLCipher: "TLS_AES_128_GCM_SHA256", SSLProtocol: "TLSv1.3", TargetGroup: "app",
		TraceID: "client-trace", ID: "0123456789abcdef0123456789abcdef", DomainName: "example.com",
		RulePriority: -1, RequestCreation: now.Add(-3 * time.Millisecond), Forwarded: true,
		Error: failure.ConnectionTerminated, ErrorDetail: "the target closed the connection",
		Attempts: []Attempt{
			{Target: "10.0.0.1:8080", Status: 503, Class: failure.Class{Type: failure.ConnectionTerminated, Phase: failure.PhaseAwaitHeaders,
				Reused: true, Idle: 59 * time.Second, Written: true, ClientTimeout: true, RequestStatus: 463, Unprocessed: true},
				Detail: "EOF after 0 bytes", Duration: 4 * time.Millisecond, Evidence: "idle 59s"},
			{Target: "10.0.0.2:8080", Status: 200, Class: failure.Class{Reused: true, Idle: time.Second}, Duration: time.Millisecond},
		},
		ConnID: "TID_fb09e73348a3a3722f1a89681b087fc0", Action: "fixed-response", RedirectURL: "https://example.com/new", Sticky: "lb_cookie",
		AmznTraceID: "Root=1-67890abc-0123456789abcdef01234567", Classification: "Ambiguous",
		ClassificationReason: "NonCompliantHeader", GRPCStatus: "14",
		Packed: PackedIDs{ID: unhexTest("0123456789abcdef0123456789abcdef"), Conn: unhexTest("fb09e73348a3a3722f1a89681b087fc0"),
			Trace: unhexTest("67890abc0123456789abcdef01234567"), Has: PackedID | PackedConn | PackedTrace},
	}
}

// unhexTest is the 16 bytes 32 hex digits spell (encoding/hex).
func unhexTest(s string) (b [16]byte) {
	if n, err := hex.Decode(b[:], []byte(s)); err != nil || n != 16 {
		panic(s)
	}
	return b
}

// TestHistoryCodecRoundTrip: every field of a Record survives the
// history's encoding. The test fails when a field is added to Record
// (or Attempt) and left out of fullRecord, so the codec cannot silently
// drop a new field.
func TestHistoryCodecRoundTrip(t *testing.T) {
	r := fullRecord()
	for _, v := range []reflect.Value{reflect.ValueOf(r), reflect.ValueOf(r.Attempts[0])} {
		for i := range v.NumField() {
			if !v.Type().Field(i).IsExported() {
				continue // Record.keep, memory for Keep
			}
			if v.Field(i).IsZero() {
				t.Errorf("%s.%s is zero in fullRecord: set it, and encode it in historycodec.go", v.Type().Name(), v.Type().Field(i).Name)
			}
		}
	}
	enc := appendRecord(nil, &r)
	got, err := decodeRecord(enc)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, got, cmpopts.IgnoreUnexported(Record{})); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	// The packed ids take 16 bytes each; without Packed the same record
	// keeps their characters, and decodes to the same strings.
	plain := r
	plain.Packed = PackedIDs{}
	encPlain := appendRecord(nil, &plain)
	if d := len(encPlain) - len(enc); d != 17+21+25 {
		t.Errorf("packing saves %d bytes, want 63 (the characters past 16 and the length bytes)", d)
	}
	if got, err := decodeRecord(encPlain); err != nil || got.ID != r.ID || got.ConnID != r.ConnID || got.AmznTraceID != r.AmznTraceID || got.Packed.Has != 0 {
		t.Errorf("unpacked ids: %q %q %q %v, %v", got.ID, got.ConnID, got.AmznTraceID, got.Packed.Has, err)
	}
	// A Packed whose string is not of its shape is not used.
	odd := r
	odd.ConnID, odd.AmznTraceID = "c-42", "Self=1-67890abc-0123456789abcdef01234567;Root=1-5-6"
	if got, err := decodeRecord(appendRecord(nil, &odd)); err != nil || got.ConnID != "c-42" || got.AmznTraceID != odd.AmznTraceID || got.Packed.Has != PackedID {
		t.Errorf("odd ids: %q %q %v, %v", got.ConnID, got.AmznTraceID, got.Packed.Has, err)
	}
	// Decoded strings are a copy: the encoding can be reused at once.
	clear(enc)
	if got.URL != r.URL || got.Attempts[0].Detail != r.Attempts[0].Detail {
		t.Error("the decoded record aliases the encoded bytes")
	}
	// The ids are read without decoding; a trace id equal to the own id
	// is stored once.
	r.TraceID = r.ID
	enc = appendRecord(nil, &r)
	var raw [16]byte
	rawOK := packHexID(&raw, r.ID)
	if id, trace := recordKeys(enc); !rawOK || !id.raw || !id.is(r.ID, &raw, rawOK) || !trace.is(r.ID, &raw, rawOK) {
		t.Errorf("keys %q %q of a Fulcrum id", id.b, trace.b)
	}
	// An id of another shape is kept, and keyed, as it is.
	r.ID, r.TraceID = "req-7", "req-7"
	enc = appendRecord(nil, &r)
	if id, trace := recordKeys(enc); id.raw || string(id.b) != "req-7" || string(trace.b) != "req-7" {
		t.Errorf("keys %q %q", id.b, trace.b)
	}
	if got, err := decodeRecord(enc); err != nil || got.ID != "req-7" || got.TraceID != "req-7" {
		t.Errorf("other id: %q %q, %v", got.ID, got.TraceID, err)
	}
	r = fullRecord()
	r.TraceID = r.ID
	enc = appendRecord(nil, &r)
	if got, err := decodeRecord(enc); err != nil || got.TraceID != r.ID {
		t.Errorf("trace id = own id: %q, %v", got.TraceID, err)
	}
	// The request's creation is kept as its distance from Time, or as
	// itself when Time is not set.
	created := time.Unix(0, 1_700_000_000_123_456_789)
	if got, err := decodeRecord(appendRecord(nil, &Record{ID: "x", RequestCreation: created})); err != nil || !got.RequestCreation.Equal(created) || !got.Time.IsZero() {
		t.Errorf("creation without time: %v, %v, %v", got.RequestCreation, got.Time, err)
	}
	// An attempt to the record's own target is stored as a reference to
	// it, and costs fewer bytes than one spelled out.
	same, other := Record{ID: "x", Target: "10.0.0.2:8080", Attempts: []Attempt{{Target: "10.0.0.2:8080"}}}, Record{ID: "x", Target: "10.0.0.2:8080", Attempts: []Attempt{{Target: "10.0.0.3:8080"}}}
	if a, b := len(appendRecord(nil, &same)), len(appendRecord(nil, &other)); a >= b {
		t.Errorf("attempt to the record's target: %d bytes, to another: %d", a, b)
	}
	// Zero times stay zero.
	if got, err := decodeRecord(appendRecord(nil, &Record{ID: "x"})); err != nil || !got.Time.IsZero() || !got.RequestCreation.IsZero() {
		t.Errorf("zero record: %+v, %v", got, err)
	}
}

// TestHistoryCodecBounds: long fields are cut at their limits, at a
// UTF-8 boundary, and attempts beyond MaxHistoryAttempts are not kept.
func TestHistoryCodecBounds(t *testing.T) {
	r := Record{ID: "x", UserAgent: strings.Repeat("é", MaxHistoryUserAgent), URL: strings.Repeat("u", 3*MaxHistoryURL),
		Listener: strings.Repeat("l", 1000)}
	for range MaxHistoryAttempts + 3 {
		r.Attempts = append(r.Attempts, Attempt{Target: "a:1", Evidence: strings.Repeat("e", 2*MaxHistoryDetail)})
	}
	got, err := decodeRecord(appendRecord(nil, &r))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.UserAgent) != MaxHistoryUserAgent || got.UserAgent != strings.Repeat("é", MaxHistoryUserAgent/2) {
		t.Errorf("user agent cut to %d bytes", len(got.UserAgent))
	}
	if len(got.URL) != MaxHistoryURL || len(got.Listener) != MaxHistoryField {
		t.Errorf("url %d, listener %d bytes", len(got.URL), len(got.Listener))
	}
	if len(got.Attempts) != MaxHistoryAttempts || len(got.Attempts[0].Evidence) != MaxHistoryDetail {
		t.Errorf("%d attempts, evidence %d bytes", len(got.Attempts), len(got.Attempts[0].Evidence))
	}
}

// TestHistoryCodecRejectsGarbage: truncated or extended bytes are an
// error, never a panic or a record made up.
func TestHistoryCodecRejectsGarbage(t *testing.T) {
	r := fullRecord()
	enc := appendRecord(nil, &r)
	for n := range len(enc) {
		if _, err := decodeRecord(enc[:n]); err == nil {
			t.Fatalf("%d of %d bytes decoded without error", n, len(enc))
		}
	}
	if _, err := decodeRecord(append(enc, 0)); err == nil {
		t.Error("a trailing byte decoded without error")
	}
}

// TestHistoryAddDoesNotAllocate: in steady state, storing a record
// reuses its slot's buffer.
func TestHistoryAddDoesNotAllocate(t *testing.T) {
	h := NewHistory(64)
	r := fullRecord()
	r.Error, r.ELBStatus, r.Attempts = failure.None, 200, r.Attempts[1:]
	for range 200 {
		h.Add(&r)
	}
	if n := testing.AllocsPerRun(1000, func() { h.Add(&r) }); n != 0 {
		t.Errorf("Add allocates %.1f times per record", n)
	}
	if b := h.Bytes(); b <= 0 || b > 64*int64(2*len(appendRecord(nil, &r))+64) {
		t.Errorf("64 records take %d bytes", b)
	}
}
