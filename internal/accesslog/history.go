package accesslog

import (
	"slices"
	"sync"

	"github.com/fulcrumlb/fulcrum/internal/failure"
)

// DefaultHistory is how many recent requests a History keeps by default.
const DefaultHistory = 10000

// DefaultHistoryBytes is the default bound on the bytes a History's
// stored strings and attempts may retain (admin.request_history_bytes).
const DefaultHistoryBytes = 64 << 20

// The longest string a History keeps of each record field, in bytes;
// longer values are cut at a UTF-8 boundary, so a client's 62 KB
// User-Agent takes 512 bytes of the history, not 62 KB.
const (
	// MaxHistoryURL bounds Record.URL and Record.RedirectURL.
	MaxHistoryURL = 2048
	// MaxHistoryUserAgent bounds Record.UserAgent.
	MaxHistoryUserAgent = 512
	// MaxHistoryDetail bounds Record.ErrorDetail and each Attempt's
	// Detail and Evidence.
	MaxHistoryDetail = 1024
	// MaxHistoryField bounds every other string field.
	MaxHistoryField = 256
	// MaxHistoryAttempts bounds how many attempts are kept per record.
	MaxHistoryAttempts = 16
)

// History keeps the most recent requests' records so one can be looked up
// by Fulcrum's own request id (Record.ID) or by the X-Request-Id the
// client sent or got back (Record.TraceID). A client-chosen id never
// replaces another request's story: the own id is looked up first, and a
// trace id finds the newest request that carried it. Successes and
// failures live in two rings of the same size, so failures, being rarer,
// stay findable long after the successes around them are gone.
//
// Each record is kept encoded (historycodec.go): its strings cut to the
// MaxHistory* limits and copied, its numbers as varints, in one byte
// slice per ring slot that the slot reuses. A kept record holds no
// pointer into the request's memory and gives the garbage collector
// nothing to scan. Memory is bounded twice: by count (n per ring) and by
// bytes: once the encoded records take more than maxBytes the oldest are
// dropped. Bytes reports the total.
//
// A request counts as failed when Fulcrum answered it with an error, when
// any attempt failed (even if a retry then succeeded), or when the final
// status is 5xx. Safe for concurrent use.
type History struct {
	mu       sync.Mutex
	rings    [2]historyRing // 0: successes, 1: failures
	scratch  []byte         // Add's encoding buffer, under mu
	stored   uint64
	bytes    int64
	maxBytes int64
}

type historyRing struct {
	slots []historySlot
	next  int
	count int // occupied slots, ending just before next
}

// historySlot holds one encoded record. seq is the stored count when it
// was written, 0 for an empty slot; enc keeps its capacity across the
// records the slot holds, and that capacity is what the slot counts
// against maxBytes.
type historySlot struct {
	seq uint64
	enc []byte
}

type slot struct {
	ring int
	idx  int
}

// NewHistory returns a history keeping the last n successes and the last
// n failures, within DefaultHistoryBytes; n below 1 means DefaultHistory.
func NewHistory(n int) *History { return NewHistoryBytes(n, DefaultHistoryBytes) }

// NewHistoryBytes is NewHistory with a bound on the bytes the encoded
// records take; maxBytes below 1 means DefaultHistoryBytes.
func NewHistoryBytes(n int, maxBytes int64) *History {
	if n < 1 {
		n = DefaultHistory
	}
	if maxBytes < 1 {
		maxBytes = DefaultHistoryBytes
	}
	h := &History{maxBytes: maxBytes}
	for i := range h.rings {
		h.rings[i] = historyRing{slots: make([]historySlot, n)}
	}
	return h
}

// Bytes returns the bytes the stored records take encoded (the
// capacity of their slots' buffers), the quantity bounded by maxBytes.
func (h *History) Bytes() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.bytes
}

// MaxBytes returns the bound on Bytes.
func (h *History) MaxBytes() int64 { return h.maxBytes }

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

// Add stores a bounded, encoded copy of r; r stays the caller's. A
// record with neither ID nor TraceID is not kept.
func (h *History) Add(r *Record) {
	if h == nil || (r.ID == "" && r.TraceID == "") {
		return
	}
	ri := 0
	if Failed(r) {
		ri = 1
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.scratch = appendRecord(h.scratch[:0], r)
	ring := &h.rings[ri]
	i := ring.next
	if ring.count == len(ring.slots) {
		h.drop(ri, i, true)
	}
	ring.next = (i + 1) % len(ring.slots)
	ring.count++
	s := &ring.slots[i]
	n := len(h.scratch)
	if c := cap(s.enc); c < n || c > 2*n+64 {
		// Too small, or much larger than records now are: a slot that once
		// held a long URL does not keep its size.
		s.enc = make([]byte, 0, n+n/4+16)
	}
	s.enc = append(s.enc[:0], h.scratch...)
	if cap(h.scratch) > 64<<10 {
		h.scratch = nil // one huge record does not stay in the scratch
	}
	h.stored++
	s.seq = h.stored
	h.bytes += int64(cap(s.enc))
	keep := slot{ri, i}
	for h.bytes > h.maxBytes {
		if !h.dropOldest(keep) {
			break
		}
	}
}

// drop empties slot i of ring ri, which must be occupied. reuse keeps
// its buffer for the record about to take the slot; otherwise the buffer
// is released.
func (h *History) drop(ri, i int, reuse bool) {
	ring := &h.rings[ri]
	s := &ring.slots[i]
	h.bytes -= int64(cap(s.enc))
	s.seq = 0
	if !reuse {
		s.enc = nil
	}
	ring.count--
}

// dropOldest drops the oldest record of either ring other than keep; it
// reports false when there is none.
func (h *History) dropOldest(keep slot) bool {
	best, bestSeq := -1, uint64(0)
	for ri := range h.rings {
		ring := &h.rings[ri]
		if ring.count == 0 {
			continue
		}
		i := (ring.next - ring.count + len(ring.slots)) % len(ring.slots)
		if (slot{ri, i}) == keep {
			continue
		}
		if best < 0 || ring.slots[i].seq < bestSeq {
			best, bestSeq = ri, ring.slots[i].seq
		}
	}
	if best < 0 {
		return false
	}
	ring := &h.rings[best]
	h.drop(best, (ring.next-ring.count+len(ring.slots))%len(ring.slots), false)
	return true
}

// Get returns a copy of the record whose own id is id or, failing that,
// the newest record whose trace id (X-Request-Id) is id.
//
// It scans the rings (about 100 µs for 20,000 records) rather than keep
// an index: a lookup is an operator's, an index costs every request a
// map insert and delete (about 2 % of a small request's CPU at 30,000
// requests a second) and a megabyte of memory. Only the two ids of each
// record are read; the one found is decoded.
func (h *History) Get(id string) (Record, bool) {
	if id == "" {
		return Record{}, false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	// best[0] is the newest record keyed id, best[1] the newest traced id.
	var best [2]slot
	var seq [2]uint64
	for ri := range h.rings {
		ring := &h.rings[ri]
		for i := range ring.slots {
			s := &ring.slots[i]
			if s.seq == 0 {
				continue
			}
			own, trace := recordKeys(s.enc)
			if len(own) == 0 {
				own = trace // no own id: the trace id is its key
			}
			for m, hit := range [2]bool{string(own) == id, string(trace) == id} {
				if hit && s.seq > seq[m] {
					best[m], seq[m] = slot{ri, i}, s.seq
				}
			}
		}
	}
	for m := range best {
		if seq[m] > 0 {
			r, err := h.decode(best[m])
			return r, err == nil
		}
	}
	return Record{}, false
}

// decode returns the record in slot s. An error means the codec has a
// bug (historycodec_test.go round-trips every field); the caller treats
// the record as gone.
func (h *History) decode(s slot) (Record, error) {
	return decodeRecord(h.rings[s.ring].slots[s.idx].enc)
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
		for i := range h.rings[ri].slots {
			if sq := h.rings[ri].slots[i].seq; sq != 0 {
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
		if r, err := h.decode(e.s); err == nil {
			out = append(out, r)
		}
	}
	return out
}
