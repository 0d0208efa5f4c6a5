package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/charmbracelet/lipgloss"

	"github.com/fulcrumlb/fulcrum/internal/accesslog"
	"github.com/fulcrumlb/fulcrum/internal/admin"
	"github.com/fulcrumlb/fulcrum/internal/cluster"
	"github.com/fulcrumlb/fulcrum/internal/discovery"
	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/target"
)

// statusAdmin serves the admin API over a group with one healthy target
// and one refusing connections, behind a token.
func statusAdmin(t *testing.T) (*httptest.Server, string) {
	t.Helper()
	now := time.Now()
	up := target.New("web", "127.0.0.1:8080", 1, target.Health{State: target.StateHealthy, Since: now})
	down := target.New("web", "127.0.0.1:8081", 1, target.Health{State: target.StateUnhealthy,
		Reason: target.ReasonFailedHealthChecks, Description: "connection refused on 127.0.0.1:8081", Since: now})
	for range 7 {
		down.Stats.ObserveError(now, failure.Class{Type: failure.ConnectionRefused, Phase: failure.PhaseConnect}, "connection refused")
	}
	for range 120 {
		up.Stats.ObserveResponse(now, 200, time.Millisecond)
	}
	g := target.NewGroup("web", []*target.Target{up, down})
	s := &admin.Server{Token: "tok", Groups: func() []*target.Group { return []*target.Group{g} }}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	tokFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokFile, []byte("tok\n"), 0o600)
	return srv, tokFile
}

func TestStatusTable(t *testing.T) {
	srv, tok := statusAdmin(t)
	code, out, errOut := run(t, "status", "--admin", srv.URL, "--token-file", tok)
	if code != 0 {
		t.Fatalf("code %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	for _, l := range lines {
		if n := utf8.RuneCountInString(l); n > statusWidth {
			t.Errorf("line of %d columns: %q", n, l)
		}
		if strings.Contains(l, "\x1b[") {
			t.Errorf("colour codes written to a non-terminal: %q", l)
		}
	}
	if !strings.HasPrefix(lines[0], "web  1/2 healthy") {
		t.Errorf("group line %q", lines[0])
	}
	var downRow, evidence string
	for i, l := range lines {
		if strings.Contains(l, "127.0.0.1:8081") && strings.Contains(l, "unhealthy") {
			downRow, evidence = l, lines[i+1]
		}
	}
	if !strings.Contains(downRow, "FailedHealthChecks") {
		t.Errorf("down row %q", downRow)
	}
	if !strings.Contains(evidence, "connection_refused ×7 in 5m") || !strings.Contains(evidence, "connection refused on 127.0.0.1:8081") {
		t.Errorf("evidence line %q", evidence)
	}
	// The refusing target sent no 5xx itself; Fulcrum answered 7 for it.
	if !strings.Contains(downRow, "    0.0     0.1") {
		t.Errorf("LB-generated 5xx missing beside target 5xx: %q", downRow)
	}
	if !strings.Contains(out, "   0    2.0    0.0") { // 120 responses in the current minute
		t.Errorf("request rate missing:\n%s", out)
	}
}

func TestStatusRegisteredBy(t *testing.T) {
	now := time.Now()
	file := target.New("api", "127.0.0.1:8080", 1, target.Health{State: target.StateHealthy, Since: now})
	dns := target.New("api", "127.0.0.1:8081", 1, target.Health{State: target.StateHealthy, Since: now})
	dns.SetSource(target.SourceDNS)
	g := target.NewGroup("api", []*target.Target{file, dns})
	s := &admin.Server{Groups: func() []*target.Group { return []*target.Group{g} }}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	code, out, errOut := run(t, "status", "--admin", srv.URL)
	if code != 0 || !strings.Contains(out, "api  2/2 healthy; registered by dns 1, file 1") {
		t.Errorf("code %d %s\n%s", code, errOut, out)
	}
	_, out, _ = run(t, "status", "--admin", srv.URL, "-o", "csv")
	if !strings.Contains(out, "api,127.0.0.1:8081,healthy,,ready,0,0.0,0.0,,0,0.0,dns\n") {
		t.Errorf("csv:\n%s", out)
	}
}

func TestStatusOutputs(t *testing.T) {
	srv, tok := statusAdmin(t)
	code, out, _ := run(t, "status", "--admin", srv.URL, "--token-file", tok, "-o", "json")
	var v struct {
		TargetGroups []admin.TargetGroupView `json:"target_groups"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v.TargetGroups[0].Targets[1].State != "unhealthy" {
		t.Errorf("json: code %d %s", code, out)
	}
	code, out, _ = run(t, "status", "--admin", srv.URL, "--token-file", tok, "-o", "csv")
	if code != 0 || !strings.Contains(out, "web,127.0.0.1:8081,unhealthy,Target.FailedHealthChecks,ready,0,0.0,0.0,connection_refused,7,0.1,file\n") {
		t.Errorf("csv: code %d\n%s", code, out)
	}
	// Without the token the admin API's own error is shown.
	code, _, errOut := run(t, "status", "--admin", srv.URL)
	if code != 1 || !strings.Contains(errOut, "401") || !strings.Contains(errOut, "unauthorized") {
		t.Errorf("no token: code %d, stderr %q", code, errOut)
	}
	code, _, errOut = run(t, "status", "--admin", "http://127.0.0.1:1")
	if code != 1 || !strings.Contains(errOut, "cannot reach the admin API at http://127.0.0.1:1") {
		t.Errorf("unreachable: code %d, stderr %q", code, errOut)
	}
	if code, _, _ := run(t, "status", "-o", "yaml"); code != 2 {
		t.Errorf("-o yaml: code %d, want 2", code)
	}
}

// TestStatusGroups: an empty group says its requests get 503 and how
// many; a target without health checks is not counted healthy; host:port
// works for --admin, and an answer that is not Fulcrum's is an error.
func TestStatusGroups(t *testing.T) {
	now := time.Now()
	on := target.New("web", "127.0.0.1:8080", 1, target.Health{State: target.StateHealthy, Since: now})
	off := target.New("web", "127.0.0.1:8082", 1, target.Health{State: target.StateUnavailable, Since: now})
	hist := accesslog.NewHistory(100)
	for i := range 7 {
		hist.Add(&accesslog.Record{TraceID: fmt.Sprint("r", i), TargetGroup: "empty", ELBStatus: 503, Error: failure.DestinationUnavailable, TargetStatus: 0})
	}
	groups := []*target.Group{target.NewGroup("web", []*target.Target{on, off}), target.NewGroup("empty", nil)}
	s := &admin.Server{History: hist, Groups: func() []*target.Group { return groups }}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	code, out, errOut := run(t, "status", "--admin", strings.TrimPrefix(srv.URL, "http://"))
	if code != 0 {
		t.Fatalf("host:port: code %d: %s", code, errOut)
	}
	if !strings.Contains(out, "web  1/2 healthy, 1 unavailable (health checks disabled)") {
		t.Errorf("unavailable counted as healthy:\n%s", out)
	}
	if !strings.Contains(out, "empty  no registered targets: every request gets 503 (7 of the last 7 requests)") {
		t.Errorf("empty group:\n%s", out)
	}
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"status":"ok"}`) }))
	t.Cleanup(other.Close)
	if code, _, errOut := run(t, "status", "--admin", other.URL); code != 1 || !strings.Contains(errOut, "not a fulcrum admin API") {
		t.Errorf("non-fulcrum URL: code %d, stderr %q", code, errOut)
	}
}

// TestStatusWidth: a wider terminal widens the table; evidence is cut at
// a word, not inside one.
func TestStatusWidth(t *testing.T) {
	g := admin.TargetGroupView{Name: "web", Targets: []admin.TargetView{{Address: "10.0.0.1:8080", State: "unhealthy", AdminState: "ready",
		Description: strings.Repeat("connection refused again ", 10)}}}
	for _, width := range []int{40, 80, 132} {
		var b strings.Builder
		writeStatusTable(&b, []admin.TargetGroupView{g}, nil, lipgloss.NewRenderer(io.Discard), width)
		longest := 0
		for _, l := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
			longest = max(longest, utf8.RuneCountInString(l))
			if strings.HasSuffix(l, "…") && !strings.HasSuffix(l, "again…") && !strings.HasSuffix(l, "refused…") && !strings.HasSuffix(l, "connection…") {
				t.Errorf("width %d: cut inside a word: %q", width, l)
			}
		}
		if want := max(width, statusWidth); longest > want || (width > statusWidth && longest <= statusWidth) {
			t.Errorf("width %d: longest line %d", width, longest)
		}
	}
}

// TestStatusFindsPortZero: with admin.address on port 0, status -c asks
// the runtime socket for the real address.
func TestStatusFindsPortZero(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	g := target.NewGroup("web", []*target.Target{target.New("web", "127.0.0.1:8080", 1, target.Health{State: target.StateHealthy, Since: now})})
	s := &admin.Server{Address: "127.0.0.1:0", Socket: filepath.Join(dir, "fulcrum.sock"), Groups: func() []*target.Group { return []*target.Group{g} }}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Serve(ctx) }()
	defer func() { cancel(); <-done }()
	cfg := filepath.Join(dir, "fulcrum.yaml")
	os.WriteFile(cfg, []byte("admin: {address: \"127.0.0.1:0\", socket: fulcrum.sock}\nlisteners: [{name: web, address: \"127.0.0.1:0\", default_target_group: web}]\ntarget_groups: [{name: web}]\n"), 0o644)
	code, out, errOut := run(t, "status", "-c", cfg)
	if code != 0 || !strings.HasPrefix(out, "web  1/1 healthy") {
		t.Errorf("status -c with port 0: code %d\n%s%s", code, out, errOut)
	}
	os.WriteFile(cfg, []byte("admin: {address: \"127.0.0.1:0\"}\nlisteners: [{name: web, address: \"127.0.0.1:0\", default_target_group: web}]\ntarget_groups: [{name: web}]\n"), 0o644)
	if code, _, errOut := run(t, "status", "-c", cfg); code != 1 || !strings.Contains(errOut, "port 0") {
		t.Errorf("port 0 without socket: code %d %q", code, errOut)
	}
}

func TestStatusDiscoveryEvidence(t *testing.T) {
	g := target.NewGroup("api", nil)
	since := time.Now()
	s := &admin.Server{Groups: func() []*target.Group { return []*target.Group{g} },
		Discovery: func(string) []discovery.Status {
			return []discovery.Status{{Provider: "dns SRV _http._tcp.api.internal via 127.0.0.1:53", Type: "dns", Targets: 3, Stale: true,
				Error: "SRV _http._tcp.api.internal.: read udp: i/o timeout", ErrorSince: &since, Errors: 4}}
		}}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	code, out, _ := run(t, "status", "--admin", srv.URL)
	if code != 0 || !strings.Contains(out, "dns SRV _http._tcp.api.internal via 127.0.0.1:53: FAILING, kept 3 targets\n    └ SRV _http._tcp.api.internal.: read udp: i/o timeout") {
		t.Errorf("code %d\n%s", code, out)
	}
	_, out, _ = run(t, "status", "--admin", srv.URL, "-o", "json")
	var v struct {
		TargetGroups []admin.TargetGroupView `json:"target_groups"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || len(v.TargetGroups[0].Discovery) != 1 || !v.TargetGroups[0].Discovery[0].Stale {
		t.Errorf("json: %v\n%s", err, out)
	}
}

func TestStatusFleet(t *testing.T) {
	reports := map[string]cluster.Report{}
	for _, name := range []string{"lb-a", "lb-b", "lb-c"} {
		r := cluster.Report{Instance: name, Updated: time.Now(), Targets: []cluster.TargetReport{
			{TargetGroup: "api", Address: "10.0.0.5:80", State: "unhealthy", RegisteredBy: "dns", Errors5m: map[string]int64{"connection_refused": 3}},
			{TargetGroup: "api", Address: "10.0.0.6:80", State: "healthy", RegisteredBy: "etcd"},
		}}
		if name == "lb-b" {
			r.Targets[1].Errors5m = map[string]int64{"target_timeout": 2}
		}
		reports[name] = r
	}
	f := cluster.Merge(cluster.Fleet{Instance: "lb-a", Connected: true}, reports)
	s := &admin.Server{Groups: func() []*target.Group { return nil }, Fleet: func() *cluster.Fleet { return &f }}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	code, out, errOut := run(t, "status", "--admin", srv.URL, "--fleet")
	for _, want := range []string{
		"fleet: 3 instances (lb-a, lb-b, lb-c); this is lb-a\netcd: connected\n",
		"  lb-b         healthy     etcd      target_timeout ×2 in 5m\n",
		"  lb-a         healthy     etcd\n",
		"  → connection_refused seen by 3 of 3 instances: the target itself\n",
		"  → only lb-b sees target_timeout (1 of 3 instances): the path, not the target\n",
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("code %d %s: no %q in\n%s", code, errOut, want, out)
		}
	}
	// Without a cluster section the answer says the instance stands alone.
	alone := httptest.NewServer((&admin.Server{Groups: func() []*target.Group { return nil }}).Handler())
	defer alone.Close()
	if code, _, errOut := run(t, "status", "--admin", alone.URL, "--fleet"); code == 0 || !strings.Contains(errOut, "stands alone") {
		t.Errorf("code %d %s", code, errOut)
	}
}
