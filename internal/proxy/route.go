package proxy

import (
	"math/rand/v2"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/config"
	"github.com/fulcrumlb/fulcrum/internal/httpmsg"
	"github.com/fulcrumlb/fulcrum/internal/rules"
)

// routeTable is one generation of a listener's routing: its compiled
// rules and actions (the default action last), the target groups of each
// forward action, and the idle timeout that bounds each wait for a
// target's bytes.
type routeTable struct {
	table       *rules.Table
	actions     []rules.Action
	forwards    []forward // by action index; empty for redirect and fixed_response
	idleTimeout time.Duration
	// mtls is the listener's mutual_authentication mode.
	mtls string
	// exposeDetails is the listener's expose_error_details.
	exposeDetails bool
	// edge is the listener's client-side limits, read by the connection
	// loop once per request, so a reload changes them for the next one.
	edge edgeSettings
}

// forward is a forward action's target groups with their cumulative
// weights (ALB's weighted target groups).
type forward struct {
	groups []*Group
	cum    []int
	total  int
	// sticky is the target group stickiness duration, 0 when off.
	sticky time.Duration
}

// setRoutes installs lc's rules over groups. lc is validated, so every
// group it names exists.
func (h *Handler) setRoutes(lc config.Listener, groups map[string]*Group) {
	table, acts, err := rules.Compile(lc)
	if err != nil { // validation makes this unreachable; keep the old routes
		h.Logger.Error("listener rules not compiled", "listener", lc.Name, "error", err)
		return
	}
	rt := &routeTable{table: table, actions: acts, forwards: make([]forward, len(acts)), idleTimeout: lc.IdleTimeout.D(), mtls: mtlsMode(lc), exposeDetails: lc.ExposeErrorDetails, edge: newEdgeSettings(lc)}
	for i, a := range acts {
		if a.Kind != rules.Forward {
			continue
		}
		f := &rt.forwards[i]
		for _, w := range a.Groups {
			if w.W() == 0 || groups[w.Name] == nil {
				continue
			}
			f.total += w.W()
			f.groups, f.cum = append(f.groups, groups[w.Name]), append(f.cum, f.total)
		}
		if a.Sticky != nil && len(a.Groups) > 1 {
			f.sticky = a.Sticky.Duration.D()
		}
	}
	h.routes.Store(rt)
}

// route returns the action for r and, for forward actions, its groups.
func (rt *routeTable) route(r *httpmsg.Request) (*rules.Action, *forward) {
	i := len(rt.actions) - 1
	if m := rt.table.Match(r); m != nil {
		i = m.Action
	}
	return &rt.actions[i], &rt.forwards[i]
}

// pick returns one of the forward's groups in proportion to the weights.
func (f *forward) pick() *Group {
	if len(f.groups) == 1 {
		return f.groups[0]
	}
	n := rand.IntN(f.total)
	for i, c := range f.cum {
		if n < c {
			return f.groups[i]
		}
	}
	return f.groups[len(f.groups)-1]
}

// byName returns the forward's group called name, or nil.
func (f *forward) byName(name string) *Group {
	for _, g := range f.groups {
		if g.Name == name {
			return g
		}
	}
	return nil
}
