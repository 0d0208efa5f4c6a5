// Package balancer picks the target for each attempt from a target group's
// route set. Picks allocate nothing and never block.
package balancer

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/fulcrumlb/fulcrum/internal/target"
)

// Policy picks a target from rs for one attempt. tried holds the targets
// already tried for this request: a policy returns an untried target when
// one exists, and otherwise any target (so a lone target is retried). It
// returns nil only when rs is empty. Pick does not keep tried after it
// returns: the caller reuses its memory for the next request.
type Policy interface {
	Pick(rs *target.RouteSet, tried []*target.Target) *target.Target
}

// New returns the policy named by the config: round_robin,
// least_outstanding_requests or weighted_random. rnd returns a uniform
// number in [0, n); nil means math/rand/v2.
func New(name string, rnd func(n uint64) uint64) (Policy, error) {
	if rnd == nil {
		rnd = rand.Uint64N
	}
	switch name {
	case "round_robin":
		return &RoundRobin{}, nil
	case "least_outstanding_requests":
		return &LeastOutstanding{}, nil
	case "weighted_random":
		return &WeightedRandom{rnd: rnd}, nil
	}
	return nil, fmt.Errorf("balancer: unknown algorithm %q", name)
}

// firstUntried walks ts from start (wrapping) and returns the first target
// not in tried, or ts[start] when all were tried.
func firstUntried(ts []*target.Target, start int, tried []*target.Target) *target.Target {
	n := len(ts)
	for i := range n {
		t := ts[(start+i)%n]
		if !slices.Contains(tried, t) {
			return t
		}
	}
	return ts[start%n]
}
