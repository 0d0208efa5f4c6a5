// Package accesslog records one line per request, in ALB's access log
// format (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-access-logs.html) or as JSON with each attempt's failure class.
// A request fills a record slot and hands it to one writer goroutine,
// which encodes it without allocation and writes lines in batches; a full
// queue drops lines and counts them, so logging never blocks the request
// path and encoding costs it nothing.
package accesslog

import (
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/fulcrumlb/fulcrum/internal/failure"
)

// Attempt is one try of a request against a target.
type Attempt struct {
	// Target is the target's host:port.
	Target string
	// Status is the target's status code, 0 when the attempt failed.
	Status int
	// Class is the failure class; Class.Type is None on success.
	Class failure.Class
	// Detail is the failure's text, for humans.
	Detail string
	// Duration is the attempt's time up to the response header or failure.
	Duration time.Duration
	// Evidence is what the attempt showed about the target beyond its
	// status, for the request's story: for example bytes it sent after the
	// response ended. Empty when there is nothing to say.
	Evidence string
}

// Record is one request as ALB logs it. Durations below zero are logged as
// -1 ("not applicable"), empty strings as "-".
type Record struct {
	// Type is http, https, h2, ws or wss.
	Type string
	// Time is when the response was generated: for a target's response,
	// when its header went to the client; for Fulcrum's own answers,
	// when the answer was done; for WebSockets, the close.
	Time time.Time
	// Listener is the listener's name (ALB's elb field).
	Listener string
	// Client is the client's ip:port.
	Client string
	// Target is the last target tried, host:port, or "".
	Target string
	// RequestProcessing, TargetProcessing and ResponseProcessing are ALB's
	// three timings; negative means -1.
	RequestProcessing, TargetProcessing, ResponseProcessing time.Duration
	// ELBStatus is the status sent to the client.
	ELBStatus int
	// TargetStatus is the target's status, 0 when Fulcrum answered.
	TargetStatus int
	// ReceivedBytes and SentBytes count the client's request and the
	// response, headers included.
	ReceivedBytes, SentBytes int64
	// Method, URL and Proto make up the request field; URL is
	// scheme://host:port/uri.
	Method, URL, Proto string
	// UserAgent is the client's User-Agent.
	UserAgent string
	// SSLCipher and SSLProtocol describe an https listener's connection.
	SSLCipher, SSLProtocol string
	// TargetGroup is the target group's name.
	TargetGroup string
	// TraceID is the request id (X-Request-Id): the client's when it
	// sent one, else ID. The ALB line carries it as a trailing field
	// after ALB's last; its trace_id field is AmznTraceID.
	TraceID string
	// ID is Fulcrum's own id for the request, unique whatever the client
	// sends; the request history is keyed by it.
	ID string
	// DomainName is the TLS SNI name.
	DomainName string
	// RulePriority is the matched rule's priority; 0 for the default
	// action, -1 for "-" (no routing happened).
	RulePriority int
	// RequestCreation is when the request arrived.
	RequestCreation time.Time
	// Forwarded is true when the request was routed to a target group
	// (actions_executed "forward").
	Forwarded bool
	// Error is the error type of the final outcome, None on success.
	Error failure.ErrorType
	// ErrorDetail is the final failure's text, for humans.
	ErrorDetail string
	// Attempts lists every attempt, in order.
	Attempts []Attempt
	// ConnID identifies the client connection (ALB's conn_trace_id).
	ConnID string
	// Action is ALB's actions_executed when a rule or default action
	// answered without a target ("redirect", "fixed-response"); empty
	// means Forwarded decides.
	Action string
	// RedirectURL is a redirect action's Location (ALB's redirect_url).
	RedirectURL string
	// Sticky says how stickiness chose the target: "lb_cookie",
	// "app_cookie", or why a sticky target was left; empty when
	// stickiness played no part.
	Sticky string
	// AmznTraceID is the X-Amzn-Trace-Id sent to the target, the ALB
	// line's trace_id field (AWS, "Request tracing for your Application
	// Load Balancer").
	AmznTraceID string
	// Packed holds the bytes Fulcrum spelled ID, ConnID and AmznTraceID
	// from, for the request history to keep instead of the characters
	// (PackedIDs). Zero when none is set.
	Packed PackedIDs
	// Classification and ClassificationReason are the request's HTTP
	// desync verdict (ALB's classification and classification_reason,
	// fields 28 and 29): the tier ("Acceptable", "Ambiguous", "Severe")
	// and its reason ("BothTeClPresent", ...); empty for a Compliant
	// request, logged as "-".
	Classification, ClassificationReason string
	// GRPCStatus is the grpc-status a gRPC call ended with, from the
	// target or Fulcrum's own answer (proxy/grpcanswer.go); empty for
	// other requests.
	GRPCStatus string

	// keep is the memory Keep copies strings into, reused after Reset.
	keep []byte
}

// maxKeep is the most memory a record keeps for Keep across Reset; a
// request with longer strings than that gets a new block the next time.
const maxKeep = 16 << 10

// Keep returns a copy of s in the record's own memory, valid until Reset:
// a request's strings must outlive the request in its record (the writer
// encodes the line after the request has ended, and the client
// connection reuses the memory its head was read into), and a copy here
// costs no allocation once the record has carried a few requests. Bytes
// handed out are never written again before Reset: a copy that does not
// fit goes to a new block, and the strings in the old one keep it alive.
func (r *Record) Keep(s string) string {
	return r.KeepBytes(unsafe.Slice(unsafe.StringData(s), len(s)))
}

// KeepBytes is Keep for the bytes b; b itself is not kept.
func (r *Record) KeepBytes(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if cap(r.keep)-len(r.keep) < len(b) {
		r.keep = make([]byte, 0, max(2*cap(r.keep), len(b), 512))
	}
	off := len(r.keep)
	r.keep = append(r.keep, b...)
	return unsafe.String(&r.keep[off], len(b))
}

// Answered reports whether a rule's redirect or fixed_response produced
// the response: an ELB status that no target and no failure caused.
func (r *Record) Answered() bool {
	return r.Action == "redirect" || r.Action == "fixed-response"
}

// PackedIDs are the random bytes behind Fulcrum's own ids, set only by
// the code that spells the ids from them (proxy/reqid.go, proxy/trace.go),
// so that the request history keeps 16 bytes where the log writes 32 to
// 40 characters (historycodec.go). Each field counts only when its bit is
// in Has, and must then spell its string field exactly.
type PackedIDs struct {
	// ID: Record.ID is these bytes in lower-case hex.
	ID [16]byte
	// Conn: Record.ConnID is "TID_" and these bytes in lower-case hex.
	Conn [16]byte
	// Trace: Record.AmznTraceID is "Root=1-", the first 4 bytes (the
	// epoch second, big-endian) in hex, "-" and the other 12 in hex.
	Trace [16]byte
	// Has is PackedID, PackedConn and PackedTrace, or'ed.
	Has uint8
}

// The bits of PackedIDs.Has.
const (
	PackedID = 1 << iota
	PackedConn
	PackedTrace
)

// Reset clears r for reuse, keeping the Attempts capacity and the memory
// of Keep (up to maxKeep): the strings Keep returned are invalid from
// here on.
func (r *Record) Reset() {
	at, keep := r.Attempts[:0], r.keep[:0]
	if cap(keep) > maxKeep {
		keep = nil
	}
	*r = Record{Attempts: at, keep: keep}
}

// MaxLogUserAgent is the longest User-Agent an access log line carries:
// ALB truncates user_agent "if the string is longer than 8 KB" (Elastic
// Load Balancing, "Access log entries").
const MaxLogUserAgent = 8 << 10

// logUserAgent is ua cut to MaxLogUserAgent bytes (no copy: the line is
// encoded at once).
func logUserAgent(ua string) string {
	if len(ua) <= MaxLogUserAgent {
		return ua
	}
	cut := MaxLogUserAgent
	for cut > 0 && !utf8.RuneStart(ua[cut]) {
		cut--
	}
	return ua[:cut]
}
