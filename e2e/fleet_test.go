package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// etcdProc is a real etcd process (Debian's etcd-server) on free ports,
// with a data dir that survives a kill, so the test can restart it.
type etcdProc struct {
	t            *testing.T
	dir          string
	client, peer int
	cmd          *exec.Cmd
}

func startEtcdProc(t *testing.T) *etcdProc {
	t.Helper()
	if _, err := exec.LookPath("etcd"); err != nil {
		if os.Getenv("FULCRUM_E2E_REQUIRE_ETCD") != "" {
			t.Fatal("etcd is not installed (apt-get install etcd-server)")
		}
		t.Skip("etcd is not installed (apt-get install etcd-server)")
	}
	ports := freePorts(t, 2)
	e := &etcdProc{t: t, dir: t.TempDir(), client: ports[0], peer: ports[1]}
	e.start()
	t.Cleanup(e.kill)
	return e
}

func (e *etcdProc) endpoint() string { return fmt.Sprintf("127.0.0.1:%d", e.client) }

func (e *etcdProc) start() {
	e.t.Helper()
	c, p := "http://"+e.endpoint(), fmt.Sprintf("http://127.0.0.1:%d", e.peer)
	e.cmd = exec.Command("etcd", "--name", "e2e", "--data-dir", e.dir, "--log-level", "error", "--logger", "zap",
		"--listen-client-urls", c, "--advertise-client-urls", c,
		"--listen-peer-urls", p, "--initial-advertise-peer-urls", p, "--initial-cluster", "e2e="+p)
	if err := e.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	if !waitListening(e.endpoint(), waitTimeout) {
		e.t.Fatal("etcd did not listen")
	}
}

// kill ends etcd with SIGKILL, as a crash would.
func (e *etcdProc) kill() {
	if e.cmd != nil {
		e.cmd.Process.Kill()
		e.cmd.Wait()
		e.cmd = nil
	}
}

func etcdClient(t *testing.T, endpoint string) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// nameServer is a target that answers its name.
func nameServer(t *testing.T, name string) string {
	return httpTarget(t, time.Minute, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) })
}

// serves reports whether a GET through f answered body within d.
func serves(f *fulcrum, body string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + f.addr + "/"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) == body {
				return true
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

// targetState returns a target's state in group app as f's admin API
// shows it, and its registered_by; "" when it is not registered.
func targetState(t *testing.T, f *fulcrum, addr string) (string, string) {
	body := adminGet(t, f.admin+"/api/v1/target-groups/app", 200)
	var raw struct {
		Targets []struct {
			Address      string `json:"address"`
			State        string `json:"state"`
			RegisteredBy string `json:"registered_by"`
		} `json:"targets"`
	}
	json.Unmarshal([]byte(body), &raw)
	for _, x := range raw.Targets {
		if x.Address == addr {
			return x.State, x.RegisteredBy
		}
	}
	return "", ""
}

// adminStateOf returns a target's admin_state in group app on f.
func adminStateOf(t *testing.T, f *fulcrum, addr string) string {
	var raw struct {
		Targets []struct {
			Address    string `json:"address"`
			AdminState string `json:"admin_state"`
		} `json:"targets"`
	}
	json.Unmarshal([]byte(adminGet(t, f.admin+"/api/v1/target-groups/app", 200)), &raw)
	for _, x := range raw.Targets {
		if x.Address == addr {
			return x.AdminState
		}
	}
	return ""
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func fleetConnected(t *testing.T, f *fulcrum) (bool, int) {
	var v struct {
		Connected bool `json:"connected"`
		Instances []struct {
			Instance string `json:"instance"`
		} `json:"instances"`
	}
	json.Unmarshal([]byte(adminGet(t, f.admin+"/api/v1/fleet", 200)), &v)
	return v.Connected, len(v.Instances)
}

// TestFleetThroughEtcd runs three fulcrum processes and one real etcd:
// targets under the etcd prefix reach all three; a registration made on
// one takes traffic on all three within a second; killing etcd under
// load changes nothing for traffic and every instance says so;
// restarting it resyncs; a drain started on one drains everywhere; a
// self-registered target whose lease expires drains.
func TestFleetThroughEtcd(t *testing.T) {
	etcd := startEtcdProc(t)
	cli := etcdClient(t, etcd.endpoint())
	ctx := context.Background()
	one, two, three := nameServer(t, "one"), nameServer(t, "two"), nameServer(t, "three")
	const prefix = "/fulcrum/target-groups/app/targets"
	if _, err := cli.Put(ctx, prefix+"/"+one, ""); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "lb-0.sock")
	cfgFor := func(i int) string {
		admin := `admin: {address: "127.0.0.1:0"}`
		if i == 0 {
			admin = fmt.Sprintf(`admin: {address: "127.0.0.1:0", socket: %q}`, sock)
		}
		return admin + fmt.Sprintf(`
cluster:
  etcd: {endpoints: [%q], prefix: /fulcrum, dial_timeout: 500ms}
  instance: lb-%d
  lease_ttl: 3s
  publish_interval: 200ms
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app}]
target_groups:
  - name: app
    health_check: {enabled: false}
    deregistration_delay: 1s
    discovery: [{type: etcd, prefix: %s}]
`, etcd.endpoint(), i, prefix)
	}
	var lbs []*fulcrum
	for i := range 3 {
		lbs = append(lbs, startFulcrum(t, cfgFor(i)))
	}
	for i, f := range lbs {
		if !serves(f, "one", waitTimeout) {
			t.Fatalf("lb-%d never routed to the target under the etcd prefix", i)
		}
		if _, by := targetState(t, f, one); by != "etcd" {
			t.Errorf("lb-%d: %s registered_by %q, want etcd", i, one, by)
		}
	}

	t.Log("a registration on lb-0 reaches every instance")
	cliStart := time.Now()
	fulcrumCLI(t, "targets", "register", "app", two, "--admin", lbs[0].admin)
	start := time.Now() // the registration is acknowledged
	t.Logf("the CLI took %s", start.Sub(cliStart).Round(time.Millisecond))
	for i, f := range lbs {
		if !serves(f, "two", 5*time.Second) {
			t.Fatalf("lb-%d never routed to the target registered on lb-0", i)
		}
		t.Logf("lb-%d serves it after %s", i, time.Since(start).Round(time.Millisecond))
	}
	took := time.Since(start)
	t.Logf("registered on lb-0, serving on all three after %s", took.Round(time.Millisecond))
	if took > time.Second {
		t.Errorf("a registration took %s to reach the fleet, want within 1s", took)
	}
	if _, by := targetState(t, lbs[2], two); by != "api" {
		t.Errorf("lb-2: %s registered_by %q, want api", two, by)
	}
	t.Log("a restarted instance gets the registration back")
	if err := lbs[2].stop(); err != nil {
		t.Fatalf("lb-2 stop: %v", err)
	}
	lbs[2] = startFulcrum(t, cfgFor(2))
	if !serves(lbs[2], "two", 5*time.Second) {
		t.Fatal("the restarted lb-2 did not get the fleet's registration back")
	}
	waitUntil(t, "lb-0 sees 3 instances", func() bool { _, n := fleetConnected(t, lbs[0]); return n == 3 })

	t.Log("kill etcd under load")
	var loads []*loadGen
	for _, f := range lbs {
		loads = append(loads, startLoad("http://"+f.addr+"/", 2))
	}
	time.Sleep(200 * time.Millisecond) // some load before the kill
	etcd.kill()
	for i, f := range lbs {
		waitUntil(t, fmt.Sprintf("lb-%d says etcd is away", i), func() bool { ok, _ := fleetConnected(t, f); return !ok })
		f.waitEvent("cluster store unreachable; serving with what this instance knows", nil)
	}
	if m := adminGet(t, lbs[1].admin+"/metrics", 200); !strings.Contains(m, "fulcrum_cluster_connected 0") {
		t.Errorf("lb-1 metrics do not say etcd is away")
	}
	time.Sleep(500 * time.Millisecond) // load while etcd is away
	for i, f := range lbs {
		for _, addr := range []string{one, two} {
			if st, _ := targetState(t, f, addr); st != "unavailable" {
				t.Errorf("lb-%d: %s is %q while etcd is away, want unavailable (routable, checks off)", i, addr, st)
			}
		}
	}
	for _, l := range loads {
		l.finish(t) // fails on any client-visible error
	}

	t.Log("restart etcd: every instance catches up")
	etcd.start()
	for i, f := range lbs {
		waitUntil(t, fmt.Sprintf("lb-%d reconnected", i), func() bool { ok, _ := fleetConnected(t, f); return ok })
	}

	t.Log("an admin state set through lb-0's runtime socket reaches every instance")
	runtimeCommand(t, sock, "set server app/"+one+" state drain")
	for i, f := range lbs {
		waitUntil(t, fmt.Sprintf("lb-%d admin_state drain", i), func() bool { return adminStateOf(t, f, one) == "drain" })
	}
	runtimeCommand(t, sock, "set server app/"+one+" state ready")
	for i, f := range lbs {
		waitUntil(t, fmt.Sprintf("lb-%d admin_state ready", i), func() bool { return adminStateOf(t, f, one) == "ready" })
	}

	t.Log("a drain started on lb-1 drains everywhere")
	fulcrumCLI(t, "targets", "deregister", "app", two, "--admin", lbs[1].admin)
	for i, f := range lbs {
		waitUntil(t, fmt.Sprintf("lb-%d drains %s", i, two), func() bool { st, _ := targetState(t, f, two); return st == "draining" || st == "" })
	}

	t.Log("a self-registered target drains when its lease expires")
	lease, err := cli.Grant(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, prefix+"/"+three, `{"weight": 2}`, clientv3.WithLease(lease.ID)); err != nil {
		t.Fatal(err)
	}
	for i, f := range lbs {
		if !serves(f, "three", 5*time.Second) {
			t.Fatalf("lb-%d never routed to the self-registered target", i)
		}
	}
	for i, f := range lbs {
		waitUntil(t, fmt.Sprintf("lb-%d drains the expired %s", i, three), func() bool { st, _ := targetState(t, f, three); return st == "draining" || st == "" })
	}
	out := fulcrumCLI(t, "status", "--fleet", "--admin", lbs[0].admin)
	if !strings.Contains(out, "fleet: 3 instances (lb-0, lb-1, lb-2); this is lb-0\netcd: connected") {
		t.Errorf("status --fleet:\n%s", out)
	}
}

// srvZone is a DNS server (miekg/dns on 127.0.0.1:0, UDP) with one SRV
// name whose records the test changes, and a switch for NXDOMAIN.
type srvZone struct {
	mu      sync.Mutex
	targets []string // host:port of 127.0.0.1 targets
	nx      bool
}

func (z *srvZone) ServeDNS(w dns.ResponseWriter, q *dns.Msg) {
	z.mu.Lock()
	defer z.mu.Unlock()
	r := new(dns.Msg)
	r.SetReply(q)
	if z.nx {
		r.Rcode = dns.RcodeNameError
	}
	qn := q.Question[0].Name
	for i, hp := range z.targets {
		_, port, _ := net.SplitHostPort(hp)
		host := fmt.Sprintf("t%d.api.test.", i)
		switch {
		case q.Question[0].Qtype == dns.TypeSRV:
			rr, _ := dns.NewRR(fmt.Sprintf("%s 1 IN SRV 0 1 %s %s", qn, port, host))
			a, _ := dns.NewRR(host + " 1 IN A 127.0.0.1")
			r.Answer, r.Extra = append(r.Answer, rr), append(r.Extra, a)
		case q.Question[0].Qtype == dns.TypeA && qn == host:
			a, _ := dns.NewRR(host + " 1 IN A 127.0.0.1")
			r.Answer = append(r.Answer, a)
		}
	}
	w.WriteMsg(r)
}

func (z *srvZone) set(nx bool, targets ...string) {
	z.mu.Lock()
	z.nx, z.targets = nx, targets
	z.mu.Unlock()
}

// TestFleetDNSDiscovery runs fulcrum with an SRV provider against a real
// DNS server: a changed SRV answer moves traffic to the new target and
// drains the old one; NXDOMAIN keeps the last good set, and status shows
// the failure.
func TestFleetDNSDiscovery(t *testing.T) {
	one, two := nameServer(t, "one"), nameServer(t, "two")
	z := &srvZone{}
	z.set(false, one)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, Handler: z, NotifyStartedFunc: func() { close(started) }}
	go srv.ActivateAndServe()
	<-started
	defer srv.Shutdown()
	f := startFulcrum(t, fmt.Sprintf(`
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app}]
target_groups:
  - name: app
    health_check: {enabled: false}
    deregistration_delay: 1s
    discovery: [{type: dns, name: _http._tcp.api.test, resolver: %q, min_ttl: 1s, max_ttl: 2s}]
`, pc.LocalAddr().String()))
	if !serves(f, "one", waitTimeout) {
		t.Fatal("the SRV target never took traffic")
	}
	if _, by := targetState(t, f, one); by != "dns" {
		t.Errorf("registered_by %q, want dns", by)
	}
	z.set(false, two)
	if !serves(f, "two", waitTimeout) {
		t.Fatal("the new SRV target never took traffic")
	}
	f.waitEvent("target health changed", func(e map[string]any) bool {
		return e["target"] == one && e["to"] == "draining" && e["description"] == "Target is no longer discovered by dns"
	})
	z.set(true)
	var out string
	waitUntil(t, "status shows the DNS failure", func() bool {
		out = fulcrumCLI(t, "status", "--admin", f.admin)
		return strings.Contains(out, "FAILING, kept 1 targets")
	})
	if !strings.Contains(out, "NXDOMAIN") || !serves(f, "two", time.Second) {
		t.Errorf("NXDOMAIN: the last good set must keep serving:\n%s", out)
	}
	if m := adminGet(t, f.admin+"/metrics", 200); !strings.Contains(m, `fulcrum_discovery_stale{provider="dns SRV _http._tcp.api.test via `+pc.LocalAddr().String()+`",target_group="app"} 1`) {
		t.Error("fulcrum_discovery_stale is not 1 during NXDOMAIN")
	}
}

// TestFleetConfigKey: with cluster.config_key the configuration comes
// from etcd, a change applies at once, and a bad write changes nothing.
func TestFleetConfigKey(t *testing.T) {
	etcd := startEtcdProc(t)
	cli := etcdClient(t, etcd.endpoint())
	ctx := context.Background()
	one, two, three := nameServer(t, "one"), nameServer(t, "two"), nameServer(t, "three")
	routeTo := func(addr string) string {
		return fmt.Sprintf(`
admin: {address: "127.0.0.1:0"}
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app}]
target_groups: [{name: app, health_check: {enabled: false}, targets: [{address: %q}]}]
`, addr)
	}
	if _, err := cli.Put(ctx, "/fulcrum/config", routeTo(one)); err != nil {
		t.Fatal(err)
	}
	f := startFulcrum(t, routeTo(two)+fmt.Sprintf(`
cluster:
  etcd: {endpoints: [%q], dial_timeout: 500ms}
  instance: lb-0
  config_key: /fulcrum/config
`, etcd.endpoint()))
	if !serves(f, "one", waitTimeout) {
		t.Fatal("the configuration did not come from the etcd key")
	}
	cli.Put(ctx, "/fulcrum/config", routeTo(three))
	if !serves(f, "three", 5*time.Second) {
		t.Fatal("a change of the key was not applied")
	}
	cli.Put(ctx, "/fulcrum/config", "target_groups: [{name: app, targets: [{address: nope}]}]\n")
	f.waitEvent("configuration reload failed; the running configuration stays", nil)
	if !serves(f, "three", time.Second) {
		t.Error("a bad write changed the running configuration")
	}
	var fleet struct {
		Instance string `json:"instance"`
	}
	json.Unmarshal([]byte(adminGet(t, f.admin+"/api/v1/fleet", 200)), &fleet)
	if fleet.Instance != "lb-0" {
		t.Errorf("the file's cluster section did not apply: %+v", fleet)
	}
}
