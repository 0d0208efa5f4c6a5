package accesslog

import (
	"encoding/binary"
	"errors"
	"time"
	"unicode/utf8"

	"github.com/fulcrumlb/fulcrum/internal/failure"
)

// The request history keeps each record encoded in one byte slice rather
// than as a Record: a Record is about 560 bytes of which 200 are string
// headers, and its strings share the request's own memory (the request
// head, the target's response head), so a kept Record pinned all of it
// and gave the garbage collector 25 pointers to follow. The encoded form
// is the bytes of the strings, cut to the MaxHistory* limits, and
// varints: about 200 bytes for a small GET, holding no pointer.
//
// Fulcrum's own ids are kept as the bytes the proxy spelled them from
// (Record.Packed; hexid.go spells them back): ID (32 hex digits) and
// ConnID ("TID_" and 32) as 16 bytes each, and an AmznTraceID Fulcrum
// made ("Root=1-", 8 hex digits, "-", 24) as 16; a flag bit says which.
// That takes 63 bytes off a small GET's 259 (BenchmarkHistoryAddSmallGET),
// at no parsing cost: the bytes are copied, not read back out of the hex.
//
// Layout, in order: a flag byte; ID; TraceID unless it equals ID; the
// numbers (Time in Unix nanoseconds, RequestCreation as nanoseconds
// before Time, or in Unix nanoseconds when Time is zero, the three
// processing durations, the statuses, byte counts, rule priority and
// error type); the other strings in the order of historyStrings; the
// attempt count and each attempt (a byte that is attemptSameTarget when
// its Target is the record's, else 0 and Target; Status, Class in its
// binary form, Detail, Duration, Evidence). A string is a uvarint length
// and its bytes; a signed number is a zig-zag varint.

// Flag bits of an encoded record's first byte.
const (
	encTraceIsID = 1 << iota
	encTimeSet
	encCreationSet
	encForwarded
	encRawID    // ID is Record.Packed.ID, 16 bytes
	encRawConn  // ConnID is Record.Packed.Conn, 16 bytes
	encRawTrace // AmznTraceID is Record.Packed.Trace, 16 bytes
)

// errHistoryCorrupt is the decoder's error for bytes it did not encode;
// the history only decodes what it encoded, so it means a bug.
var errHistoryCorrupt = errors.New("accesslog: corrupt history record")

// historyStrings lists the record's strings after ID and TraceID with
// their limits, in encoding order.
func historyStrings(r *Record) [21]struct {
	p     *string
	limit int
} {
	type f = struct {
		p     *string
		limit int
	}
	return [...]f{
		{&r.Type, MaxHistoryField}, {&r.Listener, MaxHistoryField}, {&r.Client, MaxHistoryField},
		{&r.Target, MaxHistoryField}, {&r.Method, MaxHistoryField}, {&r.URL, MaxHistoryURL},
		{&r.Proto, MaxHistoryField}, {&r.UserAgent, MaxHistoryUserAgent}, {&r.SSLCipher, MaxHistoryField},
		{&r.SSLProtocol, MaxHistoryField}, {&r.TargetGroup, MaxHistoryField}, {&r.DomainName, MaxHistoryField},
		{&r.ErrorDetail, MaxHistoryDetail}, {&r.ConnID, MaxHistoryField}, {&r.Action, MaxHistoryField},
		{&r.RedirectURL, MaxHistoryURL}, {&r.Sticky, MaxHistoryField}, {&r.AmznTraceID, MaxHistoryField},
		{&r.Classification, MaxHistoryField}, {&r.ClassificationReason, MaxHistoryField},
		{&r.GRPCStatus, MaxHistoryField},
	}
}

// appendRecord appends r's encoded form to b, every string cut to its
// MaxHistory* limit at a UTF-8 boundary and at most MaxHistoryAttempts
// attempts kept.
func appendRecord(b []byte, r *Record) []byte {
	var flags byte
	traceIsID := r.TraceID == r.ID
	if traceIsID {
		flags |= encTraceIsID
	}
	if !r.Time.IsZero() {
		flags |= encTimeSet
	}
	if !r.RequestCreation.IsZero() {
		flags |= encCreationSet
	}
	if r.Forwarded {
		flags |= encForwarded
	}
	// The lengths guard against a Packed left set by mistake; the bytes
	// themselves are the proxy's word (Record.Packed).
	pk := &r.Packed
	if pk.Has&PackedID != 0 && len(r.ID) == 32 {
		flags |= encRawID
	}
	if pk.Has&PackedConn != 0 && len(r.ConnID) == len(connIDPrefix)+32 {
		flags |= encRawConn
	}
	if pk.Has&PackedTrace != 0 && len(r.AmznTraceID) == traceRootLen {
		flags |= encRawTrace
	}
	b = append(b, flags)
	if flags&encRawID != 0 {
		b = append(b, pk.ID[:]...)
	} else {
		b = appendString(b, r.ID, MaxHistoryField)
	}
	if !traceIsID {
		b = appendString(b, r.TraceID, MaxHistoryField)
	}
	if !r.Time.IsZero() {
		b = binary.AppendVarint(b, r.Time.UnixNano())
	}
	if !r.RequestCreation.IsZero() {
		if !r.Time.IsZero() {
			// Before the response by microseconds: a short varint.
			b = binary.AppendVarint(b, r.Time.UnixNano()-r.RequestCreation.UnixNano())
		} else {
			b = binary.AppendVarint(b, r.RequestCreation.UnixNano())
		}
	}
	b = binary.AppendVarint(b, int64(r.RequestProcessing))
	b = binary.AppendVarint(b, int64(r.TargetProcessing))
	b = binary.AppendVarint(b, int64(r.ResponseProcessing))
	b = binary.AppendVarint(b, int64(r.ELBStatus))
	b = binary.AppendVarint(b, int64(r.TargetStatus))
	b = binary.AppendVarint(b, r.ReceivedBytes)
	b = binary.AppendVarint(b, r.SentBytes)
	b = binary.AppendVarint(b, int64(r.RulePriority))
	b = binary.AppendVarint(b, int64(r.Error))
	// The strings of historyStrings, in its order, spelled out: building
	// its array of pointers costs more than the encoding.
	b = appendString(b, r.Type, MaxHistoryField)
	b = appendString(b, r.Listener, MaxHistoryField)
	b = appendString(b, r.Client, MaxHistoryField)
	b = appendString(b, r.Target, MaxHistoryField)
	b = appendString(b, r.Method, MaxHistoryField)
	b = appendString(b, r.URL, MaxHistoryURL)
	b = appendString(b, r.Proto, MaxHistoryField)
	b = appendString(b, r.UserAgent, MaxHistoryUserAgent)
	b = appendString(b, r.SSLCipher, MaxHistoryField)
	b = appendString(b, r.SSLProtocol, MaxHistoryField)
	b = appendString(b, r.TargetGroup, MaxHistoryField)
	b = appendString(b, r.DomainName, MaxHistoryField)
	b = appendString(b, r.ErrorDetail, MaxHistoryDetail)
	if flags&encRawConn != 0 {
		b = append(b, pk.Conn[:]...)
	} else {
		b = appendString(b, r.ConnID, MaxHistoryField)
	}
	b = appendString(b, r.Action, MaxHistoryField)
	b = appendString(b, r.RedirectURL, MaxHistoryURL)
	b = appendString(b, r.Sticky, MaxHistoryField)
	if flags&encRawTrace != 0 {
		b = append(b, pk.Trace[:]...)
	} else {
		b = appendString(b, r.AmznTraceID, MaxHistoryField)
	}
	b = appendString(b, r.Classification, MaxHistoryField)
	b = appendString(b, r.ClassificationReason, MaxHistoryField)
	b = appendString(b, r.GRPCStatus, MaxHistoryField)
	attempts := r.Attempts[:min(len(r.Attempts), MaxHistoryAttempts)]
	b = binary.AppendUvarint(b, uint64(len(attempts)))
	for i := range attempts {
		a := &attempts[i]
		// Most attempts went to the record's target: one byte says so.
		if a.Target == r.Target && a.Target != "" {
			b = append(b, attemptSameTarget)
		} else {
			b = append(b, 0)
			b = appendString(b, a.Target, MaxHistoryField)
		}
		b = binary.AppendVarint(b, int64(a.Status))
		b, _ = a.Class.AppendBinary(b) // never fails
		b = appendString(b, a.Detail, MaxHistoryDetail)
		b = binary.AppendVarint(b, int64(a.Duration))
		b = appendString(b, a.Evidence, MaxHistoryDetail)
	}
	return b
}

// attemptSameTarget, before an attempt, says its target is the record's.
const attemptSameTarget = 1

// appendString appends s, cut to at most limit bytes at a UTF-8
// boundary, as a uvarint length and its bytes.
func appendString(b []byte, s string, limit int) []byte {
	if len(s) < 0x80 && len(s) <= limit {
		return append(append(b, byte(len(s))), s...) // the usual case: a one-byte length
	}
	if len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// recordKey is one of an encoded record's ids, read without decoding
// the rest: the id's bytes (aliasing the encoding), or, when raw, the 16
// bytes its 32 hex digits spell (packHexID).
type recordKey struct {
	b   []byte
	raw bool
}

// is reports whether k is the id whose string is id and, when id is 32
// lower-case hex digits, whose bytes are rawID (ok).
func (k recordKey) is(id string, rawID *[16]byte, ok bool) bool {
	if k.raw {
		return ok && string(k.b) == string(rawID[:])
	}
	return string(k.b) == id
}

// recordKeys returns the ID and TraceID of an encoded record without
// decoding the rest.
func recordKeys(enc []byte) (id, traceID recordKey) {
	if len(enc) == 0 {
		return recordKey{}, recordKey{}
	}
	d := decoder{b: enc, pos: 1}
	if enc[0]&encRawID != 0 {
		id = recordKey{b: d.next(16), raw: true}
	} else {
		id = recordKey{b: d.bytes()}
	}
	traceID = id
	if enc[0]&encTraceIsID == 0 {
		traceID = recordKey{b: d.bytes()}
	}
	return id, traceID
}

// decodeRecord returns the record enc encodes. Its strings share one
// copy of enc, so the record does not alias the history's memory.
func decodeRecord(enc []byte) (Record, error) {
	d := decoder{b: enc, s: string(enc)}
	flags := d.byte()
	var r Record
	if flags&encRawID != 0 {
		r.Packed.Has |= PackedID
		r.ID = spellHexID(&r.Packed.ID, d.next(16))
	} else {
		r.ID = d.string()
	}
	r.TraceID = r.ID
	if flags&encTraceIsID == 0 {
		r.TraceID = d.string()
	}
	if flags&encTimeSet != 0 {
		r.Time = time.Unix(0, d.varint())
	}
	if flags&encCreationSet != 0 {
		if flags&encTimeSet != 0 {
			r.RequestCreation = time.Unix(0, r.Time.UnixNano()-d.varint())
		} else {
			r.RequestCreation = time.Unix(0, d.varint())
		}
	}
	r.Forwarded = flags&encForwarded != 0
	r.RequestProcessing = time.Duration(d.varint())
	r.TargetProcessing = time.Duration(d.varint())
	r.ResponseProcessing = time.Duration(d.varint())
	r.ELBStatus = int(d.varint())
	r.TargetStatus = int(d.varint())
	r.ReceivedBytes = d.varint()
	r.SentBytes = d.varint()
	r.RulePriority = int(d.varint())
	r.Error = failure.ErrorType(d.varint())
	for _, f := range historyStrings(&r) {
		switch {
		case f.p == &r.ConnID && flags&encRawConn != 0:
			r.Packed.Has |= PackedConn
			r.ConnID = spellConnID(&r.Packed.Conn, d.next(16))
		case f.p == &r.AmznTraceID && flags&encRawTrace != 0:
			r.Packed.Has |= PackedTrace
			r.AmznTraceID = spellTraceRoot(&r.Packed.Trace, d.next(16))
		default:
			*f.p = d.string()
		}
	}
	if n := d.uvarint(); n > 0 && n <= MaxHistoryAttempts {
		r.Attempts = make([]Attempt, n)
		for i := range r.Attempts {
			a := &r.Attempts[i]
			switch d.byte() {
			case attemptSameTarget:
				a.Target = r.Target
			case 0:
				a.Target = d.string()
			default:
				d.err = errHistoryCorrupt
			}
			a.Status = int(d.varint())
			if err := a.Class.UnmarshalBinary(d.next(failure.ClassBinaryLen)); err != nil {
				d.err = err
			}
			a.Detail = d.string()
			a.Duration = time.Duration(d.varint())
			a.Evidence = d.string()
		}
	} else if n > MaxHistoryAttempts {
		d.err = errHistoryCorrupt
	}
	if d.err == nil && d.pos != len(d.b) {
		d.err = errHistoryCorrupt
	}
	return r, d.err
}

// decoder reads an encoded record; the first error sticks and every
// read after it returns zero values.
type decoder struct {
	b   []byte
	s   string // b as a string, for string fields; "" when only bytes are read
	pos int
	err error
}

func (d *decoder) next(n int) []byte {
	if d.err != nil || n < 0 || n > len(d.b)-d.pos {
		d.err = errHistoryCorrupt
		return nil
	}
	p := d.b[d.pos : d.pos+n]
	d.pos += n
	return p
}

func (d *decoder) byte() byte {
	if p := d.next(1); p != nil {
		return p[0]
	}
	return 0
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.pos:])
	if n <= 0 {
		d.err = errHistoryCorrupt
		return 0
	}
	d.pos += n
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.pos:])
	if n <= 0 {
		d.err = errHistoryCorrupt
		return 0
	}
	d.pos += n
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.err = errHistoryCorrupt
		return nil
	}
	return d.next(int(n))
}

func (d *decoder) string() string {
	start := d.pos
	p := d.bytes()
	if len(p) == 0 {
		return ""
	}
	off := start + (d.pos - start - len(p))
	return d.s[off : off+len(p)]
}
