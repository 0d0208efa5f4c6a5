package accesslog

import (
	"slices"
	"sync"

	"github.com/fulcrumlb/fulcrum/internal/failure"
)

// DefaultHistory is how many recent successful requests a History keeps
// by default (admin.request_history), DefaultHistoryFailures how many
// failed ones (admin.request_history_failures). Successes keep fewer: a
// failure is what an operator looks up by its id, a success's line is in
// the access log, and each success written cycles the ring's arena
// through the CPU's cache. At 10,000 successes (2 MB of arena for small
// GETs, 196 bytes each: a core's whole 2 MiB L2 on the machine measured)
// one event loop spent 4-7 % more user time a request than at 1,000
// (docs/performance.md, "The history's successes").
const (
	DefaultHistory         = 1000
	DefaultHistoryFailures = 10000
)

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

// maxEncodedRecord bounds the bytes of one encoded record (appendRecord)
// with every string at its MaxHistory* limit and MaxHistoryAttempts
// attempts: about 48 KiB (TestMaxEncodedRecord). A ring's arena is never
// smaller, so every record fits.
const maxEncodedRecord = 64 << 10

// History keeps the most recent requests' records so one can be looked up
// by Fulcrum's own request id (Record.ID) or by the X-Request-Id the
// client sent or got back (Record.TraceID). A client-chosen id never
// replaces another request's story: the own id is looked up first, and a
// trace id finds the newest request that carried it. Successes and
// failures live in two rings of the same size, so failures, being rarer,
// stay findable long after the successes around them are gone; the
// failures' ring may also be the larger (NewHistoryRings).
//
// Each record is kept encoded (historycodec.go): its strings cut to the
// MaxHistory* limits and copied, its numbers as varints. A ring writes
// its records one after another into an arena of its own, mapped outside
// the Go heap (arena_unix.go), and starts again at the arena's start when
// its slots do (every n records) or when the next record would pass the
// arena's end; a record it writes over is dropped, oldest first. The
// bytes written therefore span about n records, whatever the bound, and
// a kept record holds no pointer and gives the garbage collector nothing
// to scan or to count toward its heap goal. A page once written stays
// resident until the History is unreachable, so the history's memory is
// the most bytes any n successive records took, within the bound. Memory is bounded twice: by
// count (each ring's n) and by bytes (half of maxBytes per ring, at least
// maxEncodedRecord); Bytes reports the encoded records' total.
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

// historyRing is n slots and the arena their records are written in. The
// occupied slots are count, ending just before next; their records lie in
// the arena in the same order, from the oldest's offset onwards, wrapping
// once at most, and head is where the next one goes.
type historyRing struct {
	slots []historySlot
	arena []byte
	next  int
	count int
	head  int
}

// historySlot locates one encoded record in its ring's arena: bytes
// off..off+n. seq is the stored count when it was written, 0 for an empty
// slot.
type historySlot struct {
	seq uint64
	off int
	n   int
}

type slot struct {
	ring int
	idx  int
}

// NewHistory returns a history keeping the last n successes and the last
// n failures, within DefaultHistoryBytes; n below 1 means DefaultHistory.
func NewHistory(n int) *History { return NewHistoryBytes(n, DefaultHistoryBytes) }

// NewHistoryBytes is NewHistory with a bound on the bytes the encoded
// records take: maxBytes/2 per ring, at least maxEncodedRecord; maxBytes
// below 1 means DefaultHistoryBytes. The arenas are reserved, not
// written: memory grows only as records are kept.
func NewHistoryBytes(n int, maxBytes int64) *History {
	if n < 1 {
		n = DefaultHistory
	}
	return NewHistoryRings(n, n, maxBytes)
}

// NewHistoryRings is NewHistoryBytes with the two rings' sizes apart: the
// last successes successful requests and the last failures failed ones
// (admin.request_history and admin.request_history_failures); below 1
// means DefaultHistory and DefaultHistoryFailures.
func NewHistoryRings(successes, failures int, maxBytes int64) *History {
	if successes < 1 {
		successes = DefaultHistory
	}
	if failures < 1 {
		failures = DefaultHistoryFailures
	}
	if maxBytes < 1 {
		maxBytes = DefaultHistoryBytes
	}
	per := max(maxBytes/2, maxEncodedRecord)
	h := &History{maxBytes: 2 * per}
	for i, n := range [2]int{successes, failures} {
		h.rings[i] = historyRing{slots: make([]historySlot, n), arena: newArena(h, int(per))}
	}
	return h
}

// Bytes returns the bytes the stored records take encoded, the quantity
// bounded by MaxBytes.
func (h *History) Bytes() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.bytes
}

// MaxBytes returns the bound on Bytes: the two rings' arenas together.
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

// Add stores r, dropping the oldest record of its ring when the ring is
// full or when r's bytes are written over it.
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
	enc := h.scratch
	if cap(h.scratch) > maxEncodedRecord {
		h.scratch = nil // cannot happen (appendRecord cuts); keeps the scratch small regardless
	}
	ring := &h.rings[ri]
	n := len(enc)
	if n > len(ring.arena) {
		return // cannot happen: the arena holds maxEncodedRecord
	}
	i := ring.next
	if ring.count == len(ring.slots) {
		h.drop(ring)
	}
	off := ring.head
	if i == 0 || off+n > len(ring.arena) {
		// Back to the arena's start. The records from head to the end
		// are the oldest; they go first.
		for ring.count > 0 && ring.slots[ring.oldest()].off >= off {
			h.drop(ring)
		}
		off = 0
	}
	for ring.count > 0 {
		o := &ring.slots[ring.oldest()]
		if o.off >= off+n || o.off+o.n <= off {
			break
		}
		h.drop(ring)
	}
	copy(ring.arena[off:], enc)
	h.stored++
	ring.slots[i] = historySlot{seq: h.stored, off: off, n: n}
	ring.next = (i + 1) % len(ring.slots)
	ring.count++
	ring.head = off + n
	h.bytes += int64(n)
}

// oldest returns the index of the ring's oldest occupied slot; the ring
// must not be empty.
func (r *historyRing) oldest() int {
	return (r.next - r.count + len(r.slots)) % len(r.slots)
}

// record returns the encoded record of slot i, aliasing the arena.
func (r *historyRing) record(i int) []byte {
	s := &r.slots[i]
	return r.arena[s.off : s.off+s.n : s.off+s.n]
}

// drop empties the ring's oldest slot, which must be occupied.
func (h *History) drop(ring *historyRing) {
	s := &ring.slots[ring.oldest()]
	h.bytes -= int64(s.n)
	*s = historySlot{}
	ring.count--
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
	var rawID [16]byte
	rawOK := packHexID(&rawID, id)
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
			own, trace := recordKeys(ring.record(i))
			if len(own.b) == 0 {
				own = trace // no own id: the trace id is its key
			}
			for m, hit := range [2]bool{own.is(id, &rawID, rawOK), trace.is(id, &rawID, rawOK)} {
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
	return decodeRecord(h.rings[s.ring].record(s.idx))
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
