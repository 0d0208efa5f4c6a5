package accesslog

import (
	"slices"
	"sync"

	"github.com/fulcrumlb/fulcrum/internal/failure"
)

// DefaultHistory is how many recent requests a History keeps by default.
const DefaultHistory = 10000

// History keeps the most recent requests' records so one can be looked up
// by its request id (the X-Request-Id the client got back). Successes and
// failures live in two rings of the same size, so failures, being rarer,
// stay findable long after the successes around them are gone.
//
// A request counts as failed when Fulcrum answered it with an error, when
// any attempt failed (even if a retry then succeeded), or when the final
// status is 5xx. Storing copies records into preallocated slots, so after
// warm-up it allocates nothing. Safe for concurrent use.
type History struct {
	mu     sync.Mutex
	rings  [2]historyRing // 0: successes, 1: failures
	byID   map[string]slot
	stored uint64
}

type historyRing struct {
	recs []Record
	seq  []uint64 // seq[i] is the stored count when recs[i] was written; 0 for empty
	next int
}

type slot struct {
	ring int
	idx  int
}

// NewHistory returns a history keeping the last n successes and the last
// n failures; n below 1 means DefaultHistory.
func NewHistory(n int) *History {
	if n < 1 {
		n = DefaultHistory
	}
	h := &History{byID: make(map[string]slot, 2*n)}
	for i := range h.rings {
		h.rings[i] = historyRing{recs: make([]Record, n), seq: make([]uint64, n)}
	}
	return h
}

// Failed reports whether r counts as a failed request.
func Failed(r *Record) bool {
	if r.Answered() {
		return false // a rule's redirect or fixed response, never a failure
	}
	if r.Error != failure.None || r.ELBStatus >= 500 {
		return true
	}
	for i := range r.Attempts {
		if r.Attempts[i].Class.Type != failure.None {
			return true
		}
	}
	return false
}

// Add stores a copy of r. A record without a TraceID is not kept.
func (h *History) Add(r *Record) {
	if h == nil || r.TraceID == "" {
		return
	}
	ri := 0
	if Failed(r) {
		ri = 1
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	ring := &h.rings[ri]
	i := ring.next
	ring.next = (i + 1) % len(ring.recs)
	old := &ring.recs[i]
	if ring.seq[i] != 0 {
		if s, ok := h.byID[old.TraceID]; ok && s == (slot{ri, i}) {
			delete(h.byID, old.TraceID)
		}
	}
	attempts := append(old.Attempts[:0], r.Attempts...)
	*old = *r
	old.Attempts = attempts
	h.stored++
	ring.seq[i] = h.stored
	h.byID[r.TraceID] = slot{ri, i}
}

// Get returns a copy of the record with the given request id.
func (h *History) Get(id string) (Record, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.byID[id]
	if !ok {
		return Record{}, false
	}
	return h.copyOf(s), true
}

func (h *History) copyOf(s slot) Record {
	r := h.rings[s.ring].recs[s.idx]
	r.Attempts = slices.Clone(r.Attempts)
	return r
}

// Recent returns up to limit records, newest first; failedOnly restricts
// them to failed requests.
func (h *History) Recent(limit int, failedOnly bool) []Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	type entry struct {
		seq uint64
		s   slot
	}
	var es []entry
	for ri := range h.rings {
		if failedOnly && ri == 0 {
			continue
		}
		for i, sq := range h.rings[ri].seq {
			if sq != 0 {
				es = append(es, entry{sq, slot{ri, i}})
			}
		}
	}
	slices.SortFunc(es, func(a, b entry) int {
		if a.seq > b.seq {
			return -1
		}
		return 1
	})
	out := make([]Record, 0, min(limit, len(es)))
	for _, e := range es[:min(limit, len(es))] {
		out = append(out, h.copyOf(e.s))
	}
	return out
}
