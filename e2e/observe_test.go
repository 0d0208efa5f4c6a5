package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestObserveRefusingTarget is the observe issue's "done when": real nginx
// behind Fulcrum, one target refusing connections, and the metrics, the
// JSON API, the runtime socket, `fulcrum status`, the request history and
// the health-check log all telling the same story.
func TestObserveRefusingTarget(t *testing.T) {
	ng := startNginx(t, "nginx")
	refusing := closedAddr(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "fulcrum.sock")
	checkLog := filepath.Join(dir, "health.log")
	f := startFulcrum(t, fmt.Sprintf(`
admin: {address: "127.0.0.1:0", socket: %q}
health_check_log: {path: %q}
listeners:
  - name: web
    address: "127.0.0.1:0"
    default_target_group: web
    rules:
      - {priority: 10, path: "/direct/*", target_group: direct}
      - {priority: 20, path: "/dead/*", target_group: dead}
target_groups:
  - name: web
    health_check: {interval: 1s, timeout: 500ms, healthy_threshold: 1, unhealthy_threshold: 2}
    targets: [{address: %q}, {address: %q}]
  # The same two targets without health checks or outlier ejection, so
  # round robin sends every other request to the refusing one and retries
  # it on nginx.
  - name: direct
    health_check: {enabled: false}
    outlier_detection: {consecutive_connection_errors: 0}
    targets: [{address: %q}, {address: %q}]
  - name: dead
    health_check: {enabled: false}
    targets: [{address: %q}]
`, sock, checkLog, ng.addr, refusing, refusing, ng.addr, refusing))
	f.healthIs(ng.addr, "healthy")
	f.healthIs(refusing, "unhealthy")

	client := &http.Client{}
	for i := range 10 {
		resp, body := get(t, client, "http://"+f.addr+"/direct/", fmt.Sprintf("direct-%d", i))
		if resp.StatusCode != 200 {
			t.Fatalf("direct request %d: %d %q", i, resp.StatusCode, body)
		}
	}
	resp, _ := get(t, client, "http://"+f.addr+"/dead/x", "")
	failedID := resp.Header.Get("X-Request-Id")
	if resp.StatusCode != 502 || failedID == "" {
		t.Fatalf("dead target: status %d, id %q", resp.StatusCode, failedID)
	}

	t.Run("metrics", func(t *testing.T) {
		body := adminGet(t, f.admin+"/metrics", 200)
		for _, want := range []string{
			`fulcrum_healthy_targets{target_group="web"} 1`,
			`fulcrum_unhealthy_targets{target_group="web"} 1`,
			`fulcrum_target_health{state="unhealthy",target="` + refusing + `",target_group="web"} 1`,
			`fulcrum_requests_total{code="200",listener="web",source="target",target_group="direct"} 10`,
			`fulcrum_requests_total{code="502",listener="web",source="elb",target_group="dead"} 1`,
			`fulcrum_health_checks_total{reason="Target.FailedHealthChecks",result="fail",target="` + refusing + `",target_group="web"}`,
			`fulcrum_active_connections{listener="web"}`,
			`go_goroutines`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
		// Every refused attempt is counted, and each one in the direct
		// group was retried on nginx.
		v := metricValues(body)
		refusedDirect := v[`fulcrum_target_connection_errors_total{error_type="connection_refused",reused="false",target="`+refusing+`",target_group="direct"}`]
		retries := v[`fulcrum_retries_total{error_type="connection_refused",target_group="direct"}`]
		if refusedDirect < 5 || retries != refusedDirect {
			t.Errorf("direct group: %v refused attempts, %v retries; want at least 5, equal", refusedDirect, retries)
		}
		if n := v[`fulcrum_target_connection_errors_total{error_type="connection_refused",reused="false",target="`+refusing+`",target_group="dead"}`]; n < 1 {
			t.Errorf("dead group: %v refused attempts", n)
		}
	})

	t.Run("api", func(t *testing.T) {
		var g struct {
			Healthy, Unhealthy int
			Targets            []struct {
				Address, State, Reason, Description string
				Errors                              map[string]struct {
					M5 int64 `json:"5m"`
				}
				Transitions []struct{ From, To, Reason, Description string }
			}
		}
		json.Unmarshal([]byte(adminGet(t, f.admin+"/api/v1/target-groups/web", 200)), &g)
		if g.Healthy != 1 || g.Unhealthy != 1 || len(g.Targets) != 2 {
			t.Fatalf("web group: %+v", g)
		}
		r := g.Targets[1]
		if r.Address != refusing || r.State != "unhealthy" || r.Reason != "Target.FailedHealthChecks" ||
			r.Description != "connection refused on "+refusing {
			t.Errorf("refusing target: %+v", r)
		}
		if len(r.Transitions) == 0 || r.Transitions[0].To != "unhealthy" || r.Transitions[0].Description == "" {
			t.Errorf("transitions: %+v", r.Transitions)
		}
		var d struct {
			Targets []struct {
				Address string
				Errors  map[string]struct {
					M5 int64 `json:"5m"`
				}
			}
		}
		json.Unmarshal([]byte(adminGet(t, f.admin+"/api/v1/target-groups/direct", 200)), &d)
		if d.Targets[0].Address != refusing || d.Targets[0].Errors["connection_refused"].M5 < 5 {
			t.Errorf("direct group errors: %+v", d.Targets)
		}
		adminGet(t, f.admin+"/api/v1/target-groups/nope", 404)
	})

	t.Run("request story", func(t *testing.T) {
		var r struct {
			Status    int    `json:"status"`
			ErrorType string `json:"error_type"`
			Attempts  []struct {
				Target, Connection, Phase string
				ErrorType                 string `json:"error_type"`
			}
		}
		json.Unmarshal([]byte(adminGet(t, f.admin+"/api/v1/requests/"+failedID, 200)), &r)
		// The group's only target is retried in place (a refused
		// connect may be a full backlog) until max_attempts.
		if r.Status != 502 || r.ErrorType != "connection_refused" || len(r.Attempts) != 3 {
			t.Fatalf("failed request: %+v", r)
		}
		for _, a := range r.Attempts {
			if a.Target != refusing || a.Phase != "connect" || a.Connection != "fresh" || a.ErrorType != "connection_refused" {
				t.Errorf("attempt: %+v", a)
			}
		}
		// A retried request is a failure too, with both attempts.
		var list struct {
			Requests []struct {
				RequestID string `json:"request_id"`
				Attempts  []struct{ Target string }
			}
		}
		json.Unmarshal([]byte(adminGet(t, f.admin+"/api/v1/requests?failed=true&limit=100", 200)), &list)
		retried := 0
		for _, q := range list.Requests {
			if strings.HasPrefix(q.RequestID, "direct-") && len(q.Attempts) == 2 && q.Attempts[0].Target == refusing {
				retried++
			}
		}
		if retried < 5 {
			t.Errorf("%d retried requests in the failure list, want at least 5", retried)
		}
	})

	t.Run("stats socket", func(t *testing.T) {
		out := runtimeCommand(t, sock, "show stat")
		down := 0
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, ",DOWN,") {
				down++
				if !strings.HasPrefix(l, "web,"+refusing+",") || !strings.Contains(l, ",L4CON,") {
					t.Errorf("DOWN row: %s", l)
				}
			}
		}
		if down != 1 {
			t.Errorf("show stat has %d DOWN rows, want 1:\n%s", down, out)
		}
		csv := adminGet(t, f.admin+"/stats?format=csv", 200)
		if !strings.HasPrefix(csv, "# pxname,svname,") || !strings.Contains(csv, "web,BACKEND,") || !strings.Contains(csv, "\nweb,FRONTEND,") {
			t.Errorf("/stats?format=csv:\n%s", csv)
		}
		if info := runtimeCommand(t, sock, "show info"); !strings.Contains(info, "Name: Fulcrum\n") || !strings.Contains(info, "Admin_address: "+strings.TrimPrefix(f.admin, "http://")) {
			t.Errorf("show info:\n%s", info)
		}
	})

	t.Run("status", func(t *testing.T) {
		out, err := exec.Command(binary, "status", "--admin", f.admin).CombinedOutput()
		if err != nil {
			t.Fatalf("fulcrum status: %v\n%s", err, out)
		}
		var row string
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, refusing) && strings.Contains(l, "unhealthy") {
				row = l
			}
		}
		if !strings.Contains(row, "FailedHealthChecks") {
			t.Errorf("status does not show the refusing target unhealthy:\n%s", out)
		}
	})

	t.Run("health check log", func(t *testing.T) {
		b, err := os.ReadFile(checkLog)
		if err != nil {
			t.Fatal(err)
		}
		var fail, pass bool
		for _, l := range strings.Split(string(b), "\n") {
			fields := strings.Fields(l)
			if len(fields) < 8 {
				continue
			}
			if fields[3] == refusing && fields[5] == "FAIL" && fields[7] == "ConnectionReset" && strings.Contains(l, `"connection refused on `+refusing+`"`) {
				fail = true
			}
			if fields[3] == ng.addr && fields[5] == "PASS" && fields[6] == "200" {
				pass = true
			}
		}
		if !fail || !pass {
			t.Errorf("health check log lacks a FAIL for %s or a PASS for %s:\n%s", refusing, ng.addr, b)
		}
	})
}

// metricValues parses Prometheus text into "name{labels}" -> value.
func metricValues(body string) map[string]float64 {
	m := map[string]float64{}
	for _, l := range strings.Split(body, "\n") {
		if l == "" || l[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		var v float64
		fmt.Sscan(l[i+1:], &v)
		m[l[:i]] = v
	}
	return m
}

// adminGet fetches url and checks the status.
func adminGet(t *testing.T, url string, status int) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("GET %s: %d, want %d: %s", url, resp.StatusCode, status, b)
	}
	return string(b)
}

// runtimeCommand sends one runtime API command, with socat as an operator
// would when it is installed, else over a plain Unix socket connection.
func runtimeCommand(t *testing.T, sock, cmd string) string {
	t.Helper()
	if socat, err := exec.LookPath("socat"); err == nil {
		c := exec.Command(socat, "stdio", sock)
		c.Stdin = strings.NewReader(cmd + "\n")
		out, err := c.Output()
		if err != nil {
			t.Fatalf("socat: %v", err)
		}
		return string(out)
	}
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "%s\n", cmd)
	b, err := io.ReadAll(bufio.NewReader(c))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAdminTokenRequiredOffLoopback: an admin server on all interfaces
// without a token is refused at start, and with one it wants the token.
func TestAdminTokenRequiredOffLoopback(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "open.yaml")
	body := `
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app}]
target_groups: [{name: app, targets: [{address: "127.0.0.1:1"}]}]
`
	os.WriteFile(cfg, []byte("admin: {address: \"0.0.0.0:0\"}"+body), 0o644)
	out, err := exec.Command(binary, "serve", "-c", cfg).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("serve without a token: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), `admin.token_file (line 1): is required because admin.address "0.0.0.0:0" is not a loopback address`) {
		t.Errorf("error does not name the problem:\n%s", out)
	}

	tok := filepath.Join(dir, "token")
	os.WriteFile(tok, []byte("hunter2\n"), 0o600)
	f := startFulcrum(t, fmt.Sprintf("admin: {address: \"0.0.0.0:0\", token_file: %q}", tok)+body)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(f.admin, "http://"))
	url := "http://127.0.0.1:" + port + "/api/v1/target-groups"
	var e struct{ Error string }
	json.Unmarshal([]byte(adminGet(t, url, 401)), &e)
	if e.Error != "unauthorized" {
		t.Errorf("error body %+v", e)
	}
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer hunter2")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("with the token: %d", resp.StatusCode)
	}
}
