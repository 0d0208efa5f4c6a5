package traefik

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/logparse"
	"github.com/fulcrumlb/fulcrum/internal/logparse/logparsetest"
)

type row struct {
	Status, TargetStatus int
	Target, Cause        string
	LB                   bool
}

func parseAll(t *testing.T, path string, sniff func([]byte) bool, parse logparse.Parser) []row {
	t.Helper()
	var got []row
	for i, l := range logparsetest.Lines(t, path) {
		if !sniff(l) {
			t.Errorf("%s:%d not sniffed", path, i+1)
		}
		var e logparse.Entry
		if err := parse(l, &e); err != nil {
			t.Fatalf("%s:%d: %v", path, i+1, err)
		}
		if e.Cause != "" && e.Signature == "" {
			t.Errorf("%s:%d: cause without signature", path, i+1)
		}
		got = append(got, row{e.Status, e.TargetStatus, e.Target, e.Cause, e.LBError})
	}
	return got
}

func TestCLF(t *testing.T) {
	want := []row{
		{200, 200, "172.17.0.3:8080", "", false},
		{502, 0, "172.17.0.4:8080", failure.CauseLBError, true},
		{503, 0, "", failure.CauseNoHealthyTargets, true},
		{500, 500, "172.17.0.3:8080", failure.CauseTarget5xx, false},
		{499, 0, "172.17.0.3:8080", failure.CauseClientClosed, false},
	}
	if d := cmp.Diff(want, parseAll(t, "testdata/clf.log", SniffCLF, ParseCLF)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestJSON(t *testing.T) {
	want := []row{
		{200, 200, "172.17.0.3:8080", "", false},
		{502, 0, "172.17.0.4:8080", failure.CauseLBError, true},
		{500, 500, "172.17.0.3:8080", failure.CauseTarget5xx, false},
		{504, 0, "172.17.0.3:8080", failure.CauseTargetResponseTimeout, true},
		{503, 0, "", failure.CauseNoHealthyTargets, true},
		{502, 502, "172.17.0.3:8080", failure.CauseTarget5xx, false},
		{207, 207, "172.29.0.2:8111", "", false},
	}
	if d := cmp.Diff(want, parseAll(t, "testdata/json.log", SniffJSON, ParseJSON)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestOwnLog(t *testing.T) {
	want := []row{
		{0, 0, "172.17.0.4:8080", failure.CauseTargetNotListening, false},
		{0, 0, "", failure.CauseTargetResponseTimeout, false},
		{0, 0, "172.17.0.5:8080", failure.CauseTargetPortFiltered, false},
	}
	if d := cmp.Diff(want, parseAll(t, "testdata/traefik.log", SniffLog, ParseLog)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/clf.log", "testdata/json.log", "testdata/traefik.log"} {
		for _, l := range logparsetest.Lines(f, p) {
			f.Add(l)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var e logparse.Entry
		for _, p := range []logparse.Parser{ParseCLF, ParseJSON, ParseLog} {
			if p(b, &e) == nil && (e.Status < 0 || e.Status > 999) {
				t.Errorf("status %d", e.Status)
			}
		}
	})
}
