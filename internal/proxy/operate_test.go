package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/config"
	"github.com/fulcrumlb/fulcrum/internal/target"
)

// gatedBackend answers /slow only once release is closed (or the client
// goes away), everything else at once, and counts closed connections.
type gatedBackend struct {
	*httptest.Server
	release chan struct{}
	started chan struct{}
	closed  atomic.Int64
}

func newGatedBackend(t *testing.T, name string) *gatedBackend {
	b := &gatedBackend{release: make(chan struct{}), started: make(chan struct{}, 16)}
	b.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case b.started <- struct{}{}:
			default:
			}
			select {
			case <-b.release:
			case <-r.Context().Done():
				return
			}
		}
		io.WriteString(w, name)
	}))
	b.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			b.closed.Add(1)
		}
	}
	b.Start()
	t.Cleanup(func() {
		select {
		case <-b.release:
		default:
			close(b.release)
		}
		b.Close()
	})
	return b
}

func (b *gatedBackend) addr() string { return hostPort(b.URL) }

func getBody(t *testing.T, c *http.Client, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// fetch is getBody for goroutines: errors become the result.
func fetch(c *http.Client, url string) string {
	resp, err := c.Get(url)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("%d %s", resp.StatusCode, b)
}

func TestDeregisterDrainsThenCuts(t *testing.T) {
	a, b := newGatedBackend(t, "a"), newGatedBackend(t, "b")
	close(b.release) // b answers /slow at once
	s, addr := startServer(t, fmt.Sprintf(`
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app, expose_error_details: true}]
target_groups:
  - {name: app, deregistration_delay: 400ms, health_check: {enabled: false}, targets: [{address: %q}]}
`, a.addr()))
	c := &http.Client{}
	defer c.CloseIdleConnections()
	if code, body, _ := getBody(t, c, "http://"+addr+"/"); code != 200 || body != "a" {
		t.Fatalf("before: %d %q", code, body)
	}
	ctx := t.Context()
	if err := s.Register(ctx, "app", b.addr(), 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Register(ctx, "app", b.addr(), 1); !errors.Is(err, target.ErrTargetExists) {
		t.Errorf("registering twice: %v", err)
	}
	if err := s.Register(ctx, "nope", b.addr(), 1); !errors.Is(err, target.ErrUnknownGroup) {
		t.Errorf("unknown group: %v", err)
	}
	if err := s.Register(ctx, "app", "no-port", 1); err == nil {
		t.Error("a bad address was accepted")
	}
	// A slow request lands on a (round robin: a's turn is every other).
	slow := make(chan string, 1)
	go func() {
		for {
			resp, err := c.Get("http://" + addr + "/slow")
			if err != nil {
				slow <- err.Error()
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) == "b" {
				continue // b answered at once; try again for a
			}
			slow <- fmt.Sprintf("%d %s %s", resp.StatusCode, resp.Header.Get("Proxy-Status"), body)
			return
		}
	}()
	<-a.started
	closedBefore := a.closed.Load()
	if err := s.Deregister(ctx, "app", a.addr()); err != nil {
		t.Fatal(err)
	}
	ta := s.Group("app").Targets.Find(a.addr())
	if h := ta.Health(); h.State != target.StateDraining || h.Reason != target.ReasonDeregistrationInProgress {
		t.Errorf("after deregister: %+v", h)
	}
	// Its idle pooled connection (from the first request) closes at once.
	deadline := time.Now().Add(5 * time.Second)
	for a.closed.Load() == closedBefore && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if a.closed.Load() == closedBefore {
		t.Error("the draining target's idle connection stayed open")
	}
	// New requests go to b only.
	for i := range 4 {
		if code, body, _ := getBody(t, c, "http://"+addr+"/"); code != 200 || body != "b" {
			t.Fatalf("request %d while a drains: %d %q", i, code, body)
		}
	}
	// The deregistration delay expires under the slow request: 502.
	got := <-slow
	if !strings.HasPrefix(got, "502 ") || !strings.Contains(got, "error=connection_terminated") || !strings.Contains(got, "deregistration delay expired") {
		t.Errorf("slow request = %q", got)
	}
	for s.Group("app").Targets.Find(a.addr()) != nil && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if s.Group("app").Targets.Find(a.addr()) != nil || ta.Health().State != target.StateUnused {
		t.Errorf("a should have left as unused: %+v", ta.Health())
	}
}

func TestDrainLetsInFlightFinish(t *testing.T) {
	a, b := newGatedBackend(t, "a"), newGatedBackend(t, "b")
	s, addr := startServer(t, fmt.Sprintf(`
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app, expose_error_details: true}]
target_groups:
  - {name: app, deregistration_delay: 60s, health_check: {enabled: false}, targets: [{address: %q}]}
`, a.addr()))
	c := &http.Client{}
	defer c.CloseIdleConnections()
	slow := make(chan string, 1)
	go func() {
		resp, err := c.Get("http://" + addr + "/slow")
		if err != nil {
			slow <- err.Error()
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- fmt.Sprintf("%d %s", resp.StatusCode, body)
	}()
	<-a.started
	if err := s.Register(t.Context(), "app", b.addr(), 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Deregister(t.Context(), "app", a.addr()); err != nil {
		t.Fatal(err)
	}
	ta := s.Group("app").Targets.Find(a.addr())
	select {
	case <-ta.Idle():
		t.Fatal("idle while the slow request runs")
	default:
	}
	close(a.release)
	if got := <-slow; got != "200 a" {
		t.Errorf("the in-flight request on the draining target = %q, want 200 a", got)
	}
	select {
	case <-ta.Idle():
	case <-time.After(5 * time.Second):
		t.Error("not idle after its last request")
	}
	// ALB keeps reporting draining until the delay expires.
	if ta.Health().State != target.StateDraining {
		t.Errorf("state = %s", ta.Health().State)
	}
}

func TestConnectionLimitQueue(t *testing.T) {
	a := newGatedBackend(t, "a")
	s, addr := startServer(t, fmt.Sprintf(`
listeners:
  - {name: web, address: "127.0.0.1:0", default_target_group: app, expose_error_details: true, rules: [{priority: 1, path: "/q/*", target_group: noqueue}]}
target_groups:
  - name: app
    queue_size: 1
    queue_timeout: 300ms
    health_check: {enabled: false}
    targets: [{address: %q, max_connections: 1}]
  - name: noqueue
    queue_size: 0
    health_check: {enabled: false}
    targets: [{address: %q, max_connections: 1}]
`, a.addr(), a.addr()))
	c := &http.Client{}
	defer c.CloseIdleConnections()
	first := make(chan string, 1)
	go func() { first <- fetch(c, "http://"+addr+"/slow") }()
	<-a.started
	// The target's one slot is taken: the next request waits, then gives up.
	code, _, h := getBody(t, c, "http://"+addr+"/")
	if code != 503 || !strings.Contains(h.Get("Proxy-Status"), "error=connection_limit_reached") || !strings.Contains(h.Get("Proxy-Status"), "queue_timeout expired") {
		t.Errorf("queued request: %d %s", code, h.Get("Proxy-Status"))
	}
	// A queued request gets the slot as soon as it frees.
	second := make(chan string, 1)
	go func() { second <- fetch(c, "http://"+addr+"/") }()
	for s.Group("app").QueueLength() == 0 {
		runtime.Gosched() // until it joined the queue
	}
	close(a.release)
	if got := <-first; got != "200 a" {
		t.Errorf("first = %q", got)
	}
	if got := <-second; got != "200 a" {
		t.Errorf("queued request after the slot freed = %q", got)
	}
	// Without a queue the answer is immediate.
	a2 := newGatedBackend(t, "a2")
	_, addr2 := startServer(t, fmt.Sprintf(`
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app, expose_error_details: true}]
target_groups:
  - {name: app, queue_size: 0, health_check: {enabled: false}, targets: [{address: %q, max_connections: 1}]}
`, a2.addr()))
	go func() {
		if resp, err := c.Get("http://" + addr2 + "/slow"); err == nil {
			resp.Body.Close()
		}
	}()
	<-a2.started
	code, _, h = getBody(t, c, "http://"+addr2+"/")
	if code != 503 || !strings.Contains(h.Get("Proxy-Status"), "queue is full") {
		t.Errorf("no queue: %d %s", code, h.Get("Proxy-Status"))
	}
	close(a2.release)
}

func TestListenerMaxConnections(t *testing.T) {
	a := newGatedBackend(t, "a")
	_, addr := startServer(t, fmt.Sprintf(`
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app, max_connections: 1}]
target_groups: [{name: app, health_check: {enabled: false}, targets: [{address: %q}]}]
`, a.addr()))
	c1, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	fmt.Fprintf(c1, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c1), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("first connection: %v %v", resp, err)
	}
	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c2, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if n, err := c2.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Errorf("the connection beyond max_connections got an answer: %d %v", n, err)
	}
}

func TestReloadKeepsStateAndSockets(t *testing.T) {
	a, b := newGatedBackend(t, "a"), newGatedBackend(t, "b")
	var mu sync.Mutex
	file := ""
	write := func(s string) { mu.Lock(); file = s; mu.Unlock() }
	load := func() (*config.Config, []byte, error) {
		mu.Lock()
		defer mu.Unlock()
		c, err := config.Load([]byte(file))
		return c, []byte(file), err
	}
	// A fixed address, as in a real file: a reload keeps its socket.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	web := ln.Addr().String()
	ln.Close()
	base := fmt.Sprintf(`
listeners: [{name: web, address: %q, default_target_group: app}]
target_groups:
  - {name: app, deregistration_delay: 60s, health_check: {enabled: false}, targets: [{address: %q}]}
`, web, a.addr())
	write(base)
	s, addr := startServerOpts(t, base, Options{Logger: slog.New(slog.DiscardHandler), Load: load})
	c := &http.Client{}
	defer c.CloseIdleConnections()
	if code, body, _ := getBody(t, c, "http://"+addr+"/"); code != 200 || body != "a" {
		t.Fatalf("before: %d %q", code, body)
	}
	ta := s.Group("app").Targets.Find(a.addr())
	runtimeAddr := "127.0.0.1:1" // registered at runtime: must survive the reload
	if err := s.Register(t.Context(), "app", runtimeAddr, 1); err != nil {
		t.Fatal(err)
	}
	// A broken file changes nothing.
	write(base + "\nbogus: 1\n")
	if _, err := s.Reload(t.Context()); err == nil || len(config.Problems(err)) == 0 {
		t.Fatalf("broken reload: %v", err)
	}
	if info := s.ConfigInfo(); info.LastReload == nil || info.LastReload.OK || info.ReloadFailures != 1 {
		t.Errorf("info after the failure: %+v", info)
	}
	// A changed file: a keeps its stats, b joins, a second listener opens.
	write(fmt.Sprintf(`
listeners:
  - {name: web, address: %q, default_target_group: app, rules: [{priority: 1, path: "/b/*", target_group: other}]}
  - {name: api, address: "127.0.0.1:0", default_target_group: other}
target_groups:
  - {name: app, algorithm: least_outstanding_requests, deregistration_delay: 60s, health_check: {enabled: false}, targets: [{address: %q}]}
  - {name: other, health_check: {enabled: false}, targets: [{address: %q}]}
`, addr, a.addr(), b.addr()))
	changes, err := s.Reload(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("changes: %q", changes)
	if got := s.Group("app").Targets.Find(a.addr()); got != ta || ta.Stats.Snapshot(time.Now()).TotalResponses != 1 {
		t.Error("an unchanged target lost its identity or counters")
	}
	if s.Group("app").Targets.Find(runtimeAddr) == nil {
		t.Error("the runtime registration did not survive the reload")
	}
	if code, body, _ := getBody(t, c, "http://"+addr+"/b/x"); code != 200 || body != "b" {
		t.Errorf("new rule on the kept listener: %d %q", code, body)
	}
	api := s.Addrs()["api"]
	if code, body, _ := getBody(t, c, "http://"+api+"/"); code != 200 || body != "b" {
		t.Errorf("new listener: %d %q", code, body)
	}
	// Remove the listener and the group again: the api socket closes.
	write(fmt.Sprintf(`
listeners: [{name: web, address: %q, default_target_group: app}]
target_groups:
  - {name: app, deregistration_delay: 60s, health_check: {enabled: false}, targets: [{address: %q}]}
`, addr, a.addr()))
	if _, err := s.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", api, time.Second)
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("the removed listener still accepts")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if s.Group("other") != nil {
		t.Error("the removed group is still routed to")
	}
	if info := s.ConfigInfo(); info.Reloads != 3 || info.ReloadFailures != 1 || !info.LastReload.OK || !strings.Contains(info.Source, a.addr()) {
		t.Errorf("info = %+v", info)
	}
}
