package http1

import "strconv"

// Kind names why a request head was refused. Each maps to one answer status.
type Kind uint8

const (
	KindMalformed      Kind = iota + 1 // 400: RFC 9112 syntax or framing violated
	KindHeaderTooLarge                 // 431: Limits.MaxHeaderBytes or MaxHeaders
	KindURITooLong                     // 414: Limits.MaxURIBytes
	KindBodyTooLarge                   // 413: Content-Length over the caller's limit
	KindUnsupportedTE                  // 501: a transfer coding Fulcrum does not decode
	KindVersion                        // 505: an HTTP major version other than 1
)

// Error is a refused request. Field names the part at fault ("request
// line", "Content-Length", "Host", a header name...). Errors are compared by
// Kind with errors.As, never by text.
type Error struct {
	Kind  Kind
	Field string
}

func (e *Error) Error() string {
	return "http1: " + e.Field + ": " + kindText[e.Kind] + " (" + strconv.Itoa(e.Status()) + ")"
}

// Status returns the answer status for the error: 400, 413, 414, 431, 501 or 505.
func (e *Error) Status() int {
	switch e.Kind {
	case KindHeaderTooLarge:
		return 431
	case KindURITooLong:
		return 414
	case KindBodyTooLarge:
		return 413
	case KindUnsupportedTE:
		return 501
	case KindVersion:
		return 505
	}
	return 400
}

var kindText = [...]string{"", "malformed", "header too large", "URI too long", "body too large", "unsupported transfer coding", "unsupported version"}

// errIncomplete is returned (as ErrIncomplete) while the head is not yet
// complete in the buffer: read more and call Parse again.
type incompleteError struct{}

func (incompleteError) Error() string { return "http1: incomplete request head" }

// ErrIncomplete means the buffer holds no complete request head yet.
var ErrIncomplete error = incompleteError{}

// Preallocated errors, so that refusing a request does not allocate. Read only.
var (
	errLine      = &Error{KindMalformed, "request line"}
	errMethod    = &Error{KindMalformed, "method"}
	errTarget    = &Error{KindMalformed, "request target"}
	errVersion   = &Error{KindMalformed, "version"}
	errVersion5  = &Error{KindVersion, "version"}
	errField     = &Error{KindMalformed, "header field"}
	errFold      = &Error{KindMalformed, "obs-fold"}
	errCL        = &Error{KindMalformed, "Content-Length"}
	errTE        = &Error{KindMalformed, "Transfer-Encoding"}
	errTE501     = &Error{KindUnsupportedTE, "Transfer-Encoding"}
	errHost      = &Error{KindMalformed, "Host"}
	errTooMany   = &Error{KindHeaderTooLarge, "header count"}
	errTooLarge  = &Error{KindHeaderTooLarge, "header size"}
	errURITooBig = &Error{KindURITooLong, "request target"}
)
