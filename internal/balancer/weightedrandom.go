package balancer

import (
	"sort"

	"github.com/fulcrumlb/fulcrum/internal/target"
)

// WeightedRandom picks a target at random, weighted by target weight
// (ALB's weighted_random, without anomaly mitigation).
type WeightedRandom struct {
	rnd func(n uint64) uint64
}

// Pick returns a random target, preferring untried ones.
func (p *WeightedRandom) Pick(rs *target.RouteSet, tried []*target.Target) *target.Target {
	n := len(rs.Targets)
	if n == 0 {
		return nil
	}
	w := int(p.rnd(uint64(rs.CumWeight[n-1])))
	i := sort.SearchInts(rs.CumWeight, w+1)
	if len(tried) == 0 {
		return rs.Targets[i]
	}
	return firstUntried(rs.Targets, i, tried)
}
