package target

import (
	"sync"
	"sync/atomic"
)

// Group is a target group's registered targets and the set that currently
// takes traffic.
type Group struct {
	// Name is the target group's name.
	Name string
	// Targets are the registered targets, in configuration order.
	Targets []*Target

	mu     sync.Mutex // serialises Refresh
	routes atomic.Pointer[RouteSet]
}

// RouteSet is the set of targets that take new requests, computed from
// health (ALB, alb-semantics §4.4): the healthy and unavailable targets or,
// when there are none, every registered target (fail-open). An empty set
// means no target is registered and the answer is 503.
type RouteSet struct {
	// Targets are the routable targets.
	Targets []*Target
	// FailOpen is true when no target was healthy, so all registered
	// targets are routed to regardless of health.
	FailOpen bool
	// Weighted is true when the targets' weights differ.
	Weighted bool
	// CumWeight[i] is the sum of the weights of Targets[0..i].
	CumWeight []int
}

// NewGroup returns a group over ts with its route set computed.
func NewGroup(name string, ts []*Target) *Group {
	g := &Group{Name: name, Targets: ts}
	g.Refresh()
	return g
}

// Routes returns the current route set. It never returns nil.
func (g *Group) Routes() *RouteSet { return g.routes.Load() }

// Refresh recomputes the route set from the targets' health and admin
// state: targets an operator drained or put in maintenance take no new
// requests, even when the group fails open. Call it after any change.
func (g *Group) Refresh() {
	g.mu.Lock()
	defer g.mu.Unlock()
	rs := &RouteSet{}
	for _, t := range g.Targets {
		if t.Health().Routable() && t.AdminState() == AdminReady {
			rs.Targets = append(rs.Targets, t)
		}
	}
	if len(rs.Targets) == 0 {
		for _, t := range g.Targets {
			if t.Health().Registered() && t.AdminState() == AdminReady {
				rs.Targets = append(rs.Targets, t)
			}
		}
		rs.FailOpen = len(rs.Targets) > 0
	}
	sum := 0
	rs.CumWeight = make([]int, len(rs.Targets))
	for i, t := range rs.Targets {
		sum += t.Weight
		rs.CumWeight[i] = sum
		if t.Weight != rs.Targets[0].Weight {
			rs.Weighted = true
		}
	}
	g.routes.Store(rs)
}

// Find returns the target with the given address, or nil.
func (g *Group) Find(address string) *Target {
	for _, t := range g.Targets {
		if t.Address == address {
			return t
		}
	}
	return nil
}
