package target

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// ErrTargetExists is returned when registering an address the group
// already has.
var ErrTargetExists = errors.New("target is already registered")

// slowStartScale multiplies weights in the route set so a target in slow
// start can get a fraction of its share.
const slowStartScale = 100

// Group is a target group's registered targets and the set that currently
// takes traffic: the runtime state of a config.TargetGroup that outlives
// reloads (health, counters, keep-alive learning live on its targets).
// proxy.Group wraps it for the request path. Targets can be registered and removed at runtime; readers
// get an immutable snapshot of the list.
type Group struct {
	// Name is the target group's name.
	Name string

	mu        sync.Mutex // serialises Refresh, Add and Remove
	targets   atomic.Pointer[[]*Target]
	routes    atomic.Pointer[RouteSet]
	changed   chan struct{}
	slowStart atomic.Int64 // slow start duration in nanoseconds; 0 is off
}

// RouteSet is the set of targets that take new requests, computed from
// health (ALB fail-open, "Health checks for your target groups",
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html): the healthy and unavailable targets or,
// when there are none, every registered target (fail-open). An empty set
// means no target is registered and the answer is 503.
type RouteSet struct {
	// Targets are the routable targets.
	Targets []*Target
	// FailOpen is true when no target was healthy, so all registered
	// targets are routed to regardless of health.
	FailOpen bool
	// Weighted is true when the targets' effective weights differ.
	Weighted bool
	// SlowStart is true while a target ramps up, so the set must be
	// refreshed as time passes.
	SlowStart bool
	// CumWeight[i] is the sum of the effective weights of Targets[0..i].
	CumWeight []int
}

// NewGroup returns a group over ts with its route set computed.
func NewGroup(name string, ts []*Target) *Group {
	g := &Group{Name: name, changed: make(chan struct{}, 1)}
	ts = slices.Clone(ts)
	g.targets.Store(&ts)
	g.Refresh()
	return g
}

// Targets returns the registered targets, in registration order. The
// slice is a snapshot: callers must not modify it.
func (g *Group) Targets() []*Target { return *g.targets.Load() }

// Changed receives a value after targets were added or removed, for the
// group's health checker. It has one slot, so changes coalesce.
func (g *Group) Changed() <-chan struct{} { return g.changed }

// Add registers t and refreshes the route set. It returns an error
// wrapping ErrTargetExists when the address is already registered.
func (g *Group) Add(t *Target) error {
	g.mu.Lock()
	old := *g.targets.Load()
	for _, o := range old {
		if o.Address == t.Address {
			g.mu.Unlock()
			return fmt.Errorf("%s in target group %s: %w", t.Address, g.Name, ErrTargetExists)
		}
	}
	ts := append(slices.Clone(old), t)
	g.targets.Store(&ts)
	g.mu.Unlock()
	g.notify()
	g.Refresh()
	return nil
}

// Remove unregisters t and refreshes the route set. It reports whether t
// was registered.
func (g *Group) Remove(t *Target) bool {
	g.mu.Lock()
	old := *g.targets.Load()
	i := slices.Index(old, t)
	if i < 0 {
		g.mu.Unlock()
		return false
	}
	ts := slices.Delete(slices.Clone(old), i, i+1)
	g.targets.Store(&ts)
	g.mu.Unlock()
	g.notify()
	g.Refresh()
	return true
}

func (g *Group) notify() {
	select {
	case g.changed <- struct{}{}:
	default:
	}
}

// SetSlowStart sets the slow start duration (ALB slow_start, 30s..900s;
// 0 turns it off).
func (g *Group) SetSlowStart(d time.Duration) { g.slowStart.Store(int64(d)) }

// Routes returns the current route set. It never returns nil.
func (g *Group) Routes() *RouteSet { return g.routes.Load() }

// Refresh recomputes the route set from the targets' health and admin
// state: targets an operator drained or put in maintenance take no new
// requests, even when the group fails open. Call it after any change.
func (g *Group) Refresh() { g.RefreshAt(time.Now()) }

// RefreshAt is Refresh with the clock passed in. Slow start follows ALB
// (ALB slow start mode,
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-target-groups.html#slow-start-mode): a target that becomes healthy while at least one
// other healthy target is not in slow start gets a share that grows
// linearly from almost nothing to its full weight over the slow start
// duration; it leaves slow start when the duration ends or when it stops
// being healthy.
func (g *Group) RefreshAt(now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	ss := time.Duration(g.slowStart.Load())
	all := *g.targets.Load()
	rs := &RouteSet{}
	for _, t := range all {
		if t.Health().Routable() && t.AdminState() == AdminReady {
			rs.Targets = append(rs.Targets, t)
		}
	}
	if len(rs.Targets) == 0 {
		for _, t := range all {
			if t.Health().Registered() && t.AdminState() == AdminReady {
				rs.Targets = append(rs.Targets, t)
			}
		}
		rs.FailOpen = len(rs.Targets) > 0
	}
	weights := make([]int, len(rs.Targets))
	for i, t := range rs.Targets {
		weights[i] = t.Weight() * slowStartScale
	}
	g.slowStartWeights(now, ss, all, rs, weights)
	sum := 0
	rs.CumWeight = make([]int, len(rs.Targets))
	for i, w := range weights {
		sum += w
		rs.CumWeight[i] = sum
		if w != weights[0] {
			rs.Weighted = true
		}
	}
	g.routes.Store(rs)
}

// slowStartWeights decides slow start for targets that just became
// healthy and scales the weights of those in it.
func (g *Group) slowStartWeights(now time.Time, ss time.Duration, all []*Target, rs *RouteSet, weights []int) {
	steady := 0 // healthy targets not in slow start
	for _, t := range all {
		h := t.Health()
		if h.State != StateHealthy {
			t.slowStart.Store(0)
			continue
		}
		if s := t.slowStart.Load(); s != 0 && (ss == 0 || now.Sub(time.Unix(0, s)) >= ss) {
			t.slowStart.Store(0)
		}
		if t.slowStart.Load() == 0 && t.decided.Load() == h.Since.UnixNano() {
			steady++
		}
	}
	for _, t := range all {
		h := t.Health()
		if h.State != StateHealthy || t.decided.Load() == h.Since.UnixNano() {
			continue
		}
		// A new healthy episode: slow start only when another healthy
		// target carries the traffic meanwhile.
		t.decided.Store(h.Since.UnixNano())
		if ss > 0 && steady > 0 {
			t.slowStart.Store(now.UnixNano())
		} else {
			steady++
		}
	}
	if rs.FailOpen {
		return
	}
	for i, t := range rs.Targets {
		s := t.slowStart.Load()
		if s == 0 {
			continue
		}
		rs.SlowStart = true
		frac := float64(now.Sub(time.Unix(0, s))) / float64(ss)
		weights[i] = max(1, int(float64(weights[i])*frac))
	}
}

// SlowStartSince returns when the target entered slow start, or the zero
// time when it is not in slow start.
func (t *Target) SlowStartSince() time.Time {
	if s := t.slowStart.Load(); s != 0 {
		return time.Unix(0, s)
	}
	return time.Time{}
}

// Find returns the registered target with the given address, or nil.
func (g *Group) Find(address string) *Target {
	for _, t := range g.Targets() {
		if t.Address == address {
			return t
		}
	}
	return nil
}

// ErrUnknownGroup and ErrUnknownTarget are returned by runtime changes that
// name a target group or target that does not exist.
var (
	ErrUnknownGroup  = errors.New("no such target group")
	ErrUnknownTarget = errors.New("no such target")
)
