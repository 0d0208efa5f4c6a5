package balancer

import (
	"sort"
	"sync/atomic"

	"github.com/fulcrumlb/fulcrum/internal/target"
)

// RoundRobin cycles through the targets (ALB's default algorithm). When
// weights differ, each target gets a share proportional to its weight.
type RoundRobin struct {
	next atomic.Uint64
}

// Pick returns the next target in turn.
func (p *RoundRobin) Pick(rs *target.RouteSet, tried []*target.Target) *target.Target {
	n := len(rs.Targets)
	if n == 0 {
		return nil
	}
	c := p.next.Add(1) - 1
	start := int(c % uint64(n))
	if rs.Weighted {
		total := rs.CumWeight[n-1]
		w := int(c % uint64(total))
		start = sort.SearchInts(rs.CumWeight, w+1)
	}
	if len(tried) == 0 {
		return rs.Targets[start]
	}
	return firstUntried(rs.Targets, start, tried)
}
