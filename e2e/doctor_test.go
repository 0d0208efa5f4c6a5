package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// httpTarget serves handler on 127.0.0.1:0 with the given server idle
// timeout (0: net/http's default, which keeps idle connections).
func httpTarget(t *testing.T, idle time.Duration, h http.HandlerFunc) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, IdleTimeout: idle}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

type finding struct {
	ID, Severity, TargetGroup, Target, Evidence, Fix string
}

// runDoctor writes cfg and runs fulcrum doctor -o json on it.
func runDoctor(t *testing.T, cfg string, args ...string) ([]finding, int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fulcrum.yaml")
	os.WriteFile(path, []byte(cfg), 0o644)
	cmd := exec.Command(binary, append([]string{"doctor", "-c", path, "-o", "json", "--keepalive-probe", "4s", "--probe-timeout", "2s"}, args...)...)
	out, err := cmd.Output()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Findings []struct {
			ID          string `json:"id"`
			Severity    string `json:"severity"`
			TargetGroup string `json:"target_group"`
			Target      string `json:"target"`
			Evidence    string `json:"evidence"`
			Fix         string `json:"fix"`
		} `json:"findings"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("doctor JSON: %v\n%s", err, out)
	}
	var fs []finding
	for _, f := range rep.Findings {
		fs = append(fs, finding{f.ID, f.Severity, f.TargetGroup, f.Target, f.Evidence, f.Fix})
	}
	return fs, code
}

// TestDoctorFindings runs doctor against real misbehaving local targets,
// one per finding of the catalogue, and a healthy nginx.
func TestDoctorFindings(t *testing.T) {
	ng := startNginx(t, "ok")
	refused := closedAddr(t)
	filtered := blackhole(t)
	// Health checks pass on nginx's port while the traffic port is closed.
	mismatch := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	_, ngPort, _ := net.SplitHostPort(ng.addr)
	shortKeepalive := httpTarget(t, time.Second, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	tlsTarget := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer tlsTarget.Close()
	invalid := rawServer(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			if _, err := readRequest(br); err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nBad Header: yes\r\n\r\nok")
		}
	})
	statusMismatch := httpTarget(t, 0, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			w.WriteHeader(503)
		}
	})
	slowCheck := httpTarget(t, 0, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			time.Sleep(1500 * time.Millisecond)
		}
	})
	fiveHundred := httpTarget(t, 0, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			w.WriteHeader(500)
		}
	})
	cfg := fmt.Sprintf(`
admin: {address: "127.0.0.1:0"}
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: healthy}]
target_groups:
  - {name: healthy, health_check: {interval: 5s, timeout: 2s}, targets: [{address: %q}]}
  - {name: refused, health_check: {interval: 5s, timeout: 2s}, targets: [{address: %q}]}
  - {name: filtered, connect_timeout: 1s, health_check: {enabled: false}, targets: [{address: %q}]}
  - {name: hcport, health_check: {port: %s, interval: 5s, timeout: 2s}, targets: [{address: %q}]}
  - {name: keepalive, health_check: {interval: 5s, timeout: 2s}, targets: [{address: %q}]}
  - {name: tls, protocol: https, health_check: {interval: 5s, timeout: 2s}, targets: [{address: %q}]}
  - {name: invalid, health_check: {enabled: false}, targets: [{address: %q}]}
  - {name: status, health_check: {path: /health, interval: 5s, timeout: 2s}, targets: [{address: %q}]}
  - {name: slow, health_check: {path: /health, interval: 5s, timeout: 1s}, targets: [{address: %q}]}
  - {name: fivexx, health_check: {path: /health, interval: 5s, timeout: 2s}, targets: [{address: %q}]}
`, ng.addr, refused, filtered, ngPort, mismatch, shortKeepalive, strings.TrimPrefix(tlsTarget.URL, "https://"), invalid, statusMismatch, slowCheck, fiveHundred)
	fs, code := runDoctor(t, cfg)
	for _, f := range fs {
		t.Logf("%s %s %s/%s: %s | fix: %s", f.Severity, f.ID, f.TargetGroup, f.Target, f.Evidence, f.Fix)
	}
	if code != 1 {
		t.Errorf("exit %d, want 1 (error findings)", code)
	}
	byGroup := map[string][]finding{}
	for _, f := range fs {
		byGroup[f.TargetGroup] = append(byGroup[f.TargetGroup], f)
	}
	want := map[string]struct{ id, severity, evidence string }{
		"refused":   {"target-not-listening", "error", "refused"},
		"filtered":  {"target-port-filtered", "error", "no answer"},
		"hcport":    {"health-check-port-mismatch", "error", "health checks pass on port " + ngPort},
		"keepalive": {"keepalive-timeout-shorter-than-idle-timeout", "warning", "closes idle connections after 1."},
		"tls":       {"tls-certificate-invalid", "error", "does not verify"},
		"invalid":   {"invalid-response", "error", `invalid header name "Bad Header"`},
		"status":    {"health-check-status-mismatch", "error", "answered 503"},
		"slow":      {"health-check-timeout-too-short", "error", "timed out"},
		"fivexx":    {"target-5xx", "error", `"HTTP/1.1 500 Internal Server Error"`},
	}
	for group, w := range want {
		var hit *finding
		for i, f := range byGroup[group] {
			if f.ID == w.id {
				hit = &byGroup[group][i]
			}
		}
		if hit == nil {
			t.Errorf("%s: no %s finding; got %+v", group, w.id, byGroup[group])
			continue
		}
		if hit.Severity != w.severity || !strings.Contains(hit.Evidence, w.evidence) || hit.Fix == "" {
			t.Errorf("%s: %+v, want severity %s and evidence containing %q", group, *hit, w.severity, w.evidence)
		}
	}
	for _, f := range byGroup["healthy"] {
		if f.Severity == "error" {
			t.Errorf("healthy nginx has an error finding: %+v", f)
		}
	}
}

// TestDoctorHealthyNginx: a healthy nginx target yields no error finding
// and exit 0, in every output format.
func TestDoctorHealthyNginx(t *testing.T) {
	ng := startNginx(t, "ok")
	cfg := fmt.Sprintf(`
admin: {address: "127.0.0.1:0"}
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app}]
target_groups: [{name: app, health_check: {interval: 5s, timeout: 2s}, targets: [{address: %q}]}]
`, ng.addr)
	fs, code := runDoctor(t, cfg)
	if code != 0 || len(fs) != 0 {
		t.Errorf("exit %d, findings %+v", code, fs)
	}
	path := filepath.Join(t.TempDir(), "f.yaml")
	os.WriteFile(path, []byte(cfg), 0o644)
	for _, o := range []string{"text", "markdown"} {
		out, err := exec.Command(binary, "doctor", "-c", path, "-o", o, "--keepalive-probe", "1s").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "0 error(s)") {
			t.Errorf("-o %s: %v\n%s", o, err, out)
		}
	}
	os.WriteFile(path, []byte("listeners: nope\n"), 0o644)
	if err := exec.Command(binary, "doctor", "-c", path).Run(); err == nil || err.(*exec.ExitError).ExitCode() != 2 {
		t.Errorf("bad config: %v, want exit 2", err)
	}
}

// TestDemo: `fulcrum demo --duration 20s` runs without setup, explains
// its failing targets and exits 0.
func TestDemo(t *testing.T) {
	out, err := exec.Command(binary, "demo", "--duration", "20s", "--listen", "127.0.0.1:0").CombinedOutput()
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	for _, want := range []string{"$ fulcrum status", "$ fulcrum doctor", "target-not-listening", "invalid-response", "keepalive-timeout-shorter-than-idle-timeout"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}

// TestDoctorMisbehavingTargets: a target that accepts connections and
// never answers, one slower than the listener's idle timeout, and a group
// with no targets that a running Fulcrum has answered 503 for each get
// the finding that explains them, never "no findings".
func TestDoctorMisbehavingTargets(t *testing.T) {
	hung := rawServer(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	slow := httpTarget(t, 0, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			time.Sleep(2500 * time.Millisecond)
		}
	})
	cfg := fmt.Sprintf(`
access_log: {path: "-"}
listeners:
  - name: web
    address: "127.0.0.1:0"
    idle_timeout: 1s
    default_target_group: slow
    rules:
      - {priority: 10, path: "/empty/*", target_group: empty}
      - {priority: 20, path: "/hung/*", target_group: hung}
target_groups:
  - {name: hung, health_check: {interval: 5s, timeout: 1s}, targets: [{address: %q}]}
  - {name: slow, health_check: {path: /health, interval: 5s, timeout: 1s}, targets: [{address: %q}]}
  - {name: empty, targets: []}
`, hung, slow)
	f := startFulcrum(t, cfg)
	for i := range 7 {
		resp, err := http.Get(fmt.Sprintf("http://%s/empty/%d", f.addr, i))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 503 {
			t.Fatalf("empty group answered %d, want 503", resp.StatusCode)
		}
	}
	start := time.Now()
	fs, code := runDoctor(t, cfg, "--admin", f.admin)
	t.Logf("doctor took %s", time.Since(start).Round(time.Millisecond))
	for _, f := range fs {
		t.Logf("%s %s %s/%s: %s | fix: %s", f.Severity, f.ID, f.TargetGroup, f.Target, f.Evidence, f.Fix)
	}
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	has := func(group, id, evidence string) *finding {
		for i, f := range fs {
			if f.TargetGroup == group && f.ID == id && strings.Contains(f.Evidence, evidence) {
				return &fs[i]
			}
		}
		t.Errorf("%s: no %s finding with %q", group, id, evidence)
		return nil
	}
	_, hungPort, _ := net.SplitHostPort(hung)
	if h := has("hung", "target-accepts-but-never-answers", "accepts connections"); h != nil && (h.Severity != "error" || !strings.Contains(h.Fix, ":"+hungPort)) {
		t.Errorf("hung: %+v, want an error whose fix names port %s", *h, hungPort)
	}
	for _, f := range fs {
		if f.TargetGroup == "hung" && f.ID == "health-check-timeout-too-short" {
			t.Errorf("a target that never answers is not a too-short health-check timeout: %+v", f)
		}
		if strings.Contains(f.Fix, ":PORT") || strings.Contains(f.Fix, "TARGET") {
			t.Errorf("fix with a placeholder: %+v", f)
		}
	}
	has("slow", "target-slower-than-idle-timeout", "idle_timeout of 1s")
	if e := has("empty", "no-registered-targets", "gets 503"); e != nil && (e.Severity != "error" || !strings.Contains(e.Evidence, "7 of its last 7 requests")) {
		t.Errorf("empty: %+v, want an error counting the 7 answers of 503", *e)
	}
}
