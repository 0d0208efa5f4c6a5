//lint:file-ignore SA1019 golang.org/x/net/http2 is marked deprecated for net/http's bundled copy, whose stream and GOAWAY error types are unexported: classifying stream failures by type needs x/net's.

package failure

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// TestClassifyH2: every way an HTTP/2 stream ends badly has its RFC 9209
// type, catalogue cause and retry rule.
func TestClassifyH2(t *testing.T) {
	rst := func(c http2.ErrCode) error { return http2.StreamError{StreamID: 3, Code: c} }
	cases := []struct {
		name      string
		phase     Phase
		err       *H2Error
		typ       ErrorType
		cause     string
		post, get bool // retryable for a POST, for a GET
		evidence  string
	}{
		{"refused stream", PhaseAwaitHeaders, &H2Error{StreamID: 3, Err: rst(http2.ErrCodeRefusedStream)},
			ConnectionTerminated, CauseH2RefusedStream, true, true, "stream 3: RST_STREAM REFUSED_STREAM"},
		{"above GOAWAY's last-stream-id", PhaseAwaitHeaders, &H2Error{StreamID: 5, GoAway: true, LastStreamID: 3, Err: errors.New("graceful shutdown")},
			ConnectionTerminated, CauseH2GoAwayUnprocessed, true, true, "GOAWAY last-stream-id=3 NO_ERROR: never processed"},
		{"GOAWAY covering the stream", PhaseAwaitHeaders, &H2Error{StreamID: 3, GoAway: true, LastStreamID: 3, Err: http2.GoAwayError{LastStreamID: 3}},
			ConnectionTerminated, CauseH2GoAway, false, true, "last-stream-id=3"},
		{"reset after the request was written", PhaseAwaitHeaders, &H2Error{StreamID: 3, Err: rst(http2.ErrCodeInternal)},
			ConnectionTerminated, CauseH2StreamReset, false, true, "RST_STREAM INTERNAL_ERROR"},
		{"protocol error", PhaseAwaitHeaders, &H2Error{StreamID: 3, Err: rst(http2.ErrCodeProtocol)},
			HTTPProtocolError, CauseH2ProtocolError, false, false, "PROTOCOL_ERROR"},
		{"connection error", PhaseAwaitHeaders, &H2Error{Err: http2.ConnectionError(http2.ErrCodeFrameSize)},
			HTTPProtocolError, CauseH2ProtocolError, false, false, "FRAME_SIZE_ERROR"},
		{"flow-control stall", PhaseAwaitHeaders, &H2Error{StreamID: 1, Err: &H2Stall{Waiting: StallWindow, Idle: time.Second}},
			HTTPResponseTimeout, CauseH2FlowControlStall, false, false, "waiting for the target's flow-control window"},
		{"response stall", PhaseAwaitHeaders, &H2Error{StreamID: 1, Err: &H2Stall{Waiting: StallHeaders, Idle: time.Second}},
			HTTPResponseTimeout, CauseTargetResponseTimeout, false, false, "response headers"},
		{"reset mid-body", PhaseBody, &H2Error{StreamID: 3, Err: rst(http2.ErrCodeCancel)},
			HTTPResponseIncomplete, CauseH2StreamReset, false, false, "RST_STREAM CANCEL"},
		{"socket deadline", PhaseAwaitHeaders, &H2Error{StreamID: 1, Err: os.ErrDeadlineExceeded},
			HTTPResponseTimeout, "", false, false, "stream 1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ae := &AttemptError{Phase: tc.phase, Target: "10.0.0.5:50051", Written: true, Err: tc.err}
			c := Classify(ae)
			if c.Type != tc.typ {
				t.Errorf("type %s, want %s", c.Type, tc.typ)
			}
			if got := H2Cause(ae); got != tc.cause {
				t.Errorf("cause %q, want %q", got, tc.cause)
			}
			if c.Retryable(false) != tc.post || c.Retryable(true) != tc.get {
				t.Errorf("retryable POST %v GET %v, want %v %v", c.Retryable(false), c.Retryable(true), tc.post, tc.get)
			}
			if !strings.Contains(ae.Error(), tc.evidence) {
				t.Errorf("detail %q lacks %q", ae.Error(), tc.evidence)
			}
		})
	}
	if h2Unprocessed(errors.New("plain")) || H2Cause(errors.New("plain")) != "" {
		t.Error("a non-HTTP/2 error is neither unprocessed nor an HTTP/2 cause")
	}
	for _, id := range []string{CauseH2RefusedStream, CauseH2GoAwayUnprocessed, CauseH2GoAway, CauseH2StreamReset, CauseH2ProtocolError, CauseH2FlowControlStall, CauseH2NotNegotiated} {
		if _, ok := LookupCause(id); !ok {
			t.Errorf("%s is not in the catalogue", id)
		}
	}
}
