// Package logparse holds what every load-balancer log parser produces: one
// Entry per line, in a shape common to ALB, Classic ELB, HAProxy, nginx,
// Envoy and Fulcrum logs, with the cause the line's signature names. The
// parsers live in sub-packages, one per format (internal/logparse/alb,
// …); they are hand-written, allocation-light and fuzz-tested, and never
// fail on a line without saying why.
package logparse

import (
	"errors"
	"time"
)

// Kind tells a request line from an event line.
type Kind uint8

// The kinds of entries.
const (
	// Request is one proxied (or refused) request.
	Request Kind = iota
	// Event is a health-check, server-state or error-log line: evidence,
	// not a request.
	Event
)

// Entry is one parsed line. Zero values mean "not in this format".
type Entry struct {
	Kind Kind
	// Time is when the request was answered (or the event happened), UTC
	// when the format says so, local time otherwise.
	Time time.Time
	// Client is the client's ip:port.
	Client string
	// Target is the target's address (host:port) or server name; "" when
	// no target was involved.
	Target string
	// Group is the target group, backend or cluster.
	Group string
	// Method and URL come from the request line.
	Method, URL string
	// Status is the status code the client got; 0 when none was sent.
	Status int
	// TargetStatus is the target's status code; 0 when the target sent
	// none (ALB's "-").
	TargetStatus int
	// TargetTime is the target's share of the request (ALB
	// target_processing_time, HAProxy Tr, nginx upstream time); negative
	// when not applicable.
	TargetTime time.Duration
	// Cause is the catalogue id the line's signature names
	// (failure.Cause*), "" for a line that shows no failure.
	Cause string
	// Signature is the evidence that named the cause, e.g. `502 with
	// target status "-" and timings -1 -1 -1`.
	Signature string
	// LBError is true when the load balancer, not the target, produced a
	// 5xx.
	LBError bool
	// Excluded is true for lines that look like failures but are not
	// backend failures (an ALB fixed-response 503).
	Excluded bool
	// Classification and ClassificationReason are an ALB line's HTTP
	// desync verdict (fields 28 and 29: "Acceptable", "Ambiguous" or
	// "Severe", and a reason such as "UndefinedContentLengthSemantics");
	// "" for a compliant request or a format without them.
	Classification, ClassificationReason string
}

// ErrSkip is returned for lines that carry nothing to count (blank
// lines, comments, headers); they are not counted as unparsed.
var ErrSkip = errors.New("nothing to parse")

// Parser parses one line into e. It returns ErrSkip for lines to ignore,
// or an error naming what is wrong. It must not keep line.
type Parser func(line []byte, e *Entry) error
