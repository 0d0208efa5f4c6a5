package alb

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/logparse"
)

func TestConnectionLog(t *testing.T) {
	type row struct{ Client, Cause, Signature string }
	want := []row{
		{"203.0.113.1:36280", "", ""},
		{"203.0.113.2:36282", failure.CauseClientTLSHandshakeFailed, "tls_verify_status Failed:UnmappedCert"},
		{"198.51.100.7:50011", failure.CauseClientTLSHandshakeFailed, "tls_verify_status Failed:CertificateExpired"},
	}
	var got []row
	for i, l := range lines(t, "connection.log") {
		if !SniffConnection(l) || Sniff(l) {
			t.Errorf("line %d: sniffed as connection %v, as access %v", i+1, SniffConnection(l), Sniff(l))
		}
		var e logparse.Entry
		if err := ParseConnection(l, &e); err != nil || e.Kind != logparse.Event || e.Time.IsZero() {
			t.Fatalf("line %d: %v %+v", i+1, err, e)
		}
		got = append(got, row{e.Client, e.Cause, e.Signature})
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	for _, l := range lines(t, "aws-docs.log") {
		if SniffConnection(l) {
			t.Errorf("access line sniffed as a connection line: %s", l)
		}
	}
}

func TestDesyncClassification(t *testing.T) {
	type row struct {
		Status        int
		Class, Reason string
	}
	want := []row{{200, "Ambiguous", "UndefinedContentLengthSemantics"}, {400, "Severe", "BothTeClPresent"}, {200, "", ""}}
	var got []row
	for i, l := range lines(t, "desync.log") {
		var e logparse.Entry
		if err := Parse(l, &e); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		got = append(got, row{e.Status, e.Classification, e.ClassificationReason})
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func FuzzParseConnection(f *testing.F) {
	for _, l := range lines(f, "connection.log") {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var e logparse.Entry
		if ParseConnection(b, &e) == nil && e.Kind != logparse.Event {
			t.Errorf("kind %d", e.Kind)
		}
	})
}
