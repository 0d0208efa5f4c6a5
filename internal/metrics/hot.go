package metrics

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// hot keeps the children of the vector every request observes
// (fulcrum_requests_total), keyed by its label values. WithLabelValues
// hashes each value byte by byte, checks it is UTF-8 and takes the
// vector's lock, about 150 ns a call; a sync.Map load of a child already
// made costs a fraction of that, and last, the child the previous request
// counted, less again: a proxy's requests mostly repeat their
// predecessor's labels, and comparing the four values (their bytes are
// usually the same strings, which compare without reading them) costs no
// hashing. No child is ever deleted, so a cached one stays the vector's.
type hot struct {
	requests sync.Map // requestKey → *hotCounter
	last     atomic.Pointer[hotCounter]
}

type requestKey struct{ listener, group, code, source string }

// hotCounter is one child with its labels; made once per label set.
type hotCounter struct {
	k requestKey
	c prometheus.Counter
}

func (m *Metrics) requestCounter(k requestKey) prometheus.Counter {
	if h := m.hot.last.Load(); h != nil && h.k == k {
		return h.c
	}
	var h *hotCounter
	if v, ok := m.hot.requests.Load(k); ok {
		h = v.(*hotCounter)
	} else {
		h = &hotCounter{k: k, c: m.requests.WithLabelValues(k.listener, k.group, k.code, k.source)}
		if v, loaded := m.hot.requests.LoadOrStore(k, h); loaded {
			h = v.(*hotCounter)
		}
	}
	m.hot.last.Store(h)
	return h.c
}
