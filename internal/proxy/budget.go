package proxy

import "sync/atomic"

// retryBudget caps retries in flight at a percentage of requests in flight,
// with a floor of 3 (Envoy's retry budget, RetryBudget in
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/cluster/v3/circuit_breaker.proto), so retries can
// not multiply load on a failing group.
type retryBudget struct {
	percent  int64
	active   atomic.Int64
	retrying atomic.Int64
	// exhausted counts retries refused by the budget.
	exhausted atomic.Int64
}

const minRetryConcurrency = 3

func (b *retryBudget) begin() { b.active.Add(1) }
func (b *retryBudget) end()   { b.active.Add(-1) }

// acquire takes a retry slot; the caller calls release when the retry
// attempt ends. It reports false when the budget is spent.
func (b *retryBudget) acquire() bool {
	limit := max(b.active.Load()*b.percent/100, minRetryConcurrency)
	if b.retrying.Add(1) > limit {
		b.retrying.Add(-1)
		b.exhausted.Add(1)
		return false
	}
	return true
}

func (b *retryBudget) release() { b.retrying.Add(-1) }
