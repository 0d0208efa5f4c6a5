package config

import "slices"

// Clone returns a deep copy of c: every slice, map and pointer reachable
// from it is copied, so that a change to the copy never shows in c and a
// change to c never shows in the copy. A nil c gives nil. The proxy stores
// a clone of the Config it is given, which makes a Config a value: the
// caller may keep editing its own after handing it over.
//
// TestCloneIsDeep fills every field by reflection and fails when a new
// slice, map or pointer field is shared; extend the copy below with it.
func (c *Config) Clone() *Config {
	if c == nil {
		return nil
	}
	n := *c
	n.AccessLog = clonePtr(c.AccessLog)
	n.Admin.AllowedHosts = slices.Clone(c.Admin.AllowedHosts)
	n.HealthCheckLog = clonePtr(c.HealthCheckLog)
	n.Listeners = cloneEach(c.Listeners, Listener.clone)
	n.TargetGroups = cloneEach(c.TargetGroups, TargetGroup.clone)
	n.Cluster = c.Cluster.clone() // discovery.go
	return &n
}

func (l Listener) clone() Listener {
	l.TLS = clonePtr(l.TLS)
	l.Certificates = slices.Clone(l.Certificates)
	if l.TLSPolicy != nil {
		p := *l.TLSPolicy
		p.Ciphers = slices.Clone(p.Ciphers)
		l.TLSPolicy = &p
	}
	l.MutualAuthentication = clonePtr(l.MutualAuthentication)
	l.DefaultAction = l.DefaultAction.clone()
	l.Rules = cloneEach(l.Rules, Rule.clone)
	return l
}

func (r Rule) clone() Rule {
	r.Conditions = cloneEach(r.Conditions, Condition.clone)
	r.Action = r.Action.clone()
	return r
}

func (c Condition) clone() Condition {
	c.Values = slices.Clone(c.Values)
	return c
}

// clone copies a; nil gives nil.
func (a *Action) clone() *Action {
	if a == nil {
		return nil
	}
	n := *a
	n.TargetGroups = cloneEach(a.TargetGroups, func(w WeightedTargetGroup) WeightedTargetGroup {
		w.Weight = clonePtr(w.Weight)
		return w
	})
	n.Stickiness = clonePtr(a.Stickiness)
	n.Redirect = clonePtr(a.Redirect)
	n.FixedResponse = clonePtr(a.FixedResponse)
	return &n
}

func (g TargetGroup) clone() TargetGroup {
	g.HealthCheck.Matcher.ranges = slices.Clone(g.HealthCheck.Matcher.ranges)
	g.Targets = slices.Clone(g.Targets)
	g.Discovery = cloneEach(g.Discovery, Discovery.clone) // discovery.go
	g.Stickiness = clonePtr(g.Stickiness)
	return g
}

// clonePtr copies the value p points to; nil gives nil. T must hold no
// slice, map or pointer of its own.
func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// cloneEach copies s, each element through clone; nil gives nil.
func cloneEach[T any](s []T, clone func(T) T) []T {
	if s == nil {
		return nil
	}
	n := make([]T, len(s))
	for i, v := range s {
		n[i] = clone(v)
	}
	return n
}
