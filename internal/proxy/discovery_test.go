package proxy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/fulcrumlb/fulcrum/internal/config"
)

// aZone answers A questions for one name from a list the test changes.
type aZone struct {
	mu  sync.Mutex
	ips []string
}

func (z *aZone) ServeDNS(w dns.ResponseWriter, q *dns.Msg) {
	z.mu.Lock()
	defer z.mu.Unlock()
	r := new(dns.Msg)
	r.SetReply(q)
	for _, ip := range z.ips {
		rr, _ := dns.NewRR(q.Question[0].Name + " 0 IN A " + ip)
		r.Answer = append(r.Answer, rr)
	}
	w.WriteMsg(r)
}

func (z *aZone) set(ips ...string) {
	z.mu.Lock()
	z.ips = ips
	z.mu.Unlock()
}

func startZone(t *testing.T, z *aZone) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, Handler: z, NotifyStartedFunc: func() { close(started) }}
	done := make(chan struct{})
	go func() { srv.ActivateAndServe(); close(done) }()
	<-started
	t.Cleanup(func() { srv.Shutdown(); <-done })
	return pc.LocalAddr().String()
}

// TestDiscoveryThroughServe: Serve runs a group's DNS provider, the
// discovered target takes traffic with registered_by dns, and when the
// name loses it the target drains and the group answers 503. The
// providers stop with Serve (goleak in TestMain).
func TestDiscoveryThroughServe(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer backend.Close()
	_, port, _ := net.SplitHostPort(hostPort(backend.URL))
	z := &aZone{}
	z.set("127.0.0.1")
	resolver := startZone(t, z)
	s, addr := startServer(t, fmt.Sprintf(`
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app}]
target_groups:
  - name: app
    health_check: {enabled: false}
    deregistration_delay: 0s
    discovery: [{type: dns, name: app.test, record: A, port: %s, resolver: %q, min_ttl: 1s}]
`, port, resolver))
	get := func() int {
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	deadline := time.Now().Add(5 * time.Second)
	for get() != 200 {
		if time.Now().After(deadline) {
			t.Fatal("the discovered target never took traffic")
		}
		time.Sleep(20 * time.Millisecond)
	}
	tg := s.Group("app").Targets.Find("127.0.0.1:" + port)
	if tg == nil || tg.Source().String() != "dns" {
		t.Fatalf("target %v", tg)
	}
	if st := s.Discovery("app"); len(st) != 1 || st[0].Targets != 1 || st[0].Stale {
		t.Errorf("discovery status %+v", st)
	}
	z.set()
	for get() != 503 {
		if time.Now().After(deadline.Add(5 * time.Second)) {
			t.Fatal("the vanished target still takes traffic")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !tg.Draining() {
		t.Error("the vanished target was not drained")
	}
}

// TestDiscoveryReload: a reload that keeps the providers keeps them
// running; one that removes them drains what they discovered.
func TestDiscoveryReload(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer backend.Close()
	_, port, _ := net.SplitHostPort(hostPort(backend.URL))
	z := &aZone{}
	z.set("127.0.0.1")
	resolver := startZone(t, z)
	with := fmt.Sprintf(`
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app}]
target_groups:
  - name: app
    health_check: {enabled: false}
    deregistration_delay: 0s
    discovery: [{type: dns, name: app.test, record: A, port: %s, resolver: %q, min_ttl: 1s}]
`, port, resolver)
	without := `
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app}]
target_groups: [{name: app, health_check: {enabled: false}, deregistration_delay: 0s}]
`
	var mu sync.Mutex
	next := with
	load := func() (*config.Config, []byte, error) {
		mu.Lock()
		defer mu.Unlock()
		c, err := config.Load([]byte(next))
		return c, []byte(next), err
	}
	s, _ := startServerOpts(t, with, Options{Logger: slog.New(slog.DiscardHandler), Load: load})
	addr := "127.0.0.1:" + port
	deadline := time.Now().Add(5 * time.Second)
	for s.Group("app").Targets.Find(addr) == nil {
		if time.Now().After(deadline) {
			t.Fatal("never discovered")
		}
		time.Sleep(10 * time.Millisecond)
	}
	changes, err := s.Reload(context.Background())
	if err != nil || slices.Contains(changes, "discovery and cluster restarted with the new configuration") {
		t.Errorf("an unchanged reload restarted discovery: %v %v", changes, err)
	}
	mu.Lock()
	next = without
	mu.Unlock()
	changes, err = s.Reload(context.Background())
	if err != nil || !slices.Contains(changes, "discovery and cluster restarted with the new configuration") {
		t.Fatalf("reload: %v %v", changes, err)
	}
	for {
		tg := s.Group("app").Targets.Find(addr)
		if tg == nil || tg.Draining() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the target of a removed provider never drained")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := s.Discovery("app"); st != nil {
		t.Errorf("status after the provider went away: %+v", st)
	}
}
