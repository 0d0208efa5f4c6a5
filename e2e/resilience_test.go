package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestKeepAliveRace uses a target that resets every reused connection, as a
// target whose keep-alive timeout is shorter than the pool's does at the
// worst moment. Every GET must still succeed: the reused-connection failure
// is retried on a fresh connection.
func TestKeepAliveRace(t *testing.T) {
	addr := rawServer(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		if _, err := readRequest(br); err != nil {
			return
		}
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n"))
		if _, err := readRequest(br); err != nil {
			return
		}
		c.(*net.TCPConn).SetLinger(0) // RST, not FIN
	})
	f := startFulcrum(t, fmt.Sprintf(`
access_log: {path: "-", format: alb}
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app}]
target_groups:
  - {name: app, health_check: {enabled: false}, targets: [{address: %q}]}
`, addr))
	client := &http.Client{}
	for i := range 100 {
		resp, body := get(t, client, "http://"+f.addr+"/", fmt.Sprintf("race-%d", i))
		if resp.StatusCode != 200 || body != "ok\n" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
	}
	retried := 0
	for i := range 100 {
		if fs := f.accessLine(fmt.Sprintf("race-%d", i)); fs[fStatusList] == "- 200" {
			retried++
		}
	}
	if retried == 0 {
		t.Error("no request met a reset reused connection: the race was not exercised")
	}
	t.Logf("%d of 100 GETs met the race and were retried", retried)
}

// TestHealthRemovalReturnAndFailOpen moves targets through unhealthy and
// back, and checks that traffic follows, failing open when none is healthy.
func TestHealthRemovalReturnAndFailOpen(t *testing.T) {
	var downA, downB atomic.Bool
	backend := func(name string, down *atomic.Bool) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/healthz" && down.Load() {
				w.WriteHeader(503)
				return
			}
			io.WriteString(w, name)
		}))
	}
	a, b := backend("a", &downA), backend("b", &downB)
	defer a.Close()
	defer b.Close()
	aAddr, bAddr := strings.TrimPrefix(a.URL, "http://"), strings.TrimPrefix(b.URL, "http://")
	f := startFulcrum(t, fmt.Sprintf(`
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app}]
target_groups:
  - name: app
    health_check: {path: /healthz, interval: 1s, timeout: 500ms, healthy_threshold: 2, unhealthy_threshold: 2}
    targets: [{address: %q}, {address: %q}]
`, aAddr, bAddr))
	client := &http.Client{}
	seen := func(n int) map[string]int {
		got := map[string]int{}
		for i := range n {
			resp, body := get(t, client, "http://"+f.addr+"/", fmt.Sprintf("h-%d", i))
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			got[body]++
		}
		return got
	}
	f.healthIs(aAddr, "healthy")
	f.healthIs(bAddr, "healthy")

	downA.Store(true)
	ev := f.healthIs(aAddr, "unhealthy")
	if ev["reason"] != "Target.ResponseCodeMismatch" || ev["description"] != "Health checks failed with these codes: [503]" {
		t.Errorf("unhealthy event: %v", ev)
	}
	if got := seen(20); got["b"] != 20 {
		t.Errorf("with a unhealthy, traffic = %v; want all to b", got)
	}

	downB.Store(true)
	f.healthIs(bAddr, "unhealthy")
	if got := seen(20); got["a"] != 10 || got["b"] != 10 {
		t.Errorf("with both unhealthy, traffic = %v; want fail-open to both", got)
	}

	downA.Store(false)
	f.healthIs(aAddr, "healthy")
	if got := seen(20); got["a"] != 20 {
		t.Errorf("with a back, traffic = %v; want all to a", got)
	}
}

// TestGracefulShutdown sends SIGTERM with a request in flight: the request
// completes, new connections are refused, and fulcrum exits 0.
func TestGracefulShutdown(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
		io.WriteString(w, "done")
	}))
	defer slow.Close()
	f := startFulcrum(t, fmt.Sprintf(`
shutdown_grace: 20s
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app}]
target_groups:
  - {name: app, health_check: {enabled: false}, targets: [{address: %q}]}
`, strings.TrimPrefix(slow.URL, "http://")))
	type result struct {
		status int
		body   string
		err    error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + f.addr + "/")
		if err != nil {
			res <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		res <- result{resp.StatusCode, string(b), err}
	}()
	<-started
	stopped := make(chan error, 1)
	go func() { stopped <- f.stop() }()
	f.waitEvent("shutting down", func(map[string]any) bool { return true })
	// The listener closes right after the log line; new connects must be
	// refused while the request is still held.
	if waitRefused(f.addr, 5*time.Second) != nil {
		t.Error("new connections were still accepted during shutdown")
	}
	close(release)
	r := <-res
	if r.err != nil || r.status != 200 || r.body != "done" {
		t.Fatalf("in-flight request: %+v", r)
	}
	if err := <-stopped; err != nil {
		t.Errorf("fulcrum exit: %v, want status 0", err)
	}
}

// waitRefused dials addr until a connect is refused, or gives up.
func waitRefused(addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return nil
		}
		c.Close()
		time.Sleep(10 * time.Millisecond) // polling another process's state
	}
	return fmt.Errorf("%s still accepts connections", addr)
}
