package accesslog

import (
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"

	"github.com/fulcrumlb/fulcrum/internal/failure"
)

// DefaultHistory is how many recent requests a History keeps by default.
const DefaultHistory = 10000

// DefaultHistoryBytes is the default bound on the bytes a History's
// stored strings and attempts may retain (admin.request_history_bytes).
const DefaultHistoryBytes = 64 << 20

// The longest string a History keeps of each record field, in bytes;
// longer values are cut (at a UTF-8 boundary) and copied, so a client's
// 62 KB User-Agent pins 512 bytes, not 62 KB.
const (
	// MaxHistoryURL bounds Record.URL and Record.RedirectURL.
	MaxHistoryURL = 2048
	// MaxHistoryUserAgent bounds Record.UserAgent.
	MaxHistoryUserAgent = 512
	// MaxHistoryDetail bounds Record.ErrorDetail and each Attempt.Detail.
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
// Memory is bounded twice: by count (n per ring, preallocated) and by
// bytes: strings are cut to the MaxHistory* limits, and once the strings
// and attempts retained exceed maxBytes the oldest records are dropped.
// Bytes reports the retained total.
//
// A request counts as failed when Fulcrum answered it with an error, when
// any attempt failed (even if a retry then succeeded), or when the final
// status is 5xx. Safe for concurrent use.
type History struct {
	mu       sync.Mutex
	rings    [2]historyRing // 0: successes, 1: failures
	stored   uint64
	bytes    int64
	maxBytes int64
}

type historyRing struct {
	recs  []Record
	seq   []uint64 // seq[i] is the stored count when recs[i] was written; 0 for empty
	size  []int64  // bytes recs[i] retains
	next  int
	count int // occupied slots, ending just before next
}

type slot struct {
	ring int
	idx  int
}

// NewHistory returns a history keeping the last n successes and the last
// n failures, within DefaultHistoryBytes; n below 1 means DefaultHistory.
func NewHistory(n int) *History { return NewHistoryBytes(n, DefaultHistoryBytes) }

// NewHistoryBytes is NewHistory with a bound on retained bytes; maxBytes
// below 1 means DefaultHistoryBytes.
func NewHistoryBytes(n int, maxBytes int64) *History {
	if n < 1 {
		n = DefaultHistory
	}
	if maxBytes < 1 {
		maxBytes = DefaultHistoryBytes
	}
	h := &History{maxBytes: maxBytes}
	for i := range h.rings {
		h.rings[i] = historyRing{recs: make([]Record, n), seq: make([]uint64, n), size: make([]int64, n)}
	}
	return h
}

// Bytes returns the bytes the stored records' strings and attempts
// retain, the quantity bounded by maxBytes.
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

// Add stores a bounded copy of r. A record with neither ID nor TraceID
// is not kept.
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
	ring := &h.rings[ri]
	i := ring.next
	if ring.count == len(ring.recs) {
		h.drop(ri, i)
	}
	ring.next = (i + 1) % len(ring.recs)
	ring.count++
	dst := &ring.recs[i]
	storeBounded(dst, r)
	h.stored++
	ring.seq[i] = h.stored
	ring.size[i] = retained(dst)
	h.bytes += ring.size[i]
	s := slot{ri, i}
	for h.bytes > h.maxBytes {
		if !h.dropOldest(s) {
			break
		}
	}
}

// key is the record's own id, or its trace id when it has none.
func key(r *Record) string {
	if r.ID != "" {
		return r.ID
	}
	return r.TraceID
}

// drop empties slot i of ring ri, which must be occupied.
func (h *History) drop(ri, i int) {
	ring := &h.rings[ri]
	old := &ring.recs[i]
	h.bytes -= ring.size[i]
	attempts := old.Attempts[:0]
	*old = Record{Attempts: attempts}
	ring.seq[i], ring.size[i] = 0, 0
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
		i := (ring.next - ring.count + len(ring.recs)) % len(ring.recs)
		if (slot{ri, i}) == keep {
			continue
		}
		if best < 0 || ring.seq[i] < bestSeq {
			best, bestSeq = ri, ring.seq[i]
		}
	}
	if best < 0 {
		return false
	}
	ring := &h.rings[best]
	h.drop(best, (ring.next-ring.count+len(ring.recs))%len(ring.recs))
	return true
}

// storeBounded copies r into dst with every string cut to its limit and
// at most MaxHistoryAttempts attempts, reusing dst's attempt slice.
func storeBounded(dst, r *Record) {
	attempts := dst.Attempts[:0]
	*dst = *r
	dst.URL = bound(r.URL, MaxHistoryURL)
	dst.RedirectURL = bound(r.RedirectURL, MaxHistoryURL)
	dst.UserAgent = bound(r.UserAgent, MaxHistoryUserAgent)
	dst.ErrorDetail = bound(r.ErrorDetail, MaxHistoryDetail)
	for _, f := range []*string{&dst.ID, &dst.Type, &dst.Listener, &dst.Client, &dst.Target, &dst.Method, &dst.Proto,
		&dst.SSLCipher, &dst.SSLProtocol, &dst.TargetGroup, &dst.TraceID, &dst.DomainName, &dst.ConnID,
		&dst.Action, &dst.Sticky, &dst.AmznTraceID, &dst.Classification, &dst.ClassificationReason} {
		*f = bound(*f, MaxHistoryField)
	}
	for _, a := range r.Attempts[:min(len(r.Attempts), MaxHistoryAttempts)] {
		a.Target = bound(a.Target, MaxHistoryField)
		a.Detail = bound(a.Detail, MaxHistoryDetail)
		attempts = append(attempts, a)
	}
	dst.Attempts = attempts
}

// bound returns s cut to at most limit bytes at a UTF-8 boundary; a cut
// string is copied so it does not pin the original's memory.
func bound(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.Clone(s[:cut])
}

// retained is the bytes r's strings and attempts hold.
func retained(r *Record) int64 {
	n := len(r.ID) + len(r.Type) + len(r.Listener) + len(r.Client) + len(r.Target) + len(r.Method) + len(r.URL) +
		len(r.Proto) + len(r.UserAgent) + len(r.SSLCipher) + len(r.SSLProtocol) + len(r.TargetGroup) +
		len(r.TraceID) + len(r.DomainName) + len(r.ErrorDetail) + len(r.ConnID) + len(r.Action) + len(r.RedirectURL) +
		len(r.Sticky) + len(r.AmznTraceID) + len(r.Classification) + len(r.ClassificationReason)
	n += cap(r.Attempts) * int(unsafe.Sizeof(Attempt{}))
	for _, a := range r.Attempts {
		n += len(a.Target) + len(a.Detail)
	}
	return int64(n)
}

// Get returns a copy of the record whose own id is id or, failing that,
// the newest record whose trace id (X-Request-Id) is id.
//
// It scans the rings (about 100 µs for 20,000 records) rather than keep
// an index: a lookup is an operator's, an index costs every request a
// map insert and delete (about 2 % of a small request's CPU at 30,000
// requests a second) and a megabyte of memory.
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
		for i := range ring.recs {
			r := &ring.recs[i]
			for m, hit := range [2]bool{key(r) == id, r.TraceID == id} {
				if hit && ring.seq[i] > seq[m] {
					best[m], seq[m] = slot{ri, i}, ring.seq[i]
				}
			}
		}
	}
	for m := range best {
		if seq[m] > 0 {
			return h.copyOf(best[m]), true
		}
	}
	return Record{}, false
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
