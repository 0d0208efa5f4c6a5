package analyze

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fulcrumlb/fulcrum/internal/failure"
)

// copyTestdata copies a parser's testdata file into dir.
func copyTestdata(t *testing.T, dir, from string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "logparse", from))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, strings.ReplaceAll(from, "/", "_"))
	write(t, p, string(b), false)
	return p
}

// TestCaddyJoin: a Caddy 502 in the access log and the error log line of
// the same request count once, under the error's cause.
func TestCaddyJoin(t *testing.T) {
	p := copyTestdata(t, t.TempDir(), "caddy/testdata/caddy.log")
	r, err := Run(context.Background(), []string{p}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, c := range r.Causes {
		got[c.ID] = c.Count
	}
	// The last line, Caddy 2.4's, has no access line beside it.
	want := map[string]int64{failure.CauseTargetNotListening: 2, failure.CauseResponseIncomplete: 1,
		failure.CauseClientTLSHandshakeFailed: 1, failure.CauseTargetResponseTimeout: 1}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("causes (-want +got):\n%s", d)
	}
	if r.Inputs[0].Format != "caddy" || r.Inputs[0].Unparsed != 0 || r.LB5xx != 1 || r.Requests != 2 {
		t.Errorf("input %+v, lb 5xx %d, requests %d", r.Inputs[0], r.LB5xx, r.Requests)
	}
}

// TestProxyFormats: Traefik, ALB connection and desync lines are
// detected and counted; the HTML report shows formats, envelopes and the
// desync tiers.
func TestProxyFormats(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for _, f := range []string{"traefik/testdata/clf.log", "traefik/testdata/json.log", "traefik/testdata/traefik.log",
		"alb/testdata/connection.log", "alb/testdata/desync.log"} {
		paths = append(paths, copyTestdata(t, dir, f))
	}
	// The same desync lines behind a kubectl prefix.
	b, _ := os.ReadFile(paths[4])
	var wrapped strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		wrapped.WriteString("[pod/alb-shipper-1/fluent-bit] " + l + "\n")
	}
	paths = append(paths, filepath.Join(dir, "wrapped.log"))
	write(t, paths[5], wrapped.String(), false)
	r, err := Run(context.Background(), paths, Options{})
	if err != nil {
		t.Fatal(err)
	}
	formats := []string{}
	for _, in := range r.Inputs {
		if in.Unparsed != 0 {
			t.Errorf("%s: %v", in.Path, in.UnparsedExamples)
		}
		formats = append(formats, in.Format)
	}
	if d := cmp.Diff([]string{"traefik-clf", "traefik-json", "traefik-log", "alb-connection", "alb", "alb"}, formats); d != "" {
		t.Errorf("formats (-want +got):\n%s", d)
	}
	want := map[string]map[string]int64{"Ambiguous": {"UndefinedContentLengthSemantics": 2}, "Severe": {"BothTeClPresent": 2}}
	if d := cmp.Diff(want, r.Desync); d != "" {
		t.Errorf("desync (-want +got):\n%s", d)
	}
	var tls int64
	for _, c := range r.Causes {
		if c.ID == failure.CauseClientTLSHandshakeFailed {
			tls = c.Count
			if c.Side != "client" || c.Fix == "" {
				t.Errorf("cause %+v", c)
			}
		}
	}
	if tls != 2 {
		t.Errorf("client TLS failures %d, want 2", tls)
	}
	var buf bytes.Buffer
	if err := r.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`id="desync"`, "BothTeClPresent 2", "kubectl-prefix 3"} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("HTML lacks %q", s)
		}
	}
	buf.Reset()
	r.WriteText(&buf)
	if !strings.Contains(buf.String(), "  Severe: BothTeClPresent 2\n") {
		t.Errorf("text report:\n%s", buf.String())
	}
}

// TestTraefikJoin: a 502 Traefik gave (OriginStatus 0) and its debug
// line "'502 Bad Gateway' caused by: dial tcp …: connection refused"
// count once, under the refused connection.
func TestTraefikJoin(t *testing.T) {
	dir := t.TempDir()
	paths := []string{copyTestdata(t, dir, "traefik/testdata/json.log"), copyTestdata(t, dir, "traefik/testdata/traefik.log")}
	r, err := Run(context.Background(), paths, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, c := range r.Causes {
		got[c.ID] = c.Count
	}
	want := map[string]int64{failure.CauseTargetNotListening: 1, failure.CauseTarget5xx: 2, failure.CauseNoHealthyTargets: 1,
		failure.CauseTargetResponseTimeout: 2, failure.CauseTargetPortFiltered: 1}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("causes (-want +got):\n%s", d)
	}
}
