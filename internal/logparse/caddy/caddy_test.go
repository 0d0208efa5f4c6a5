package caddy

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/logparse"
	"github.com/fulcrumlb/fulcrum/internal/logparse/logparsetest"
)

type row struct {
	Kind          logparse.Kind
	Status        int
	Client, Cause string
}

func TestLines(t *testing.T) {
	want := []row{
		{logparse.Request, 200, "127.0.0.1:41342", ""},
		{logparse.Event, 0, "127.0.0.1:41344", failure.CauseTargetNotListening},
		{logparse.Request, 502, "127.0.0.1:41344", failure.CauseLBError},
		{logparse.Event, 0, "127.0.0.1:41346", failure.CauseResponseIncomplete},
		{logparse.Event, 0, "203.0.113.9:50122", failure.CauseClientTLSHandshakeFailed},
		{logparse.Event, 0, "10.0.0.9:50000", failure.CauseTargetResponseTimeout},
		{}, // startup line
		{logparse.Event, 0, "172.30.0.1:31302", failure.CauseTargetNotListening},
		{}, {}, // the admin logger, and a line without a logger
	}
	ls := logparsetest.Lines(t, "testdata/caddy.log")
	var got []row
	for i, l := range ls {
		if !Sniff(l) {
			t.Errorf("line %d not sniffed", i+1)
		}
		var e logparse.Entry
		err := Parse(l, &e)
		if i == 6 || i >= 8 {
			if !errors.Is(err, logparse.ErrSkip) {
				t.Errorf("startup line: %v", err)
			}
			got = append(got, row{})
			continue
		}
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		got = append(got, row{e.Kind, e.Status, e.Client, e.Cause})
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	var e logparse.Entry
	if err := Parse(ls[0], &e); err != nil || !e.Time.Equal(time.Unix(1646861401, 524102400).UTC().Truncate(time.Microsecond)) && e.Time.Unix() != 1646861401 {
		t.Errorf("ts: %v %v", err, e.Time)
	}
	if err := Parse(ls[5], &e); err != nil || !e.Time.Equal(time.Date(2026, 11, 22, 10, 0, 5, 0, time.UTC)) {
		t.Errorf("iso ts: %v %v", err, e.Time)
	}
}

func FuzzParse(f *testing.F) {
	for _, l := range logparsetest.Lines(f, "testdata/caddy.log") {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var e logparse.Entry
		if ParseV1(b, &e) == nil && e.Kind != logparse.Event {
			t.Errorf("v1 kind %d", e.Kind)
		}
		if Parse(b, &e) == nil && (e.Status < 0 || e.Status > 999) {
			t.Errorf("status %d", e.Status)
		}
	})
}

func TestV1(t *testing.T) {
	type v1row struct{ URL, Target, Cause string }
	want := []v1row{{"/index.php", "127.0.0.1:9000", failure.CauseTargetNotListening}, {"/", "", failure.CauseNoHealthyTargets}}
	var got []v1row
	for i, l := range logparsetest.Lines(t, "testdata/v1.log") {
		if !SniffV1(l) || Sniff(l) {
			t.Errorf("line %d: sniffed as v1 %v, as JSON %v", i+1, SniffV1(l), Sniff(l))
		}
		var e logparse.Entry
		if err := ParseV1(l, &e); err != nil || e.Time.IsZero() {
			t.Fatalf("line %d: %v %+v", i+1, err, e)
		}
		got = append(got, v1row{e.URL, e.Target, e.Cause})
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}
