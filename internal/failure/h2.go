//lint:file-ignore SA1019 golang.org/x/net/http2 is marked deprecated for net/http's bundled copy, whose stream and GOAWAY error types are unexported: classifying stream failures by type needs x/net's.

package failure

import (
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"time"

	"golang.org/x/net/http2"
)

// H2Error is how one HTTP/2 stream to a target ended badly, as the
// target-side transport saw it: the stream, the GOAWAY its connection
// received if any, and the underlying error (an http2.StreamError for
// RST_STREAM, an http2.GoAwayError, an http2.ConnectionError, a
// *H2Stall, or a socket error). Its text carries the evidence: error
// code, stream id and last-stream-id (RFC 9113 §6.4, §6.8).
type H2Error struct {
	// StreamID is the stream's id, 0 when it is not known (the request
	// never got a stream).
	StreamID uint32
	// GoAway is true when the connection had received a GOAWAY frame;
	// LastStreamID and GoAwayCode are its fields.
	GoAway       bool
	LastStreamID uint32
	GoAwayCode   http2.ErrCode
	// Err is the underlying error.
	Err error
}

// Error describes the stream's end with its evidence, for example
// "stream 3: RST_STREAM REFUSED_STREAM [h2-refused-stream]" or
// "stream 5: ...; GOAWAY last-stream-id=3 NO_ERROR: never processed, safe
// to retry [h2-goaway-unprocessed]".
func (e *H2Error) Error() string {
	var b strings.Builder
	if e.StreamID != 0 {
		fmt.Fprintf(&b, "stream %d: ", e.StreamID)
	}
	var se http2.StreamError
	if errors.As(e.Err, &se) {
		fmt.Fprintf(&b, "RST_STREAM %s", se.Code)
		if se.Cause != nil {
			fmt.Fprintf(&b, " (%v)", se.Cause)
		}
	} else {
		b.WriteString(e.Err.Error())
	}
	if e.GoAway {
		fmt.Fprintf(&b, "; GOAWAY last-stream-id=%d %s", e.LastStreamID, e.GoAwayCode)
	}
	if e.Unprocessed() {
		b.WriteString(": never processed, safe to retry")
	}
	if id := H2Cause(e); id != "" {
		b.WriteString(" [" + id + "]")
	}
	return b.String()
}

// Unwrap returns Err.
func (e *H2Error) Unwrap() error { return e.Err }

// Unprocessed reports whether the target said it never processed the
// request, so any method may be retried: the stream was reset with
// REFUSED_STREAM (RFC 9113 §8.7), or its id is above the last-stream-id
// of a GOAWAY (RFC 9113 §6.8).
func (e *H2Error) Unprocessed() bool {
	var se http2.StreamError
	if errors.As(e.Err, &se) && se.Code == http2.ErrCodeRefusedStream {
		return true
	}
	return e.GoAway && e.StreamID != 0 && e.StreamID > e.LastStreamID
}

// H2Stall is a stream that made no progress for the idle timeout: the
// target neither answered nor, while the request body was still being
// sent, opened its flow-control window (RFC 9113 §5.2).
type H2Stall struct {
	// Waiting says what the stream waited for: "response headers",
	// "flow-control window" (the request body could not be sent) or
	// "response body".
	Waiting string
	// Idle is the idle timeout that ran out.
	Idle time.Duration
}

// Error describes the stall.
func (e *H2Stall) Error() string {
	return "no progress for " + e.Idle.String() + " waiting for the target's " + e.Waiting
}

// Timeout is true: a stall is a timeout.
func (e *H2Stall) Timeout() bool { return true }

// FlowControl reports whether the stall was the target's flow-control
// window staying closed.
func (e *H2Stall) FlowControl() bool { return e.Waiting == StallWindow }

// The values of H2Stall.Waiting.
const (
	StallHeaders = "response headers"
	StallWindow  = "flow-control window"
	StallBody    = "response body"
)

// classifyH2 classifies an HTTP/2 failure; ok is false when err is not
// one. RST_STREAM and GOAWAY before the response header are
// connection_terminated (the stream ended with nothing to forward, ALB's
// 502), a protocol or framing error code is http_protocol_error, a stall
// is http_response_timeout (504) and anything after the header is
// http_response_incomplete.
func classifyH2(p Phase, err error) (t ErrorType, ok bool) {
	var he *H2Error
	if !errors.As(err, &he) {
		return None, false
	}
	var (
		se    http2.StreamError
		ce    http2.ConnectionError
		stall *H2Stall
		code  http2.ErrCode
		coded bool
	)
	switch {
	case errors.As(err, &stall):
		if p == PhaseBody {
			return HTTPResponseIncomplete, true
		}
		return HTTPResponseTimeout, true
	case errors.As(err, &se):
		code, coded = se.Code, true
	case errors.As(err, &ce):
		code, coded = http2.ErrCode(ce), true
	}
	if p == PhaseBody {
		return HTTPResponseIncomplete, true
	}
	if coded && protocolCode(code) || errors.Is(err, http2.ErrFrameTooLarge) {
		return HTTPProtocolError, true
	}
	if isTimeout(err) {
		return HTTPResponseTimeout, true
	}
	return ConnectionTerminated, true
}

// protocolCode reports whether an HTTP/2 error code says a peer broke the
// protocol (RFC 9113 §7) rather than ended the stream on purpose.
func protocolCode(c http2.ErrCode) bool {
	switch c {
	case http2.ErrCodeProtocol, http2.ErrCodeFlowControl, http2.ErrCodeFrameSize,
		http2.ErrCodeCompression, http2.ErrCodeStreamClosed, http2.ErrCodeSettingsTimeout,
		http2.ErrCodeHTTP11Required:
		return true
	}
	return false
}

// h2Unprocessed reports whether err is an HTTP/2 stream failure the
// target never processed (H2Error.Unprocessed).
func h2Unprocessed(err error) bool {
	var he *H2Error
	return errors.As(err, &he) && he.Unprocessed()
}

// H2Cause returns the catalogue cause of an HTTP/2 stream failure
// (catalogue_h2.go), or "" when err is not one.
func H2Cause(err error) string {
	var he *H2Error
	if !errors.As(err, &he) {
		return ""
	}
	var (
		se    http2.StreamError
		ce    http2.ConnectionError
		ge    http2.GoAwayError
		stall *H2Stall
	)
	switch {
	case errors.As(err, &stall):
		if stall.FlowControl() {
			return CauseH2FlowControlStall
		}
		return CauseTargetResponseTimeout
	case errors.As(err, &se) && se.Code == http2.ErrCodeRefusedStream:
		return CauseH2RefusedStream
	case errors.As(err, &se) && protocolCode(se.Code), errors.As(err, &ce), errors.Is(err, http2.ErrFrameTooLarge):
		return CauseH2ProtocolError
	case errors.As(err, &se):
		return CauseH2StreamReset
	case he.GoAway && he.Unprocessed():
		return CauseH2GoAwayUnprocessed
	case he.GoAway, errors.As(err, &ge):
		return CauseH2GoAway
	}
	return ""
}

// alertNoApplicationProtocol is TLS alert 120, no_application_protocol
// (RFC 7301 §3.2): the server supports none of the client's ALPN
// protocols.
const alertNoApplicationProtocol = 120

// NoApplicationProtocol reports whether err is the TLS alert
// no_application_protocol received from the peer: a TLS target asked for
// h2 with ALPN that does not offer it. crypto/tls reports a received
// alert as a *net.OpError with Op "remote error" over its unexported
// alert type, a uint8, which is read by kind rather than by its text.
func NoApplicationProtocol(err error) bool {
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "remote error" || oe.Err == nil {
		return false
	}
	v := reflect.ValueOf(oe.Err)
	return v.Kind() == reflect.Uint8 && v.Uint() == alertNoApplicationProtocol
}
