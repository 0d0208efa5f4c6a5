package e2e

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
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

// TestAnalyzeRealHAProxy: a real HAProxy in front of a refusing server
// logs with option httplog on one frontend, a custom log-format on
// another, option httplog clf on a third and option tcplog on a TCP one; analyze, given the log-format string, reads both from one
// file, behind a docker compose prefix, and names the cause of each.
func TestAnalyzeRealHAProxy(t *testing.T) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		if os.Getenv("FULCRUM_E2E_REQUIRE_HAPROXY") != "" {
			t.Fatal("haproxy is required (FULCRUM_E2E_REQUIRE_HAPROXY is set) but not installed")
		}
		t.Skip("haproxy is not installed")
	}
	dir := t.TempDir()
	dead := closedAddr(t)
	fes := freeAddrs(t, 4)
	fe1, fe2, fe3, fe4 := fes[0], fes[1], fes[2], fes[3]
	const custom = `%ci:%cp [%tr] %ft %b/%s %ST %tsc %{+Q}r`
	cfg := fmt.Sprintf(`global
  log stdout format raw local0
defaults
  mode http
  log global
  retries 0
  timeout connect 1s
  timeout client 5s
  timeout server 5s
frontend httplog
  bind %s
  option httplog
  default_backend be
frontend custom
  bind %s
  log-format "%s"
  default_backend be
frontend clf
  bind %s
  option httplog clf
  default_backend be
frontend tcp
  mode tcp
  bind %s
  option tcplog
  default_backend betcp
backend be
  server s1 %s
backend betcp
  mode tcp
  server s1 %[6]s
`, fe1, fe2, custom, fe3, fe4, dead)
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	os.WriteFile(cfgPath, []byte(cfg), 0o644)
	logPath := filepath.Join(dir, "stdout.log")
	out, _ := os.Create(logPath)
	cmd := exec.Command(bin, "-db", "-f", cfgPath)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	for _, fe := range []string{fe1, fe2, fe3, fe4} {
		if !waitListening(fe, 10*time.Second) {
			t.Fatalf("haproxy did not listen:\n%s", readFile(logPath))
		}
	}
	for _, fe := range []string{fe1, fe1, fe2, fe3} {
		resp, err := http.Get("http://" + fe + "/x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 503 {
			t.Fatalf("haproxy answered %d, want 503", resp.StatusCode)
		}
	}
	// A TCP connection to the tcplog frontend: HAProxy cannot reach the
	// server and closes it.
	c, err := net.Dial("tcp", fe4)
	if err != nil {
		t.Fatalf("tcplog frontend: %v", err)
	}
	tcpClient := c.LocalAddr().String()
	c.Write([]byte("hello\n"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	c.Read(make([]byte, 16))
	c.Close()
	// HAProxy logs at the end of each session: wait for the lines.
	deadline := time.Now().Add(10 * time.Second)
	for (strings.Count(readFile(logPath), "\"GET /x") < 4 || !strings.Contains(readFile(logPath), tcpClient+" [")) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	var wrapped strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(readFile(logPath)), "\n") {
		// The probes of waitListening are logged too; keep the requests.
		if strings.Contains(l, "GET /x") || strings.HasPrefix(l, tcpClient+" [") {
			wrapped.WriteString("lb-1  | " + l + "\n")
		}
	}
	mixed := filepath.Join(dir, "compose.log")
	os.WriteFile(mixed, []byte(wrapped.String()), 0o644)
	raw, err := exec.Command(binary, "analyze", "-o", "json", "--haproxy-log-format", custom, mixed).Output()
	if err != nil {
		t.Fatalf("analyze: %v\n%s\n%s", err, raw, wrapped.String())
	}
	var r map[string]any
	json.Unmarshal(raw, &r)
	in := r["inputs"].([]any)[0].(map[string]any)
	formats := in["formats"].(map[string]any)
	if formats["haproxy"] != 4.0 || formats["haproxy-log-format"] != 1.0 || in["unparsed"] != 0.0 || in["envelopes"].(map[string]any)["docker-compose"] != 5.0 {
		t.Errorf("input %v\n%s\nhaproxy's whole log (tcp client %s):\n%s", in, wrapped.String(), tcpClient, readFile(logPath))
	}
	if got := causeCounts(r)["target-not-listening"]; got != 5 || r["lb_5xx"] != 4.0 {
		t.Errorf("causes %v, lb_5xx %v\n%s", causeCounts(r), r["lb_5xx"], wrapped.String())
	}
}

// TestAnalyzeFollow: analyze --follow -o json prints a JSON report per
// interval as a file grows and rotates, and a last one at SIGINT.
func TestAnalyzeFollow(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "alb.log")
	line := func(i int, status, tgt, timings string) string {
		return fmt.Sprintf(`http 2026-11-22T10:00:%02d.000000Z app/lb/1 198.51.100.7:4000 10.0.0.1:80 %s %s %s 10 20 "GET http://x:80/ HTTP/1.1" "curl" - - arn:aws:elasticloadbalancing:r:1:targetgroup/web/abc "Root=1" "-" "-" 0 2026-11-22T10:00:00.000000Z "forward" "-" "-" "-" "-" "-" "-"`+"\n", i, timings, status, tgt)
	}
	os.WriteFile(path, []byte(line(0, "200", "200", "0.000 0.002 0.000")), 0o644)
	cmd := exec.Command(binary, "analyze", "--follow", "--interval", "50ms", "-o", "json", path)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	reports := make(chan map[string]any, 4096)
	go func() {
		defer close(reports)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var r map[string]any
			if json.Unmarshal(sc.Bytes(), &r) == nil {
				reports <- r
			}
		}
	}()
	waitRequests := func(n float64) map[string]any {
		t.Helper()
		deadline := time.After(15 * time.Second)
		for {
			select {
			case r, ok := <-reports:
				if !ok {
					t.Fatalf("analyze --follow exited before %v requests", n)
				}
				if r["requests"] == n {
					return r
				}
			case <-deadline:
				t.Fatalf("no report with %v requests", n)
			}
		}
	}
	waitRequests(1)
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o644)
	f.WriteString(line(1, "502", "-", "-1 -1 -1"))
	f.Close()
	waitRequests(2)
	os.Rename(path, path+".1")
	os.WriteFile(path, []byte(line(2, "502", "-", "-1 -1 -1")), 0o644)
	r := waitRequests(3)
	if got := causeCounts(r)["target-not-listening"]; got != 2 {
		t.Errorf("causes after rotation %v", causeCounts(r))
	}
	cmd.Process.Signal(syscall.SIGINT)
	var last map[string]any
	for r := range reports {
		last = r
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("analyze --follow after SIGINT: %v", err)
	}
	if last == nil || last["requests"] != 3.0 {
		t.Errorf("last report %v", last)
	}
}

// TestAnalyzeRealNginxLogFormat: a real nginx logs with a log_format
// holding the upstream variables; a request retried from a refusing
// server to a live one writes lists ("502, 200", "-, 0.000"), and one
// sent only to the refusing server a connect time of "-". analyze, given
// the log_format directive, counts the first as answered and names the
// second's cause from its timings.
func TestAnalyzeRealNginxLogFormat(t *testing.T) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		bin = "/usr/sbin/nginx"
		if _, serr := os.Stat(bin); serr != nil {
			if os.Getenv("FULCRUM_E2E_REQUIRE_NGINX") != "" {
				t.Fatal("nginx is required (FULCRUM_E2E_REQUIRE_NGINX is set) but not installed")
			}
			t.Skip("nginx is not installed")
		}
	}
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer live.Close()
	dead := closedAddr(t)
	const logFormat = `log_format apm '"$time_local" client=$remote_addr request="$request" status=$status '
                   'upstream_addr=$upstream_addr upstream_status=$upstream_status '
                   'upstream_response_time=$upstream_response_time '
                   'upstream_connect_time=$upstream_connect_time upstream_header_time=$upstream_header_time';`
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	conf := fmt.Sprintf(`daemon off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 64; }
http {
  client_body_temp_path %[1]s; proxy_temp_path %[1]s; fastcgi_temp_path %[1]s; uwsgi_temp_path %[1]s; scgi_temp_path %[1]s;
  %[2]s
  access_log %[1]s/access.log apm;
  upstream both { server %[3]s; server %[4]s; }
  upstream deadonly { server %[3]s; }
  server {
    listen %[5]s;
    location /both { proxy_pass http://both; proxy_next_upstream error; }
    location /dead { proxy_pass http://deadonly; }
  }
}
`, dir, logFormat, dead, strings.TrimPrefix(live.URL, "http://"), addr)
	os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644)
	cmd := exec.Command(bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	if !waitListening(addr, 10*time.Second) {
		t.Fatalf("nginx did not listen: %s", readFile(filepath.Join(dir, "error.log")))
	}
	for _, path := range []string{"/both", "/dead"} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	access := filepath.Join(dir, "access.log")
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(readFile(access), "\n") < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	logged := readFile(access)
	raw, err := exec.Command(binary, "analyze", "-o", "json", "--nginx-log-format", logFormat, access).Output()
	if err != nil {
		t.Fatalf("analyze: %v\n%s\n%s", err, raw, logged)
	}
	var r map[string]any
	json.Unmarshal(raw, &r)
	in := r["inputs"].([]any)[0].(map[string]any)
	if in["format"] != "nginx-log-format" || in["parsed"] != 2.0 {
		t.Errorf("input %v\n%s", in, logged)
	}
	// Which server /both tried first is nginx's round robin: a retried
	// request, or one answered at once, is answered either way.
	if got := causeCounts(r); got["target-not-listening"] != 1 || len(got) != 1 || r["lb_5xx"] != 1.0 || r["requests"] != 2.0 {
		t.Errorf("causes %v, lb_5xx %v\n%s", got, r["lb_5xx"], logged)
	}
}

// pemCertAndKey writes a self-signed certificate and its key in one PEM
// file, as HAProxy's crt wants them.
func pemCertAndKey(t *testing.T, path string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	b = append(b, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})...)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestAnalyzeRealHAProxyEvents: a real HAProxy's health check marks a
// refusing server DOWN and a client that speaks no TLS to an https
// frontend fails its handshake; analyze reads both event lines from
// HAProxy's own output, and the 503s that follow as <NOSRV>.
func TestAnalyzeRealHAProxyEvents(t *testing.T) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		if os.Getenv("FULCRUM_E2E_REQUIRE_HAPROXY") != "" {
			t.Fatal("haproxy is required (FULCRUM_E2E_REQUIRE_HAPROXY is set) but not installed")
		}
		t.Skip("haproxy is not installed")
	}
	dir := t.TempDir()
	pemCertAndKey(t, filepath.Join(dir, "site.pem"))
	webTLS := freeAddrs(t, 2)
	web, tls := webTLS[0], webTLS[1]
	cfg := fmt.Sprintf(`global
  log stdout format raw local0
defaults
  mode http
  log global
  option httplog
  timeout connect 1s
  timeout client 5s
  timeout server 5s
frontend web
  bind %s
  default_backend be
frontend secure
  bind %s ssl crt %s
  default_backend be
backend be
  server s1 %s check inter 100ms fall 1 rise 1
`, web, tls, filepath.Join(dir, "site.pem"), closedAddr(t))
	os.WriteFile(filepath.Join(dir, "haproxy.cfg"), []byte(cfg), 0o644)
	// The log goes to stdout; HAProxy also prints its warnings and
	// alerts to stderr ("[WARNING]  (pid) : Server be/s1 is DOWN, …").
	logPath, errPath := filepath.Join(dir, "stdout.log"), filepath.Join(dir, "stderr.log")
	out, _ := os.Create(logPath)
	errOut, _ := os.Create(errPath)
	cmd := exec.Command(bin, "-db", "-f", filepath.Join(dir, "haproxy.cfg"))
	cmd.Stdout, cmd.Stderr = out, errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if !waitListening(web, 10*time.Second) || !waitListening(tls, 10*time.Second) {
		t.Fatalf("haproxy did not listen:\n%s", readFile(logPath))
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(readFile(logPath), "is DOWN") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := http.Get("http://" + web + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	c, err := net.Dial("tcp", tls)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")) // plain HTTP to a TLS port
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	c.Read(make([]byte, 64))
	c.Close()
	for !strings.Contains(readFile(logPath), "SSL handshake") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	logged := readFile(logPath)
	raw, err := exec.Command(binary, "analyze", "-o", "json", logPath).Output()
	if err != nil {
		t.Fatalf("analyze: %v\n%s\n%s", err, raw, logged)
	}
	var r map[string]any
	json.Unmarshal(raw, &r)
	// waitListening's probes count too: a connection closed before its
	// request (CR) and one closed during the TLS handshake.
	want := map[string]float64{"target-not-listening": 1, "no-healthy-targets": 2, "client-tls-handshake-failed": 2, "client-closed": 1}
	if got := causeCounts(r); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("causes %v, want %v\n%s", got, want, logged)
	}
	// The stderr copy of the events reads on its own.
	r = analyzeJSON(t, errPath)
	if got := causeCounts(r); got["target-not-listening"] != 1 || got["no-healthy-targets"] != 1 {
		t.Errorf("stderr causes %v\n%s", got, readFile(errPath))
	}
	if in := r["inputs"].([]any)[0].(map[string]any); in["format"] != "haproxy" {
		t.Errorf("input %v\n%s", in, logged)
	}
}

// TestAnalyzeRealCaddy: a real Caddy proxying to a refusing upstream
// writes a 502 to its access log and the dial error to its error log
// (stderr); analyze reads both, skips Caddy's other lines, and counts the
// request once, under the refused connection.
func TestAnalyzeRealCaddy(t *testing.T) {
	bin, err := exec.LookPath("caddy")
	if err != nil {
		if os.Getenv("FULCRUM_E2E_REQUIRE_CADDY") != "" {
			t.Fatal("caddy is required (FULCRUM_E2E_REQUIRE_CADDY is set) but not installed")
		}
		t.Skip("caddy is not installed")
	}
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	access := filepath.Join(dir, "access.log")
	caddyfile := fmt.Sprintf(`{
	admin off
	auto_https off
}
http://%s {
	log {
		output file %s
		format json
	}
	reverse_proxy %s
}
`, addr, access, closedAddr(t))
	os.WriteFile(filepath.Join(dir, "Caddyfile"), []byte(caddyfile), 0o644)
	errPath := filepath.Join(dir, "stderr.log")
	errOut, _ := os.Create(errPath)
	cmd := exec.Command(bin, "run", "--config", filepath.Join(dir, "Caddyfile"), "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	cmd.Stdout, cmd.Stderr = errOut, errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if !waitListening(addr, 15*time.Second) {
		t.Fatalf("caddy did not listen:\n%s", readFile(errPath))
	}
	resp, err := http.Get("http://" + addr + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 502 {
		t.Fatalf("caddy answered %d, want 502", resp.StatusCode)
	}
	deadline := time.Now().Add(10 * time.Second)
	for (!strings.Contains(readFile(access), `"status":502`) || !strings.Contains(readFile(errPath), "connection refused")) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	r := analyzeJSON(t, access, errPath)
	for _, in := range r["inputs"].([]any) {
		in := in.(map[string]any)
		if in["format"] != "caddy" || in["unparsed"] != 0.0 {
			t.Errorf("input %v\n%s", in, readFile(errPath))
		}
	}
	if got := causeCounts(r); got["target-not-listening"] != 1 || len(got) != 1 || r["lb_5xx"] != 1.0 || r["requests"] != 1.0 {
		t.Errorf("causes %v, lb_5xx %v\n%s\n%s", got, r["lb_5xx"], readFile(access), readFile(errPath))
	}
}
