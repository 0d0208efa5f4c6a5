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
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The hardening suite: misbehaving clients and targets that once held
// slots, connections or memory forever (docs/edge.md).

// idleCfg is a listener with a 1 s idle timeout (the smallest the config
// allows) in front of one target.
func idleCfg(target, extra string) string {
	return fmt.Sprintf(`
access_log: {path: "-"}
listeners: [{name: web, address: "127.0.0.1:0", idle_timeout: 1s, default_target_group: app}]
target_groups:
  - name: app
    health_check: {enabled: false}
    queue_timeout: 3s
    targets: [{address: %q%s}]
`, target, extra)
}

// targetErrors returns the admin API's error counts and last error of the
// group's first target: empty when the target was never blamed.
func targetErrors(t *testing.T, f *fulcrum) (map[string]any, any) {
	t.Helper()
	var v struct {
		Targets []struct {
			Errors    map[string]any `json:"errors"`
			LastError any            `json:"last_error"`
		} `json:"targets"`
	}
	if err := json.Unmarshal([]byte(adminGet(t, f.admin+"/api/v1/target-groups/app", 200)), &v); err != nil {
		t.Fatal(err)
	}
	return v.Targets[0].Errors, v.Targets[0].LastError
}

// readUntilClosed reads c until EOF or error and returns what came and
// how long it took; it gives up after limit.
func readUntilClosed(c net.Conn, limit time.Duration) (string, time.Duration, error) {
	start := time.Now()
	c.SetReadDeadline(start.Add(limit))
	b, err := io.ReadAll(c)
	return string(b), time.Since(start), err
}

// TestIdleStalledRequestBody: a client that announces a body and sends
// none (or part of one) gets 408 after idle_timeout and its connection is
// closed; the target is not blamed. Both the buffered (small) and the
// streamed (large) body paths.
func TestIdleStalledRequestBody(t *testing.T) {
	tgt := httpTarget(t, 0, func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) })
	f := startFulcrum(t, idleCfg(tgt, ""))
	for _, tc := range []struct {
		id, length, sent string
	}{
		{"stall-small", "10", ""},
		{"stall-large", "1000000", strings.Repeat("x", 5000)},
	} {
		c, err := net.Dial("tcp", f.addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "POST /up HTTP/1.1\r\nHost: app\r\nX-Request-Id: %s\r\nContent-Length: %s\r\n\r\n%s", tc.id, tc.length, tc.sent)
		got, took, err := readUntilClosed(c, 10*time.Second)
		c.Close()
		if err != nil {
			t.Fatalf("%s: connection still open after %v: %v", tc.id, took, err)
		}
		if !strings.HasPrefix(got, "HTTP/1.1 408 ") || took < 900*time.Millisecond || took > 5*time.Second {
			t.Errorf("%s: after %v got %q, want 408 after about 1s", tc.id, took, got)
		}
		line := f.accessLine(tc.id)
		if line[fELBStatus] != "408" || line[fTargetStatus] != "-" {
			t.Errorf("%s: logged %s/%s, want 408/-", tc.id, line[fELBStatus], line[fTargetStatus])
		}
	}
	if errs, last := targetErrors(t, f); len(errs) != 0 || last != nil {
		t.Errorf("the target was blamed for the client's stall: %v %v", errs, last)
	}
}

// TestIdleSlowUploadSucceeds: a 300 KB upload at a steady 100 KB/s takes
// three times idle_timeout and still succeeds: the bound is idle, not
// total.
func TestIdleSlowUploadSucceeds(t *testing.T) {
	tgt := httpTarget(t, 0, func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%d %v", n, err)
	})
	f := startFulcrum(t, idleCfg(tgt, ""))
	pr, pw := io.Pipe()
	go func() {
		chunk := strings.Repeat("u", 10_000)
		for range 30 {
			time.Sleep(100 * time.Millisecond)
			if _, err := io.WriteString(pw, chunk); err != nil {
				return
			}
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", "http://"+f.addr+"/up", pr)
	req.ContentLength = 300_000
	req.Header.Set("X-Request-Id", "slow-upload")
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "300000 <nil>" {
		t.Fatalf("slow upload after %v: %d %q", time.Since(start), resp.StatusCode, body)
	}
	if took := time.Since(start); took < 2*time.Second {
		t.Fatalf("the upload took %v: not slower than idle_timeout, the test proves nothing", took)
	}
}

// TestIdleClientNeverReads: five clients that never read a large response
// hold the target's five connection slots (max_connections: 5) only until
// idle_timeout; then the target's connections are released and a normal
// GET gets 200, not 503 connection_limit_reached.
func TestIdleClientNeverReads(t *testing.T) {
	var active atomic.Int64
	big := make([]byte, 64<<10)
	tgt := httpTarget(t, 0, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/small" {
			io.WriteString(w, "ok")
			return
		}
		active.Add(1)
		defer active.Add(-1)
		for range 512 { // 32 MiB: more than every socket buffer on the way
			if _, err := w.Write(big); err != nil {
				return
			}
		}
	})
	f := startFulcrum(t, idleCfg(tgt, ", max_connections: 5"))
	for i := range 5 {
		c, err := net.Dial("tcp", f.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /big HTTP/1.1\r\nHost: app\r\nX-Request-Id: stalled-%d\r\n\r\n", i)
	}
	deadline := time.Now().Add(waitTimeout)
	for active.Load() < 5 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if active.Load() < 5 {
		t.Fatalf("only %d stalled responses reached the target", active.Load())
	}
	resp, body := get(t, http.DefaultClient, "http://"+f.addr+"/small", "normal-get")
	if resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("a normal GET behind five stalled clients: %d %q (%s)", resp.StatusCode, body, resp.Header.Get("Proxy-Status"))
	}
	for active.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := active.Load(); n > 0 {
		t.Fatalf("%d target connections still held by clients that read nothing", n)
	}
	for i := range 5 {
		id := fmt.Sprintf("stalled-%d", i)
		if line := f.accessLine(id); line[fELBStatus] != "200" {
			t.Errorf("%s: logged %v", id, line)
		}
		var story struct {
			ErrorType string `json:"error_type"`
			Detail    string `json:"detail"`
		}
		json.Unmarshal([]byte(adminGet(t, f.admin+"/api/v1/requests/"+id, 200)), &story)
		if story.ErrorType != "client_closed" || !strings.Contains(story.Detail, "idle_timeout") {
			t.Errorf("%s: story says %+v", id, story)
		}
	}
	if errs, last := targetErrors(t, f); len(errs) != 0 || last != nil {
		t.Errorf("the target was blamed for clients that read nothing: %v %v", errs, last)
	}
}

// TestIdleWebSocket: an upgraded tunnel with no byte either way for
// idle_timeout is closed on both sides; one that keeps moving bytes stays
// open past it.
func TestIdleWebSocket(t *testing.T) {
	var closed sync.WaitGroup
	tgt := rawServer(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		closed.Add(1)
		defer closed.Done()
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		io.Copy(c, br) // echo until the tunnel closes
	})
	f := startFulcrum(t, idleCfg(tgt, ""))
	open := func(id string) (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", f.addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: app\r\nX-Request-Id: %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", id)
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 101 {
			t.Fatalf("upgrade: %v %v", resp, err)
		}
		return c, br
	}

	busy, busyR := open("ws-busy")
	defer busy.Close()
	start := time.Now()
	for time.Since(start) < 2500*time.Millisecond {
		io.WriteString(busy, "ping")
		busy.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 4)
		if _, err := io.ReadFull(busyR, buf); err != nil {
			t.Fatalf("a busy tunnel closed after %v: %v", time.Since(start), err)
		}
		time.Sleep(300 * time.Millisecond)
	}

	idle, _ := open("ws-idle")
	defer idle.Close()
	_, took, err := readUntilClosed(idle, 10*time.Second)
	if err != nil || took < 900*time.Millisecond || took > 5*time.Second {
		t.Fatalf("idle tunnel: closed after %v (%v), want about 1s", took, err)
	}
	busy.Close()
	closed.Wait() // the target's side of both tunnels is closed too
	if line := f.accessLine("ws-idle"); line[fELBStatus] != "101" {
		t.Errorf("ws-idle logged %v", line)
	}
}

// TestHardenedSurfaces: through the binary, the admin refuses a rebinding
// Host and a cross-site text/plain POST; a DNS failure's detail stays out
// of the client's Proxy-Status; the history finds a request by both ids
// and stays within its byte bound under 62 KB User-Agents; validate
// refuses /dev/zero as a key and a missing log directory; and a removed
// log directory costs no request and is counted.
func TestHardenedSurfaces(t *testing.T) {
	dir := t.TempDir()
	logDir := dir + "/logs"
	if err := os.Mkdir(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	ok := httpTarget(t, 0, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	f := startFulcrum(t, fmt.Sprintf(`
admin: {address: "127.0.0.1:0", request_history_bytes: 1048576}
access_log: {path: %q}
listeners:
  - {name: web, address: "127.0.0.1:0", default_target_group: app, rules: [{priority: 1, path: "/dns", target_group: dns}]}
target_groups:
  - {name: app, health_check: {enabled: false}, targets: [{address: %q}]}
  - {name: dns, health_check: {enabled: false}, retries: {max_attempts: 1}, targets: [{address: "payments-db-primary.invalid:8443"}]}
`, logDir+"/access.log", ok))

	// Admin: rebinding and cross-site requests.
	req, _ := http.NewRequest("POST", f.admin+"/api/v1/target-groups/app/targets", strings.NewReader(`{"address": "127.0.0.1:1"}`))
	req.Host = "rebind.evil.example"
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("Origin", "http://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 421 {
		t.Errorf("rebinding POST: %d, want 421", resp.StatusCode)
	}
	req, _ = http.NewRequest("POST", f.admin+"/api/v1/target-groups/app/targets", strings.NewReader(`{"address": "127.0.0.1:1"}`))
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("Origin", "http://evil.example")
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("cross-site POST: %d, want 403", resp.StatusCode)
	}
	adminGet(t, f.admin+"/debug/pprof/", 404)

	// A DNS failure: the client sees the type and the id, not the names.
	resp, body := get(t, http.DefaultClient, "http://"+f.addr+"/dns", "dns-1")
	ps := resp.Header.Get("Proxy-Status")
	if resp.StatusCode != 502 || !strings.Contains(ps, "error=dns_error") || strings.Contains(ps+body, "payments-db") || !strings.Contains(ps, "dns-1") {
		t.Errorf("DNS failure: %d %q %q", resp.StatusCode, ps, body)
	}
	var story struct {
		ID     string `json:"id"`
		Detail string `json:"detail"`
	}
	json.Unmarshal([]byte(adminGet(t, f.admin+"/api/v1/requests/dns-1", 200)), &story)
	if !strings.Contains(story.Detail, "payments-db-primary.invalid") || story.ID == "" || story.ID == "dns-1" {
		t.Errorf("story by client id: %+v", story)
	}
	adminGet(t, f.admin+"/api/v1/requests/"+story.ID, 200)

	// 62 KB User-Agents stay within the history's byte bound.
	ua := strings.Repeat("U", 62<<10)
	for i := range 100 {
		req, _ := http.NewRequest("GET", "http://"+f.addr+"/", nil)
		req.Header.Set("User-Agent", ua)
		req.Header.Set("X-Request-Id", fmt.Sprint("ua-", i))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	var list struct {
		Bytes int64 `json:"history_bytes"`
		Max   int64 `json:"history_max_bytes"`
	}
	json.Unmarshal([]byte(adminGet(t, f.admin+"/api/v1/requests?limit=1", 200)), &list)
	if list.Max != 1<<20 || list.Bytes <= 0 || list.Bytes > list.Max {
		t.Errorf("history retains %d of %d bytes", list.Bytes, list.Max)
	}

	// The log directory goes away: requests are served, lines counted.
	os.RemoveAll(logDir)
	for i := range 20 {
		if resp, _ := get(t, http.DefaultClient, "http://"+f.addr+"/", fmt.Sprint("nolog-", i)); resp.StatusCode != 200 {
			t.Fatalf("request %d without a log: %d", i, resp.StatusCode)
		}
	}
	// Lines written to the unlinked file before the writer notices (within
	// a second) cannot be counted; every line after that is.
	f.waitEvent("access log cannot be opened; lines are dropped and counted in fulcrum_access_log_dropped_total until it recovers", nil)
	for i := range 20 {
		if resp, _ := get(t, http.DefaultClient, "http://"+f.addr+"/", fmt.Sprint("nolog-after-", i)); resp.StatusCode != 200 {
			t.Fatalf("request %d without a log: %d", i, resp.StatusCode)
		}
	}
	deadline := time.Now().Add(waitTimeout)
	for metricValues(adminGet(t, f.admin+"/metrics", 200))["fulcrum_access_log_dropped_total"] < 20 {
		if time.Now().After(deadline) {
			t.Fatal("fulcrum_access_log_dropped_total did not count the lost lines")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// validate refuses what serve would fail on.
	bad := dir + "/bad.yaml"
	os.WriteFile(bad, []byte(`
access_log: {path: /nonexistent-dir/access.log}
listeners: [{name: web, address: "127.0.0.1:8443", protocol: https, tls: {cert_file: /dev/zero, key_file: /dev/zero}, default_target_group: app}]
target_groups: [{name: app, targets: [{address: "127.0.0.1:9000"}]}]
`), 0o644)
	out, err := exec.Command(binary, "validate", "-c", bad).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "file too large") || !strings.Contains(string(out), "access_log.path") {
		t.Errorf("validate: %v\n%s", err, out)
	}
}
