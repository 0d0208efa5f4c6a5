// Package discovery finds a target group's targets outside the
// configuration file (DNS, etcd, Kubernetes) and applies what it finds to
// the running group through the same register and drain path as the
// admin API.
//
// The model follows Envoy's and Traefik's: each instance watches its
// providers on its own, and discovery is eventually consistent. A provider
// reports the full set of targets it knows; a target that vanishes from
// every provider drains for the group's deregistration delay and is never
// cut at once; a provider that fails keeps its last good set and shows the
// failure as evidence (Status, the admin API, fulcrum_discovery_* metrics).
// Health checks stay more trusted than discovery: a discovered target
// takes traffic once it passes them, like a registered one.
package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/target"
)

// Endpoint is one target a provider found.
type Endpoint struct {
	// Address is host:port.
	Address string
	// Weight is 1..1000.
	Weight int
	// Draining marks an endpoint that still serves but should get no new
	// requests (Kubernetes serving && terminating): it is drained if it is
	// registered, and never registered otherwise.
	Draining bool
}

// Update is what a provider reports: the full current set, or an error
// when it could not learn it (the last good set then stays).
type Update struct {
	// Endpoints is the full set; ignored when Err is set.
	Endpoints []Endpoint
	// Err is why the set could not be learned. It wraps the provider's
	// error (for example ErrNXDomain, a net.Error timeout).
	Err error
}

// Provider finds targets for one target group.
type Provider interface {
	// Source is the registered_by of the targets the provider finds.
	Source() target.Source
	// String describes the provider for evidence, for example
	// "dns SRV _http._tcp.api.internal via 127.0.0.1:53".
	String() string
	// Run reports the current set through report each time it may have
	// changed, and errors as they happen, until ctx is done. report is
	// safe to call from one goroutine at a time.
	Run(ctx context.Context, report func(Update))
}

// Registry is the running server's side: the register and drain path of
// the admin API, for one target group at a time.
type Registry interface {
	// Targets returns the group's registered targets.
	Targets(group string) []*target.Target
	// Find returns the group's registered target at address, or nil.
	Find(group, address string) *target.Target
	// Register adds a target to the group with the given source. Errors
	// wrap target.ErrTargetExists, target.ErrUnknownGroup or the proxy's
	// ErrNotServing.
	Register(ctx context.Context, group, address string, weight int, src target.Source) error
	// Drain starts the target's deregistration with why as the evidence.
	Drain(ctx context.Context, group, address, why string) error
	// SetWeight changes a registered target's weight.
	SetWeight(group, address string, weight int)
}

// Group is one target group's providers. A group without providers is
// still given to New when it may hold targets an earlier manager
// discovered (before a reload): they drain.
type Group struct {
	// Name is the target group's name.
	Name string
	// Providers are the group's discovery providers, in configuration
	// order: when two report the same address, the first one's weight
	// and source win.
	Providers []Provider
}

// Status is one provider's state, the evidence shown by the admin API
// and `fulcrum status`.
type Status struct {
	// Provider is the provider's String.
	Provider string `json:"provider"`
	// Type is dns, etcd or kubernetes.
	Type string `json:"type"`
	// Targets is the size of the last good set.
	Targets int `json:"targets"`
	// LastUpdate is when the last good set was learned; absent before.
	LastUpdate *time.Time `json:"last_update,omitempty"`
	// Stale is true while the provider fails and its last good set (if
	// any) is kept.
	Stale bool `json:"stale"`
	// Error is the last failure, ErrorSince when the failures began;
	// both absent once a good set came after them.
	Error      string     `json:"error,omitempty"`
	ErrorSince *time.Time `json:"error_since,omitempty"`
	// Errors counts failures since the start.
	Errors int64 `json:"errors_total"`
}

// Manager runs every target group's providers and reconciles what they
// report with the running groups. Build it with New, run it with Run.
type Manager struct {
	reg    Registry
	logger *slog.Logger
	// Resync is how often each group is reconciled again without news,
	// to register targets that had to wait for a drain to finish. Zero
	// means one second.
	Resync time.Duration
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	groups []*groupSync
}

// groupSync is one group's reconciler state.
type groupSync struct {
	name      string
	mu        sync.Mutex
	providers []*providerState
	// managed are the addresses discovery registered in the group, with
	// the source it registered them as.
	managed map[string]target.Source
	// refused are the addresses whose registration failed, logged once.
	refused map[string]bool
	seeded  bool
	kick    chan struct{}
}

type providerState struct {
	p      Provider
	set    []Endpoint // the last good set; nil before the first
	good   bool
	status Status
}

// New returns a manager for groups that applies through reg. logger may
// be nil.
func New(groups []Group, reg Registry, logger *slog.Logger) *Manager {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Manager{reg: reg, logger: logger}
	for _, g := range groups {
		gs := &groupSync{name: g.Name, managed: map[string]target.Source{}, refused: map[string]bool{}, kick: make(chan struct{}, 1)}
		for _, p := range g.Providers {
			gs.providers = append(gs.providers, &providerState{p: p, status: Status{Provider: p.String(), Type: p.Source().String()}})
		}
		m.groups = append(m.groups, gs)
	}
	return m
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// Run runs every provider and reconciler until ctx is done, then returns
// once they all stopped.
func (m *Manager) Run(ctx context.Context) {
	var wg sync.WaitGroup
	resync := m.Resync
	if resync <= 0 {
		resync = time.Second
	}
	for _, gs := range m.groups {
		if len(gs.providers) == 0 {
			// No provider (any more, after a reload): drain what an
			// earlier one discovered, once.
			m.apply(ctx, gs)
			continue
		}
		for _, ps := range gs.providers {
			wg.Go(func() { ps.p.Run(ctx, func(u Update) { m.report(gs, ps, u) }) })
		}
		wg.Go(func() {
			t := time.NewTicker(resync)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-gs.kick:
				case <-t.C:
				}
				m.apply(ctx, gs)
			}
		})
	}
	wg.Wait()
}

// report records a provider's update and wakes its group's reconciler.
func (m *Manager) report(gs *groupSync, ps *providerState, u Update) {
	now := m.now()
	gs.mu.Lock()
	st := &ps.status
	if u.Err != nil {
		st.Errors++
		st.Stale = true
		if st.Error == "" {
			st.ErrorSince = &now
			m.logger.Warn("discovery failed; keeping the last good set", "target_group", gs.name, "provider", st.Provider,
				"targets", st.Targets, "error", u.Err)
		}
		st.Error = u.Err.Error()
		gs.mu.Unlock()
		return
	}
	if st.Error != "" {
		m.logger.Info("discovery recovered", "target_group", gs.name, "provider", st.Provider, "failed_since", st.ErrorSince)
	}
	ps.set, ps.good = slices.Clone(u.Endpoints), true
	st.Targets, st.LastUpdate, st.Stale, st.Error, st.ErrorSince = len(u.Endpoints), &now, false, "", nil
	gs.mu.Unlock()
	select {
	case gs.kick <- struct{}{}:
	default:
	}
}

// want is one address the providers agree the group should have.
type want struct {
	weight   int
	draining bool
	src      target.Source
	provider string
}

// apply makes the group's discovered targets match the union of the
// providers' last good sets: new addresses are registered, vanished ones
// drain, weights follow. Targets the file or the API registered are left
// alone, even when a provider reports them too.
func (m *Manager) apply(ctx context.Context, gs *groupSync) {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	// ready: the sources whose providers all reported a good set. A
	// managed target of another source is not drained yet: its provider
	// may not have spoken.
	ready := map[target.Source]bool{}
	for _, ps := range gs.providers {
		if _, ok := ready[ps.p.Source()]; !ok {
			ready[ps.p.Source()] = true
		}
		ready[ps.p.Source()] = ready[ps.p.Source()] && ps.good
	}
	if !gs.seeded {
		// Targets an earlier manager (before a reload) discovered are
		// this one's to keep or drain.
		gs.seeded = true
		for _, t := range m.reg.Targets(gs.name) {
			src := t.Source()
			if src == target.SourceFile || src == target.SourceAPI || t.Draining() {
				continue
			}
			if _, ok := ready[src]; ok {
				gs.managed[t.Address] = src
			} else {
				m.drain(ctx, gs.name, t.Address, fmt.Sprintf("Target's %s discovery was removed from the configuration", src))
			}
		}
	}
	wants := map[string]want{}
	var order []string
	for _, ps := range gs.providers {
		if !ps.good {
			continue
		}
		for _, e := range ps.set {
			w, ok := wants[e.Address]
			if !ok {
				wants[e.Address] = want{weight: e.Weight, draining: e.Draining, src: ps.p.Source(), provider: ps.status.Provider}
				order = append(order, e.Address)
			} else if !e.Draining && w.draining {
				w.draining = false
				wants[e.Address] = w
			}
		}
	}
	for _, addr := range order {
		w := wants[addr]
		t := m.reg.Find(gs.name, addr)
		src, mine := gs.managed[addr]
		switch {
		case t == nil:
			if w.draining {
				continue // never register a terminating endpoint
			}
			if err := m.reg.Register(ctx, gs.name, addr, w.weight, w.src); err != nil {
				if !errors.Is(err, target.ErrTargetExists) && !gs.refused[addr] {
					gs.refused[addr] = true
					m.logger.Warn("discovered target not registered", "target_group", gs.name, "target", addr, "provider", w.provider, "error", err)
				}
				continue
			}
			delete(gs.refused, addr)
			gs.managed[addr] = w.src
		case !mine && t.Source() == w.src && w.src != target.SourceFile:
			// Registered here with the provider's source (a runtime
			// registration this instance made and shared): adopt it, so
			// that it drains when it leaves the provider.
			gs.managed[addr] = w.src
		case !mine || t.Source() != src:
			delete(gs.managed, addr) // the file or the API owns it
		case t.Draining():
			// It registers again once its deregistration is over.
		case w.draining:
			m.drain(ctx, gs.name, addr, fmt.Sprintf("Target is terminating (%s): it finishes its requests and gets no new ones", w.provider))
		case t.Weight() != w.weight:
			m.reg.SetWeight(gs.name, addr, w.weight)
		}
	}
	for addr := range gs.refused {
		if _, ok := wants[addr]; !ok {
			delete(gs.refused, addr)
		}
	}
	for addr, src := range gs.managed {
		if _, ok := wants[addr]; ok || !ready[src] {
			continue
		}
		t := m.reg.Find(gs.name, addr)
		if t == nil || t.Source() != src {
			delete(gs.managed, addr)
			continue
		}
		if !t.Draining() {
			m.drain(ctx, gs.name, addr, fmt.Sprintf("Target is no longer discovered by %s", src))
		}
	}
}

func (m *Manager) drain(ctx context.Context, group, addr, why string) {
	if err := m.reg.Drain(ctx, group, addr, why); err != nil {
		m.logger.Warn("discovered target not drained", "target_group", group, "target", addr, "error", err)
	}
}

// Status returns the group's providers' states, in configuration order;
// nil when the group has no providers.
func (m *Manager) Status(group string) []Status {
	for _, gs := range m.groups {
		if gs.name != group || len(gs.providers) == 0 {
			continue
		}
		gs.mu.Lock()
		defer gs.mu.Unlock()
		out := make([]Status, len(gs.providers))
		for i, ps := range gs.providers {
			out[i] = ps.status
		}
		return out
	}
	return nil
}

// Groups returns the names of the groups with providers.
func (m *Manager) Groups() []string {
	var out []string
	for _, gs := range m.groups {
		if len(gs.providers) > 0 {
			out = append(out, gs.name)
		}
	}
	return out
}
