package discovery

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/fulcrumlb/fulcrum/internal/target"
)

// zone is a DNS server on 127.0.0.1:0 (UDP) whose answers the test
// changes: records by question "name type", NXDOMAIN names, and a
// silent mode that answers nothing (a timeout).
type zone struct {
	addr    string
	mu      sync.Mutex
	records map[string][]dns.RR
	extra   map[string][]dns.RR
	nx      map[string]bool
	silent  bool
	queries atomic.Int64
}

func newZone(t *testing.T) *zone {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	z := &zone{addr: pc.LocalAddr().String(), records: map[string][]dns.RR{}, extra: map[string][]dns.RR{}, nx: map[string]bool{}}
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, Handler: z, NotifyStartedFunc: func() { close(started) }}
	done := make(chan struct{})
	go func() { srv.ActivateAndServe(); close(done) }()
	<-started
	t.Cleanup(func() { srv.Shutdown(); <-done })
	return z
}

func (z *zone) ServeDNS(w dns.ResponseWriter, q *dns.Msg) {
	z.queries.Add(1)
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.silent {
		return
	}
	r := new(dns.Msg)
	r.SetReply(q)
	key := q.Question[0].Name + " " + dns.TypeToString[q.Question[0].Qtype]
	if z.nx[q.Question[0].Name] {
		r.Rcode = dns.RcodeNameError
	}
	r.Answer = z.records[key]
	r.Extra = z.extra[key]
	w.WriteMsg(r)
}

func (z *zone) set(key string, rrs ...string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.records[key] = nil
	for _, s := range rrs {
		rr, err := dns.NewRR(s)
		if err != nil {
			panic(err)
		}
		z.records[key] = append(z.records[key], rr)
	}
}

func (z *zone) provider(name string, qtype uint16) *DNS {
	return &DNS{Name: name, Type: qtype, Port: 8080, Weight: 1, Resolver: z.addr,
		MinTTL: 10 * time.Millisecond, MaxTTL: time.Hour, Timeout: 200 * time.Millisecond}
}

func addrs(eps []Endpoint) map[string]int {
	out := map[string]int{}
	for _, e := range eps {
		out[e.Address] = e.Weight
	}
	return out
}

func TestDNSRecords(t *testing.T) {
	z := newZone(t)
	ctx := context.Background()
	z.set("api.internal. A", "api.internal. 30 IN A 10.0.0.1", "api.internal. 20 IN A 10.0.0.2")
	eps, ttl, err := z.provider("api.internal", dns.TypeA).Resolve(ctx)
	if err != nil || len(eps) != 2 || addrs(eps)["10.0.0.2:8080"] != 1 || ttl != 20*time.Second {
		t.Errorf("A: %v %v %v", eps, ttl, err)
	}
	z.set("api.internal. AAAA", "api.internal. 30 IN AAAA ::1")
	eps, _, err = z.provider("api.internal", dns.TypeAAAA).Resolve(ctx)
	if err != nil || len(eps) != 1 || eps[0].Address != "[::1]:8080" {
		t.Errorf("AAAA: %v %v", eps, err)
	}

	// SRV: the lowest priority only, weights and ports from the records,
	// hosts from the additional section or from A queries.
	z.set("_http._tcp.api.internal. SRV",
		"_http._tcp.api.internal. 60 IN SRV 10 5 8081 a.internal.",
		"_http._tcp.api.internal. 60 IN SRV 10 0 8082 b.internal.",
		"_http._tcp.api.internal. 60 IN SRV 20 5 8083 c.internal.")
	a, _ := dns.NewRR("a.internal. 15 IN A 10.0.1.1")
	z.mu.Lock()
	z.extra["_http._tcp.api.internal. SRV"] = []dns.RR{a}
	z.mu.Unlock()
	z.set("b.internal. A", "b.internal. 40 IN A 10.0.1.2")
	z.set("c.internal. A", "c.internal. 40 IN A 10.0.1.3")
	eps, ttl, err = z.provider("_http._tcp.api.internal", dns.TypeSRV).Resolve(ctx)
	want := map[string]int{"10.0.1.1:8081": 5, "10.0.1.2:8082": 1}
	if got := addrs(eps); err != nil || len(got) != 2 || got["10.0.1.1:8081"] != 5 || got["10.0.1.2:8082"] != 1 || ttl != 15*time.Second {
		t.Errorf("SRV: got %v ttl %v err %v, want %v", got, ttl, err, want)
	}

	// NODATA is an empty set; NXDOMAIN and SERVFAIL are errors.
	eps, _, err = z.provider("none.internal", dns.TypeA).Resolve(ctx)
	if err != nil || len(eps) != 0 {
		t.Errorf("NODATA: %v %v", eps, err)
	}
	z.mu.Lock()
	z.nx["gone.internal."] = true
	z.mu.Unlock()
	if _, _, err = z.provider("gone.internal", dns.TypeA).Resolve(ctx); !errors.Is(err, ErrNXDomain) {
		t.Errorf("NXDOMAIN: %v", err)
	}
	z.mu.Lock()
	z.silent = true
	z.mu.Unlock()
	var ne net.Error
	if _, _, err = z.provider("api.internal", dns.TypeA).Resolve(ctx); !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("timeout: %v", err)
	}
}

func TestClampTTL(t *testing.T) {
	for _, c := range []struct{ ttl, want time.Duration }{
		{0, 5 * time.Second}, {30 * time.Second, 30 * time.Second}, {time.Hour, 300 * time.Second},
	} {
		if got := ClampTTL(c.ttl, 5*time.Second, 300*time.Second); got != c.want {
			t.Errorf("ClampTTL(%v) = %v, want %v", c.ttl, got, c.want)
		}
	}
}

// TestDNSDiscovery drives a target group through a changing SRV answer,
// NXDOMAIN and a timeout: new records register, vanished ones drain,
// failures keep the last good set.
func TestDNSDiscovery(t *testing.T) {
	z := newZone(t)
	z.set("_http._tcp.api.internal. SRV", "_http._tcp.api.internal. 0 IN SRV 0 1 8081 a.internal.")
	z.set("a.internal. A", "a.internal. 0 IN A 10.0.1.1")
	z.set("b.internal. A", "b.internal. 0 IN A 10.0.1.2")
	g := target.NewGroup("api", nil)
	reg := newRegistry(g)
	p := z.provider("_http._tcp.api.internal", dns.TypeSRV)
	m := New([]Group{{Name: "api", Providers: []Provider{p}}}, reg, nil)
	m.Resync = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	eventually(t, "first SRV target", func() bool { return view(g)["10.0.1.1:8081"].by == "dns" })
	// TTL 0 is below the floor: the name is asked again every MinTTL.
	q := z.queries.Load()
	eventually(t, "re-resolution at the floor", func() bool { return z.queries.Load() >= q+4 })

	z.set("_http._tcp.api.internal. SRV", "_http._tcp.api.internal. 0 IN SRV 0 3 8082 b.internal.")
	eventually(t, "SRV change applied", func() bool {
		v := view(g)
		return v["10.0.1.2:8082"] == targetView{"healthy", "dns", 3} && v["10.0.1.1:8081"].state == "draining"
	})

	z.mu.Lock()
	z.nx["_http._tcp.api.internal."] = true
	z.mu.Unlock()
	eventually(t, "NXDOMAIN evidence", func() bool { st := m.Status("api")[0]; return st.Stale && st.Error != "" })
	if st := m.Status("api")[0]; !strings.Contains(st.Error, "NXDOMAIN") || st.Targets != 1 {
		t.Errorf("status %+v", st)
	}
	if v := view(g)["10.0.1.2:8082"]; v.state != "healthy" {
		t.Errorf("NXDOMAIN drained the last good set: %+v", v)
	}
	z.mu.Lock()
	z.nx = map[string]bool{}
	z.silent = true
	z.mu.Unlock()
	e := m.Status("api")[0].Errors
	eventually(t, "timeouts counted", func() bool { return m.Status("api")[0].Errors >= e+2 })
	if v := view(g)["10.0.1.2:8082"]; v.state != "healthy" {
		t.Errorf("a timeout drained the last good set: %+v", v)
	}
	z.mu.Lock()
	z.silent = false
	z.mu.Unlock()
	eventually(t, "recovery", func() bool { return !m.Status("api")[0].Stale })
}

// TestDNSTTLCeiling: a long TTL is capped by MaxTTL.
func TestDNSTTLCeiling(t *testing.T) {
	z := newZone(t)
	z.set("api.internal. A", "api.internal. 3600 IN A 10.0.0.1")
	p := z.provider("api.internal", dns.TypeA)
	p.MaxTTL = 20 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx, func(Update) {}); close(done) }()
	defer func() { cancel(); <-done }()
	eventually(t, "re-resolution at the ceiling", func() bool { return z.queries.Load() >= 3 })
}
