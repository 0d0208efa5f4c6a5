package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// hot keeps the children of the vector every request observes
// (fulcrum_requests_total), keyed by its label values. WithLabelValues
// hashes each value byte by byte, checks it is UTF-8 and takes the
// vector's lock, about 150 ns a call; a sync.Map load of a child already
// made costs a fraction of that. No
// child is ever deleted, so a cached one stays the vector's.
type hot struct {
	requests sync.Map // requestKey → prometheus.Counter
}

type requestKey struct{ listener, group, code, source string }

func (m *Metrics) requestCounter(k requestKey) prometheus.Counter {
	if c, ok := m.hot.requests.Load(k); ok {
		return c.(prometheus.Counter)
	}
	c := m.requests.WithLabelValues(k.listener, k.group, k.code, k.source)
	m.hot.requests.Store(k, c)
	return c
}
