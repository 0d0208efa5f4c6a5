package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// analyzeJSON runs fulcrum analyze -o json on paths.
func analyzeJSON(t *testing.T, paths ...string) map[string]any {
	t.Helper()
	out, err := exec.Command(binary, append([]string{"analyze", "-o", "json"}, paths...)...).Output()
	if err != nil {
		t.Fatalf("fulcrum analyze: %v\n%s", err, out)
	}
	var r map[string]any
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("analyze JSON: %v\n%s", err, out)
	}
	return r
}

func causeCounts(r map[string]any) map[string]float64 {
	m := map[string]float64{}
	for _, c := range r["causes"].([]any) {
		c := c.(map[string]any)
		m[c["id"].(string)] = c["count"].(float64)
	}
	return m
}

// TestAnalyzeRealLogs: logs written by real processes, nginx in front of
// a dead upstream and Fulcrum itself, are read back and explained.
func TestAnalyzeRealLogs(t *testing.T) {
	dead := closedAddr(t)
	ng := startNginxProxy(t, dead)
	for range 3 {
		resp, err := http.Get("http://" + ng.addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 502 {
			t.Fatalf("nginx in front of a dead upstream answered %d", resp.StatusCode)
		}
	}
	r := analyzeJSON(t, filepath.Join(ng.dir, "error.log"))
	if in := r["inputs"].([]any)[0].(map[string]any); in["format"] != "nginx-error" {
		t.Errorf("nginx error log detected as %v", in["format"])
	}
	if got := causeCounts(r)["target-not-listening"]; got != 3 {
		t.Errorf("nginx: %v target-not-listening, want 3: %v", got, causeCounts(r))
	}

	dir := t.TempDir()
	accessLog := filepath.Join(dir, "access.log")
	f := startFulcrum(t, fmt.Sprintf(`
access_log: {path: %q}
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: dead}]
target_groups: [{name: dead, health_check: {enabled: false}, targets: [{address: %q}]}]
`, accessLog, dead))
	for range 4 {
		resp, err := http.Get("http://" + f.addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if err := f.stop(); err != nil {
		t.Fatal(err)
	}
	r = analyzeJSON(t, accessLog)
	if got := causeCounts(r)["target-not-listening"]; got != 4 || r["lb_5xx"].(float64) != 4 {
		t.Errorf("fulcrum's own log: %v target-not-listening, lb_5xx %v", got, r["lb_5xx"])
	}
}

// TestAnalyzeHTMLRendersInChromium renders the HTML report in headless
// Chromium and checks the DOM it built.
func TestAnalyzeHTMLRendersInChromium(t *testing.T) {
	chromium := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			chromium = p
			break
		}
	}
	if chromium == "" {
		if os.Getenv("FULCRUM_E2E_REQUIRE_CHROMIUM") != "" {
			t.Fatal("chromium is required (FULCRUM_E2E_REQUIRE_CHROMIUM is set) but not installed")
		}
		t.Skip("chromium is not installed")
	}
	dir := t.TempDir()
	log := filepath.Join(dir, "alb.log")
	var lines []string
	for i := range 30 {
		status, tgt, timings := "200", "200", "0.000 0.002 0.000"
		if i%3 == 0 {
			status, tgt, timings = "502", "-", "-1 -1 -1"
		}
		lines = append(lines, fmt.Sprintf(`http 2026-11-22T10:%02d:00.000000Z app/lb/1 198.51.100.7:4000 10.0.0.1:80 %s %s %s 10 20 "GET http://x:80/ HTTP/1.1" "curl" - - arn:aws:elasticloadbalancing:r:1:targetgroup/web/abc "Root=1" "-" "-" 0 2026-11-22T10:00:00.000000Z "forward" "-" "-" "-" "-" "-" "-"`, i, timings, status, tgt))
	}
	os.WriteFile(log, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	report := filepath.Join(dir, "report.html")
	if out, err := exec.Command(binary, "analyze", "-o", "html", "--out", report, log).CombinedOutput(); err != nil {
		t.Fatalf("analyze: %v\n%s", err, out)
	}
	cmd := exec.Command(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--dump-dom", "file://"+report)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	dom := string(out)
	for _, want := range []string{`<svg id="timeline"`, `<rect class="lb5"`, "target-not-listening", `<table id="targets"`} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered DOM lacks %q", want)
		}
	}
	if n := strings.Count(dom, "<rect "); n < 30 {
		t.Errorf("rendered timeline has %d bars, want one or more per minute (30)", n)
	}
}
