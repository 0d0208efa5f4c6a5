package analyze

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/health"
)

// TestHealthCheckLog: Fulcrum's own health_check_log, written by its own
// writer, is detected, fully parsed, counts no requests (its lines are
// events) and names the failing target and cause, with --format auto and
// --format fulcrum.
func TestHealthCheckLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "health.log")
	l, err := health.OpenCheckLog(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	refused := health.Result{Address: "10.0.0.5:8080", Latency: time.Millisecond,
		Class:       failure.Classify(&failure.AttemptError{Phase: failure.PhaseConnect, Err: syscall.ECONNREFUSED}),
		Description: "connection refused on 10.0.0.5:8080"}
	for i := range 6 {
		at := t0.Add(time.Duration(i) * 10 * time.Second)
		l.Log("http", "web", "10.0.0.5:8080", refused, at)
		l.Log("http", "web", "10.0.0.6:8080", health.Result{OK: true, Address: "10.0.0.6:8080", Status: 200, Latency: time.Millisecond}, at)
	}
	l.Close()
	for _, format := range []string{"auto", "fulcrum"} {
		r, err := Run(context.Background(), []string{path}, Options{Format: format})
		if err != nil {
			t.Fatal(err)
		}
		in := r.Inputs[0]
		if in.Format != "fulcrum-health" || in.Parsed != 12 || in.Unparsed != 0 {
			t.Fatalf("%s: input %+v, want 12 lines parsed as fulcrum-health", format, in)
		}
		if r.Requests != 0 {
			t.Errorf("%s: %d requests; health checks are events, not requests", format, r.Requests)
		}
		if len(r.Causes) != 1 || r.Causes[0].ID != failure.CauseTargetNotListening || r.Causes[0].Count != 6 {
			t.Fatalf("%s: causes %+v, want 6 × %s", format, r.Causes, failure.CauseTargetNotListening)
		}
		var text strings.Builder
		if err := r.WriteText(&text); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"10.0.0.5:8080", failure.CauseTargetNotListening, "connection refused on 10.0.0.5:8080"} {
			if !strings.Contains(text.String(), want) {
				t.Errorf("%s: report does not name %q:\n%s", format, want, text.String())
			}
		}
	}
}
