package balancer

import (
	"slices"
	"sync/atomic"

	"github.com/fulcrumlb/fulcrum/internal/target"
)

// LeastOutstanding picks the target with the fewest requests in flight
// (ALB's least_outstanding_requests). Ties go to the next target in turn,
// so equal targets share evenly.
type LeastOutstanding struct {
	next atomic.Uint64
}

// Pick returns the untried target with the fewest requests in flight.
func (p *LeastOutstanding) Pick(rs *target.RouteSet, tried []*target.Target) *target.Target {
	n := len(rs.Targets)
	if n == 0 {
		return nil
	}
	start := int((p.next.Add(1) - 1) % uint64(n))
	var best *target.Target
	var bestN int64
	for i := range n {
		t := rs.Targets[(start+i)%n]
		if slices.Contains(tried, t) {
			continue
		}
		if f := t.InFlight(); best == nil || f < bestN {
			best, bestN = t, f
		}
	}
	if best == nil {
		return rs.Targets[start]
	}
	return best
}
