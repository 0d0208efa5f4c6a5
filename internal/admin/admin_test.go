package admin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/fulcrumlb/fulcrum/internal/accesslog"
	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/target"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// fixture is a group "web" with a healthy target and one that refuses
// connections and failed its checks.
func fixture() (*Server, *target.Group) {
	up := target.New("web", "10.0.0.1:80", 1, target.Health{State: target.StateInitial, Since: t0})
	up.SetHealth(target.Health{State: target.StateHealthy, Since: t0.Add(time.Second)})
	down := target.New("web", "10.0.0.2:80", 1, target.Health{State: target.StateInitial, Since: t0})
	down.SetHealth(target.Health{State: target.StateUnhealthy, Reason: target.ReasonFailedHealthChecks,
		Description: "connection refused on 10.0.0.2:80", Since: t0.Add(2 * time.Second)})
	refused := failure.Class{Type: failure.ConnectionRefused, Phase: failure.PhaseConnect}
	down.Stats.ObserveCheck(target.CheckOutcome{Class: refused, Latency: time.Millisecond, Detail: "connection refused on 10.0.0.2:80"}, false)
	down.Stats.ObserveError(t0.Add(time.Minute), refused, "dial tcp 10.0.0.2:80: connect: connection refused")
	down.Stats.ObserveRetry(true)
	up.Stats.ObserveCheck(target.CheckOutcome{OK: true, Status: 200, Latency: time.Millisecond}, true)
	up.Stats.ObserveResponse(t0.Add(time.Minute), 200, 2*time.Millisecond)
	g := target.NewGroup("web", []*target.Target{up, down})
	h := accesslog.NewHistory(10)
	h.Add(&accesslog.Record{TraceID: "abc", Listener: "public", TargetGroup: "web", ELBStatus: 200, TargetStatus: 200,
		RequestProcessing: 0, TargetProcessing: 2 * time.Millisecond, ResponseProcessing: 0,
		Attempts: []accesslog.Attempt{
			{Target: "10.0.0.2:80", Class: refused, Detail: "connection refused", Duration: time.Millisecond},
			{Target: "10.0.0.1:80", Status: 200, Class: failure.Class{Reused: true, Idle: 3 * time.Second}, Duration: 2 * time.Millisecond},
		}})
	// httptest requests carry Host: example.com.
	s := &Server{Groups: func() []*target.Group { return []*target.Group{g} }, History: h,
		Now: func() time.Time { return t0.Add(90 * time.Second) }, AllowedHosts: []string{"example.com"}, Pprof: true}
	return s, g
}

func get(t *testing.T, h http.Handler, path, token string) (int, []byte) {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Code, w.Body.Bytes()
}

func TestTargetGroupsAPI(t *testing.T) {
	s, _ := fixture()
	code, body := get(t, s.Handler(), "/api/v1/target-groups/web", "")
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	var g TargetGroupView
	if err := json.Unmarshal(body, &g); err != nil {
		t.Fatal(err)
	}
	if g.Healthy != 1 || g.Unhealthy != 1 || len(g.Targets) != 2 {
		t.Fatalf("group %+v", g)
	}
	down := g.Targets[1]
	if down.State != "unhealthy" || down.Reason != "Target.FailedHealthChecks" || down.Description != "connection refused on 10.0.0.2:80" {
		t.Errorf("down target health %+v", down)
	}
	if d := cmp.Diff(map[string]WindowView{"connection_refused": {M1: 1, M5: 1, M15: 1}}, down.Errors); d != "" {
		t.Errorf("errors (-want +got):\n%s", d)
	}
	if down.LastError == nil || down.LastError.ErrorType != "connection_refused" {
		t.Errorf("last error %+v", down.LastError)
	}
	if len(down.Transitions) != 1 || down.Transitions[0].From != "initial" || down.Transitions[0].To != "unhealthy" {
		t.Errorf("transitions %+v", down.Transitions)
	}
	if down.LastCheck == nil || down.LastCheck.Result != "fail" || down.LastCheck.ErrorType != "connection_refused" {
		t.Errorf("last check %+v", down.LastCheck)
	}
	if top, n := down.TopError(); top != "connection_refused" || n != 1 {
		t.Errorf("top error %s %d", top, n)
	}
	if g.Targets[0].ResponseTime.P50 != 0.002 {
		t.Errorf("p50 %v", g.Targets[0].ResponseTime.P50)
	}

	code, body = get(t, s.Handler(), "/api/v1/target-groups/nope", "")
	var e apiError
	if code != 404 || json.Unmarshal(body, &e) != nil || e.Error != "no such target group" || e.Detail != "nope" {
		t.Errorf("unknown group: %d %s", code, body)
	}
	code, body = get(t, s.Handler(), "/api/v1/target-groups", "")
	if code != 200 || !bytes.Contains(body, []byte(`"target_groups"`)) {
		t.Errorf("list: %d %s", code, body)
	}
}

func TestRequestsAPI(t *testing.T) {
	s, _ := fixture()
	code, body := get(t, s.Handler(), "/api/v1/requests/abc", "")
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	var r RequestView
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	want := []AttemptView{
		{Target: "10.0.0.2:80", Connection: "fresh", Phase: "connect", ErrorType: "connection_refused", Detail: "connection refused", DurationSeconds: 0.001},
		{Target: "10.0.0.1:80", Connection: "reused", IdleSeconds: 3, Status: 200, DurationSeconds: 0.002},
	}
	if d := cmp.Diff(want, r.Attempts); d != "" {
		t.Errorf("attempts (-want +got):\n%s", d)
	}
	if !r.Failed || r.Status != 200 || r.TargetGroup != "web" || r.Listener != "public" {
		t.Errorf("request %+v", r)
	}
	if code, _ := get(t, s.Handler(), "/api/v1/requests/zzz", ""); code != 404 {
		t.Errorf("unknown id: %d", code)
	}
	code, body = get(t, s.Handler(), "/api/v1/requests?failed=true&limit=5", "")
	if code != 200 || !bytes.Contains(body, []byte(`"request_id": "abc"`)) {
		t.Errorf("failed list: %d %s", code, body)
	}
	if code, _ := get(t, s.Handler(), "/api/v1/requests?limit=0", ""); code != 400 {
		t.Errorf("limit=0: %d, want 400", code)
	}
}

func TestBearerToken(t *testing.T) {
	s, _ := fixture()
	s.Token = "s3cret"
	h := s.Handler()
	code, body := get(t, h, "/api/v1/target-groups", "")
	var e apiError
	if code != 401 || json.Unmarshal(body, &e) != nil || e.Error != "unauthorized" {
		t.Errorf("no token: %d %s", code, body)
	}
	if code, _ := get(t, h, "/api/v1/target-groups", "wrong"); code != 401 {
		t.Errorf("wrong token: %d", code)
	}
	if code, _ := get(t, h, "/api/v1/target-groups", "s3cret"); code != 200 {
		t.Errorf("right token: %d", code)
	}
	// Profiles are behind the token too.
	if code, _ := get(t, h, "/debug/pprof/goroutine?debug=1", ""); code != 401 {
		t.Errorf("pprof without token: %d", code)
	}
	if code, body := get(t, h, "/debug/pprof/goroutine?debug=1", "s3cret"); code != 200 || !bytes.Contains(body, []byte("goroutine profile")) {
		t.Errorf("pprof with token: %d", code)
	}
}

// statRows parses show stat CSV into rows keyed by column name.
func statRows(t *testing.T, csv string) []map[string]string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(csv, "\n"), "\n")
	if !strings.HasPrefix(lines[0], "# pxname,svname,") {
		t.Fatalf("header %q", lines[0])
	}
	cols := strings.Split(strings.TrimSuffix(strings.TrimPrefix(lines[0], "# "), ","), ",")
	var rows []map[string]string
	for _, l := range lines[1:] {
		vals := strings.Split(strings.TrimSuffix(l, ","), ",")
		if len(vals) != len(cols) {
			t.Fatalf("row has %d fields, header %d: %q", len(vals), len(cols), l)
		}
		row := map[string]string{}
		for i, c := range cols {
			row[c] = vals[i]
		}
		rows = append(rows, row)
	}
	return rows
}

func TestStatCSV(t *testing.T) {
	s, _ := fixture()
	code, body := get(t, s.Handler(), "/stats?format=csv", "")
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	rows := statRows(t, string(body))
	if len(rows) != 3 {
		t.Fatalf("%d rows, want 2 targets and a BACKEND", len(rows))
	}
	pick := func(r map[string]string, cols ...string) map[string]string {
		m := map[string]string{}
		for _, c := range cols {
			m[c] = r[c]
		}
		return m
	}
	cols := []string{"pxname", "svname", "status", "check_status", "econ", "wretr", "wredis", "chkdown", "lastchg", "downtime", "hrsp_2xx", "type"}
	want := []map[string]string{
		{"pxname": "web", "svname": "10.0.0.1:80", "status": "UP", "check_status": "L7OK", "econ": "0", "wretr": "0", "wredis": "0", "chkdown": "0", "lastchg": "89", "downtime": "0", "hrsp_2xx": "1", "type": "2"},
		{"pxname": "web", "svname": "10.0.0.2:80", "status": "DOWN", "check_status": "L4CON", "econ": "1", "wretr": "1", "wredis": "1", "chkdown": "1", "lastchg": "88", "downtime": "88", "hrsp_2xx": "0", "type": "2"},
		{"pxname": "web", "svname": "BACKEND", "status": "UP", "check_status": "", "econ": "1", "wretr": "1", "wredis": "1", "chkdown": "1", "lastchg": "", "downtime": "", "hrsp_2xx": "1", "type": "1"},
	}
	for i := range rows {
		if d := cmp.Diff(want[i], pick(rows[i], cols...)); d != "" {
			t.Errorf("row %d (-want +got):\n%s", i, d)
		}
	}
	if code, _ := get(t, s.Handler(), "/stats", ""); code != 400 {
		t.Errorf("/stats without format: %d, want 400", code)
	}
}

func TestRuntimeSocket(t *testing.T) {
	s, g := fixture()
	s.Address = "127.0.0.1:0"
	s.Socket = filepath.Join(t.TempDir(), "fulcrum.sock")
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Serve(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	// What `echo "show stat" | socat stdio /path/fulcrum.sock` does.
	cmd := func(line string) string {
		c, err := net.Dial("unix", s.Socket)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, line+"\n")
		b, err := io.ReadAll(c)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	out := cmd("show stat")
	if n := strings.Count(out, ",DOWN,"); n != 1 {
		t.Errorf("show stat has %d DOWN rows, want 1:\n%s", n, out)
	}
	if !strings.HasSuffix(out, "\n\n") {
		t.Error("an answer ends with an empty line")
	}
	if out := cmd("disable server web/10.0.0.1:80"); out != "\n" {
		t.Errorf("disable answered %q", out)
	}
	// The other target is unhealthy, so the group fails open onto it
	// alone: a target in maintenance never takes traffic.
	if rs := g.Routes(); len(rs.Targets) != 1 || rs.Targets[0].Address != "10.0.0.2:80" || !rs.FailOpen {
		t.Errorf("routes after disable: %+v", rs)
	}
	if out := cmd("show stat"); !strings.Contains(out, "web,10.0.0.1:80,") || !strings.Contains(out, ",MAINT,") {
		t.Errorf("MAINT not shown:\n%s", out)
	}
	out = cmd("set server web/10.0.0.1:80 state drain; show servers state web")
	if !strings.Contains(out, "1 web 1 10.0.0.1:80 10.0.0.1 2 8 1 1 ") {
		t.Errorf("drain not in show servers state:\n%s", out)
	}
	cmd("enable server web/10.0.0.1:80")
	if rs := g.Routes(); len(rs.Targets) != 1 || rs.Targets[0].Address != "10.0.0.1:80" {
		t.Errorf("enabled target not routed: %v", rs.Targets)
	}
	for line, want := range map[string]string{
		"disable server web/nope":            "No such server.",
		"disable server nope/x":              "No such backend.",
		"set server web/10.0.0.1:80 state x": "expects 'ready', 'drain' and 'maint'",
		"show me the money":                  "Unknown command",
	} {
		if out := cmd(line); !strings.Contains(out, want) {
			t.Errorf("%q answered %q, want %q", line, out, want)
		}
	}
	// Interactive mode keeps the connection for several commands.
	c, err := net.Dial("unix", s.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "prompt\nhelp\nquit\n")
	b, _ := io.ReadAll(bufio.NewReader(c))
	if !strings.Contains(string(b), "> ") || !strings.Contains(string(b), "show servers state") {
		t.Errorf("interactive session: %q", b)
	}
}

// TestStatBytes: bin and bout are a target's bytes, their sum on the
// BACKEND row and the listener's own count on the FRONTEND row.
func TestStatBytes(t *testing.T) {
	s, g := fixture()
	ts := g.Targets()
	for range 3 {
		ts[0].Stats.ObserveBytes(100, 1000)
	}
	ts[1].Stats.ObserveBytes(7, 70)
	s.Frontends = func() []Frontend { return []Frontend{{Name: "public", BytesIn: 400, BytesOut: 4000}} }
	var out bytes.Buffer
	s.RunCommand(&out, "show stat")
	rows := statRows(t, out.String())
	got := [][2]string{}
	for _, r := range rows {
		got = append(got, [2]string{r["bin"], r["bout"]})
	}
	want := [][2]string{{"400", "4000"}, {"300", "3000"}, {"7", "70"}, {"307", "3070"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("bin/bout of FRONTEND, targets, BACKEND (-want +got):\n%s", d)
	}
}

// TestStatQueueAndInfo: a listener has a FRONTEND row, the BACKEND row's
// qcur is the group's real queue, slim a target's max_connections, and
// show info answers.
func TestStatQueueAndInfo(t *testing.T) {
	s, g := fixture()
	g.Targets()[0].SetMaxConnections(8)
	s.Queues = func() map[string]int64 { return map[string]int64{"web": 3} }
	s.QueueMax = func() map[string]int64 { return map[string]int64{"web": 5} }
	s.Version, s.Started = "v9.9.9", s.now().Add(-90*time.Second)
	s.Frontends = func() []Frontend { return []Frontend{{Name: "public", Open: 4, Limit: 100}} }
	var out bytes.Buffer
	s.RunCommand(&out, "show stat")
	rows := statRows(t, out.String())
	if fe := rows[0]; fe["pxname"] != "public" || fe["svname"] != "FRONTEND" || fe["type"] != "0" || fe["scur"] != "4" || fe["slim"] != "100" || fe["status"] != "OPEN" {
		t.Errorf("FRONTEND row %+v", fe)
	}
	rows = rows[1:]
	if rows[2]["svname"] != "BACKEND" || rows[2]["qcur"] != "3" || rows[2]["qmax"] != "5" || rows[0]["qcur"] != "0" || rows[0]["qmax"] != "0" {
		t.Errorf("qcur/qmax: %+v", rows)
	}
	if rows[0]["slim"] != "8" || rows[1]["slim"] != "" {
		t.Errorf("slim: %q %q", rows[0]["slim"], rows[1]["slim"])
	}
	out.Reset()
	s.RunCommand(&out, "show info")
	for _, want := range []string{"Name: Fulcrum\n", "Version: v9.9.9\n", "Uptime_sec: 90\n", "Run_queue: 3\n", "CumReq: "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("show info lacks %q:\n%s", want, out.String())
		}
	}
}

// TestRequestViewCarriesClassification: the request story shows the
// desync verdict and the trace header the access log has.
func TestRequestViewCarriesClassification(t *testing.T) {
	s, _ := fixture()
	s.History.Add(&accesslog.Record{ID: "denied", TraceID: "denied", Listener: "public", ELBStatus: 400, RulePriority: -1,
		Error: failure.HTTPRequestDenied, Classification: "Severe", ClassificationReason: "BothTeClPresent",
		AmznTraceID: "Root=1-6940f0a0-0123456789abcdef01234567"})
	code, body := get(t, s.Handler(), "/api/v1/requests/denied", "")
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	var r RequestView
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	if r.Classification != "Severe" || r.ClassificationReason != "BothTeClPresent" || r.ErrorType != "http_request_denied" ||
		r.AmznTraceID != "Root=1-6940f0a0-0123456789abcdef01234567" {
		t.Errorf("story %+v", r)
	}
	if _, body := get(t, s.Handler(), "/api/v1/requests/abc", ""); bytes.Contains(body, []byte("classification")) {
		t.Errorf("a Compliant request's story names a classification: %s", body)
	}
}
