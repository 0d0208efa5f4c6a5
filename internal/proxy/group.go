package proxy

import (
	"github.com/fulcrumlb/fulcrum/internal/balancer"
	"github.com/fulcrumlb/fulcrum/internal/target"
)

// Group is a target group as the request path sees it: its targets and
// route set, its pick policy, its transport and its retry limits.
type Group struct {
	Name        string
	Targets     *target.Group
	Policy      balancer.Policy
	Transport   *Transport
	MaxAttempts int
	budget      retryBudget
}

// RetryBudgetExhausted returns how many retries the budget refused.
func (g *Group) RetryBudgetExhausted() int64 { return g.budget.exhausted.Load() }
