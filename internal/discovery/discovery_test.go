package discovery

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fulcrumlb/fulcrum/internal/target"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeProvider reports what the test sends it.
type fakeProvider struct {
	src     target.Source
	updates chan Update
}

func (f *fakeProvider) Source() target.Source { return f.src }
func (f *fakeProvider) String() string        { return f.src.String() + " fake" }
func (f *fakeProvider) Run(ctx context.Context, report func(Update)) {
	for {
		select {
		case <-ctx.Done():
			return
		case u := <-f.updates:
			report(u)
		}
	}
}

// groupRegistry applies to real target.Groups; Drain starts draining and
// the test ends deregistrations with finish.
type groupRegistry struct {
	mu     sync.Mutex
	groups map[string]*target.Group
	whys   map[string]string
}

func newRegistry(groups ...*target.Group) *groupRegistry {
	r := &groupRegistry{groups: map[string]*target.Group{}, whys: map[string]string{}}
	for _, g := range groups {
		r.groups[g.Name] = g
	}
	return r
}

func (r *groupRegistry) Targets(group string) []*target.Target { return r.groups[group].Targets() }

func (r *groupRegistry) Find(group, address string) *target.Target {
	return r.groups[group].Find(address)
}

func (r *groupRegistry) Register(_ context.Context, group, address string, weight int, src target.Source) error {
	g := r.groups[group]
	if g == nil {
		return target.ErrUnknownGroup
	}
	t := target.New(group, address, weight, target.Health{State: target.StateHealthy, Since: time.Now()})
	t.SetSource(src)
	return g.Add(t)
}

func (r *groupRegistry) Drain(_ context.Context, group, address, why string) error {
	t := r.groups[group].Find(address)
	if t == nil {
		return target.ErrUnknownTarget
	}
	r.mu.Lock()
	r.whys[address] = why
	r.mu.Unlock()
	t.StartDraining(time.Now(), why)
	r.groups[group].Refresh()
	return nil
}

func (r *groupRegistry) SetWeight(group, address string, w int) {
	if t := r.groups[group].Find(address); t != nil {
		t.SetWeight(w)
		r.groups[group].Refresh()
	}
}

// finish ends a drained target's deregistration delay.
func (r *groupRegistry) finish(group, address string) {
	g := r.groups[group]
	if t := g.Find(address); t != nil && t.Draining() {
		t.Cut(time.Now(), errors.New("deregistered"))
		g.Remove(t)
	}
}

// view is address -> state, registered_by and weight.
type targetView struct {
	state, by string
	weight    int
}

func view(g *target.Group) map[string]targetView {
	out := map[string]targetView{}
	for _, t := range g.Targets() {
		out[t.Address] = targetView{t.Health().State.String(), t.Source().String(), t.Weight()}
	}
	return out
}

// eventually polls cond until it holds or 5 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestReconcileRegistersDrainsAndKeepsLastGoodSet(t *testing.T) {
	file := target.New("api", "10.0.0.1:80", 1, target.Health{State: target.StateHealthy, Since: time.Now()})
	g := target.NewGroup("api", []*target.Target{file})
	reg := newRegistry(g)
	dns := &fakeProvider{src: target.SourceDNS, updates: make(chan Update)}
	etcd := &fakeProvider{src: target.SourceEtcd, updates: make(chan Update)}
	m := New([]Group{{Name: "api", Providers: []Provider{dns, etcd}}}, reg, nil)
	m.Resync = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	dns.updates <- Update{Endpoints: []Endpoint{{Address: "10.0.0.2:80", Weight: 3}, {Address: "10.0.0.1:80", Weight: 9}}}
	etcd.updates <- Update{Endpoints: []Endpoint{{Address: "10.0.0.3:80", Weight: 1}}}
	eventually(t, "dns and etcd targets registered", func() bool {
		v := view(g)
		return v["10.0.0.2:80"] == targetView{"healthy", "dns", 3} && v["10.0.0.3:80"].by == "etcd"
	})
	// The file's target stays the file's, with the file's weight.
	if v := view(g)["10.0.0.1:80"]; v != (targetView{"healthy", "file", 1}) {
		t.Errorf("file target changed by discovery: %+v", v)
	}

	// A DNS failure keeps the last good set and is evidence.
	dns.updates <- Update{Err: errors.New("read udp: i/o timeout")}
	eventually(t, "stale status", func() bool { st := m.Status("api"); return st[0].Stale && st[0].Errors == 1 })
	time.Sleep(50 * time.Millisecond) // several resyncs: nothing may drain
	if v := view(g)["10.0.0.2:80"]; v.state != "healthy" {
		t.Fatalf("a DNS failure drained a target: %+v", v)
	}
	if st := m.Status("api")[0]; st.Error != "read udp: i/o timeout" || st.Targets != 2 || st.ErrorSince == nil {
		t.Errorf("status %+v", st)
	}

	// A target that vanishes drains, it is not cut; weights follow.
	dns.updates <- Update{Endpoints: []Endpoint{{Address: "10.0.0.4:80", Weight: 2}}}
	etcd.updates <- Update{Endpoints: []Endpoint{{Address: "10.0.0.3:80", Weight: 7}}}
	eventually(t, "vanished target draining", func() bool {
		v := view(g)
		return v["10.0.0.2:80"].state == "draining" && v["10.0.0.4:80"].by == "dns" && v["10.0.0.3:80"].weight == 7
	})
	if st := m.Status("api")[0]; st.Stale || st.Error != "" {
		t.Errorf("recovered status %+v", st)
	}
	reg.mu.Lock()
	why := reg.whys["10.0.0.2:80"]
	reg.mu.Unlock()
	if why != "Target is no longer discovered by dns" {
		t.Errorf("drain evidence %q", why)
	}

	// It comes back while draining: registered again once it left.
	dns.updates <- Update{Endpoints: []Endpoint{{Address: "10.0.0.4:80", Weight: 2}, {Address: "10.0.0.2:80", Weight: 3}}}
	time.Sleep(30 * time.Millisecond)
	if v := view(g)["10.0.0.2:80"]; v.state != "draining" {
		t.Fatalf("draining target revived in place: %+v", v)
	}
	reg.finish("api", "10.0.0.2:80")
	eventually(t, "re-registered", func() bool { return view(g)["10.0.0.2:80"].state == "healthy" })

	// Terminating endpoints drain and are never registered.
	etcd.updates <- Update{Endpoints: []Endpoint{{Address: "10.0.0.3:80", Weight: 7, Draining: true}, {Address: "10.0.0.5:80", Weight: 1, Draining: true}}}
	eventually(t, "terminating target draining", func() bool { return view(g)["10.0.0.3:80"].state == "draining" })
	if _, ok := view(g)["10.0.0.5:80"]; ok {
		t.Errorf("a terminating endpoint was registered")
	}
}
