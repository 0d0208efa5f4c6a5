package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// loadGen keeps a constant load of GETs running through an address and
// records every answer that is not a 2xx and every transport error.
type loadGen struct {
	sent, ok atomic.Int64
	mu       sync.Mutex
	bad      []string
	bodies   map[string]int
	stop     chan struct{}
	wg       sync.WaitGroup
	client   *http.Client
	start    time.Time
}

func startLoad(url string, workers int) *loadGen {
	l := &loadGen{stop: make(chan struct{}), bodies: map[string]int{}, start: time.Now(),
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}}
	for w := range workers {
		l.wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				id := fmt.Sprintf("load-%d-%d", w, i)
				req, _ := http.NewRequest("GET", url, nil)
				req.Header.Set("X-Request-Id", id)
				l.sent.Add(1)
				resp, err := l.client.Do(req)
				if err != nil {
					l.fail(fmt.Sprintf("%s: %v", id, err))
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch {
				case err != nil:
					l.fail(fmt.Sprintf("%s: reading the body: %v", id, err))
				case resp.StatusCode/100 != 2:
					l.fail(fmt.Sprintf("%s: %d %s %q", id, resp.StatusCode, resp.Header.Get("Proxy-Status"), body))
				default:
					l.ok.Add(1)
					l.mu.Lock()
					l.bodies[strings.TrimSpace(string(body))]++
					l.mu.Unlock()
				}
				time.Sleep(2 * time.Millisecond) // a steady load, not a flood
			}
		})
	}
	return l
}

func (l *loadGen) fail(msg string) {
	l.mu.Lock()
	l.bad = append(l.bad, msg)
	l.mu.Unlock()
}

// served returns how many answers came from the backend named name.
func (l *loadGen) served(name string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bodies[name]
}

// waitServed waits until a backend answered some load.
func (l *loadGen) waitServed(t *testing.T, name string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for l.served(name) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%s never got load; bodies %v", name, l.bodies)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (l *loadGen) finish(t *testing.T) {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	l.client.CloseIdleConnections()
	t.Logf("nothing lost: %d requests in %s, %d ok; per backend %v", l.sent.Load(), time.Since(l.start).Round(time.Millisecond), l.ok.Load(), l.bodies)
	for _, b := range l.bad {
		t.Errorf("client-visible failure: %s", b)
	}
}

func fulcrumCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(binary, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("fulcrum %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestNothingLost runs a constant GET load through Fulcrum while an
// operator registers a target, deregisters one that holds slow requests,
// reloads a changed and then a broken configuration, a backend process
// dies, and Fulcrum itself is replaced by a new process on the same port
// (reuse_port). No client may see an error.
func TestNothingLost(t *testing.T) {
	one, two, three := startNginx(t, "one"), startNginx(t, "two"), startNginx(t, "three")
	// The slow target is a Go server so it can hold requests: /slow takes
	// 1.5s, everything else answers at once.
	var slowStarted atomic.Int64
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			slowStarted.Add(1)
			time.Sleep(1500 * time.Millisecond)
		}
		io.WriteString(w, "slow\n")
	}))
	defer slow.Close()
	slowAddr := strings.TrimPrefix(slow.URL, "http://")
	web := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := func(algorithm string, targets ...string) string {
		var ts []string
		for _, a := range targets {
			ts = append(ts, fmt.Sprintf("{address: %q}", a))
		}
		return fmt.Sprintf(`admin: {address: "127.0.0.1:0"}
shutdown_grace: 10s
listeners:
  - {name: web, address: %q, reuse_port: true, default_target_group: app}
target_groups:
  - name: app
    algorithm: %s
    deregistration_delay: 20s
    health_check: {interval: 1s, timeout: 500ms, healthy_threshold: 2, unhealthy_threshold: 2}
    targets: [%s]
`, web, algorithm, strings.Join(ts, ", "))
	}
	f := startFulcrum(t, cfg("round_robin", one.addr, two.addr, slowAddr))
	f.healthIs(one.addr, "healthy")
	f.healthIs(two.addr, "healthy")
	f.healthIs(slowAddr, "healthy")
	load := startLoad("http://"+web+"/", 8)
	load.waitServed(t, "one")

	t.Log("register a target")
	out := fulcrumCLI(t, "targets", "register", "app", three.addr, "--admin", f.admin)
	if !strings.Contains(out, "registered "+three.addr+" in app: initial") {
		t.Errorf("register: %s", out)
	}
	f.healthIs(three.addr, "healthy")
	load.waitServed(t, "three")

	t.Log("deregister the slow target while it holds slow requests")
	slowResults := make(chan string, 3)
	for range 3 {
		go func() {
			// /slow goes round robin too; retry until the slow target
			// holds the request.
			for {
				resp, err := http.Get("http://" + web + "/slow")
				if err != nil {
					slowResults <- err.Error()
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if b := strings.TrimSpace(string(body)); b == "slow" || resp.StatusCode != 200 {
					slowResults <- fmt.Sprintf("%d %s", resp.StatusCode, b)
					return
				}
			}
		}()
	}
	for slowStarted.Load() < 3 {
		time.Sleep(5 * time.Millisecond)
	}
	out = fulcrumCLI(t, "targets", "deregister", "app", slowAddr, "--admin", f.admin)
	// The three slow requests are in flight, and maybe a load request.
	inFlight := -1
	if i := strings.Index(out, "draining, "); i >= 0 {
		fmt.Sscanf(out[i:], "draining, %d in flight", &inFlight)
	}
	if inFlight < 3 {
		t.Errorf("deregister: %s", out)
	}
	for range 3 {
		if got := <-slowResults; got != "200 slow" {
			t.Errorf("a slow request on the draining target ended %q, want 200 slow", got)
		}
	}
	f.waitEvent("target drained", func(e map[string]any) bool { return e["target"] == slowAddr })
	servedBySlow := load.served("slow")

	t.Log("reload a changed configuration")
	if err := os.WriteFile(f.path, []byte(cfg("least_outstanding_requests", one.addr, two.addr)), 0o644); err != nil {
		t.Fatal(err)
	}
	out = fulcrumCLI(t, "reload", "--admin", f.admin)
	if !strings.HasPrefix(out, "reloaded") {
		t.Errorf("reload: %s", out)
	}
	var tg struct {
		Targets []struct {
			Address      string `json:"address"`
			State        string `json:"state"`
			RegisteredBy string `json:"registered_by"`
		}
	}
	json.Unmarshal([]byte(adminGet(t, f.admin+"/api/v1/target-groups/app", 200)), &tg)
	found := false
	for _, x := range tg.Targets {
		if x.Address == three.addr {
			found = x.State == "healthy" && x.RegisteredBy == "api"
		}
	}
	if !found {
		t.Errorf("the runtime registration did not survive the reload healthy: %+v", tg.Targets)
	}

	t.Log("reload a broken configuration (SIGHUP)")
	good, _ := os.ReadFile(f.path)
	if err := os.WriteFile(f.path, append(good, []byte("  - name: broken\n    targets: [{address: nope}]\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	f.cmd.Process.Signal(syscall.SIGHUP)
	f.waitEvent("configuration reload failed; the running configuration stays", nil)
	var conf struct {
		LastReloadError string `json:"last_reload_error"`
		Reloads         struct{ Success, Failure int }
	}
	json.Unmarshal([]byte(adminGet(t, f.admin+"/api/v1/config", 200)), &conf)
	if !strings.Contains(conf.LastReloadError, "target_groups[1].targets[0].address") || conf.Reloads.Success != 1 || conf.Reloads.Failure != 1 {
		t.Errorf("/api/v1/config after the broken reload: %+v", conf)
	}
	if v := metricValues(adminGet(t, f.admin+"/metrics", 200)); v[`fulcrum_config_reloads_total{result="failure"}`] != 1 {
		t.Errorf("reload failures counted %v", v[`fulcrum_config_reloads_total{result="failure"}`])
	}
	// fulcrum reload says the same, with every problem, and exits 1.
	cliOut, err := exec.Command(binary, "reload", "--admin", f.admin).CombinedOutput()
	if err == nil || !strings.Contains(string(cliOut), "reload failed; the running configuration stays") ||
		!strings.Contains(string(cliOut), `target_groups[1].targets[0].address (line 12): "nope" is not host:port`) {
		t.Errorf("fulcrum reload of a broken file: %v\n%s", err, cliOut)
	}
	os.WriteFile(f.path, good, 0o644)

	t.Log("kill a backend process")
	one.kill()
	f.healthIs(one.addr, "unhealthy")

	t.Log("restart fulcrum on the same port (reuse_port)")
	f2 := startFulcrum(t, string(good))
	if f2.addr != web {
		t.Fatalf("the new process bound %s, want %s", f2.addr, web)
	}
	f2.healthIs(two.addr, "healthy")
	if err := f.stop(); err != nil {
		t.Errorf("old process: %v", err)
	}
	before := load.sent.Load()
	for load.sent.Load() < before+200 {
		time.Sleep(10 * time.Millisecond)
	}
	load.finish(t)
	if load.served("slow") != servedBySlow {
		t.Errorf("the deregistered target got %d more requests", load.served("slow")-servedBySlow)
	}
}

// TestKeepAliveLearning runs GETs about one second apart through Fulcrum
// to an nginx that closes idle connections after one second: the race
// that makes ALB answer 502. Fulcrum learns the target's idle-close time
// and stops reusing connections that are about to close.
func TestKeepAliveLearning(t *testing.T) {
	n := runNginx(t, `keepalive_timeout 1s; location / { return 200 "ok\n"; }`)
	f := startFulcrum(t, fmt.Sprintf(`
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app}]
target_groups:
  - {name: app, health_check: {enabled: false}, targets: [{address: %q}]}
`, n.addr))
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	races := func() float64 {
		v := metricValues(adminGet(t, f.admin+"/metrics", 200))
		return v[fmt.Sprintf(`fulcrum_target_connection_errors_total{error_type="connection_terminated",reused="true",target=%q,target_group="app"}`, n.addr)]
	}
	const warmup, total = 4, 12
	var afterWarmup float64
	for i := range total {
		if i == warmup {
			afterWarmup = races()
		}
		resp, body := get(t, client, "http://"+f.addr+"/", fmt.Sprintf("ka-%d", i))
		if resp.StatusCode != 200 || strings.TrimSpace(body) != "ok" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
		// Alternate just under and just over the target's timeout.
		time.Sleep(time.Second + time.Duration(i%2*2-1)*50*time.Millisecond)
	}
	if r := races() - afterWarmup; r != 0 {
		t.Errorf("%v keep-alive races after warm-up", r)
	}
	var tg struct {
		Targets []struct {
			KeepAlive struct {
				Learned float64 `json:"learned_idle_close_seconds"`
				Limit   float64 `json:"pool_idle_limit_seconds"`
				Source  string
			} `json:"keepalive"`
		}
	}
	json.Unmarshal([]byte(adminGet(t, f.admin+"/api/v1/target-groups/app", 200)), &tg)
	ka := tg.Targets[0].KeepAlive
	t.Logf("learned %+v", ka)
	if ka.Learned < 0.9 || ka.Learned > 1.5 || ka.Source != "observed idle closes" || ka.Limit >= ka.Learned {
		t.Errorf("learned keep-alive = %+v, want about 1s from observed closes", ka)
	}
}
