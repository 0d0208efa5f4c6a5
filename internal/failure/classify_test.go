package failure

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Err: &os.SyscallError{Syscall: op, Err: err}}
}

func TestClassify(t *testing.T) {
	attempt := func(p Phase, reused, written bool, err error) error {
		return fmt.Errorf("attempt 1: %w", &AttemptError{Phase: p, Target: "10.0.0.5:8080", Reused: reused, Idle: time.Second, Written: written, Err: err})
	}
	tests := []struct {
		name   string
		err    error
		want   ErrorType
		status int
	}{
		{"no target", fmt.Errorf("group app: %w", ErrNoTarget), DestinationUnavailable, 503},
		{"dns not found", attempt(PhaseDNS, false, false, &net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}), DNSError, 502},
		{"dns timeout", attempt(PhaseDNS, false, false, &net.DNSError{Err: "i/o timeout", Name: "x", IsTimeout: true}), DNSTimeout, 504},
		{"refused", attempt(PhaseConnect, false, false, opErr("connect", syscall.ECONNREFUSED)), ConnectionRefused, 502},
		{"unreachable", attempt(PhaseConnect, false, false, opErr("connect", syscall.EHOSTUNREACH)), DestinationIPUnroutable, 502},
		{"connect timeout", attempt(PhaseConnect, false, false, &net.OpError{Op: "dial", Err: os.ErrDeadlineExceeded}), ConnectionTimeout, 504},
		{"tls alert", attempt(PhaseTLS, false, false, tls.AlertError(40)), TLSProtocolError, 502},
		{"tls eof", attempt(PhaseTLS, false, false, io.EOF), TLSProtocolError, 502},
		{"tls bad cert", attempt(PhaseTLS, false, false, &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), TLSCertificateError, 502},
		{"tls timeout", attempt(PhaseTLS, false, false, os.ErrDeadlineExceeded), ConnectionTimeout, 504},
		{"write reset", attempt(PhaseWrite, true, true, opErr("write", syscall.EPIPE)), ConnectionTerminated, 502},
		{"eof before headers", attempt(PhaseAwaitHeaders, true, true, io.EOF), ConnectionTerminated, 502},
		{"reset before headers", attempt(PhaseAwaitHeaders, false, true, opErr("read", syscall.ECONNRESET)), ConnectionTerminated, 502},
		{"header too large", attempt(PhaseAwaitHeaders, false, true, ErrHeaderTooLarge), HTTPResponseHeaderSectionSize, 502},
		{"response timeout", attempt(PhaseAwaitHeaders, false, true, &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}), HTTPResponseTimeout, 504},
		{"malformed", attempt(PhaseAwaitHeaders, false, true, errors.New("malformed HTTP status code")), HTTPProtocolError, 502},
		{"deregistered", attempt(PhaseAwaitHeaders, false, true, ErrDeregistered), ConnectionTerminated, 502},
		{"body cut", attempt(PhaseBody, false, true, io.ErrUnexpectedEOF), HTTPResponseIncomplete, 0},
		{"client gone", attempt(PhaseAwaitHeaders, false, true, context.Canceled), ClientClosed, 460},
		{"unknown", errors.New("boom"), ProxyInternalError, 500},
		{"queue full", fmt.Errorf("queue: %w", ErrConnectionLimit), ConnectionLimitReached, 503},
		{"client body", fmt.Errorf("read: %w", &ClientError{Err: io.ErrUnexpectedEOF}), HTTPRequestError, 400},
		{"client closed", &ClientError{Closed: true, Err: errors.New("write: broken pipe")}, ClientClosed, 460},
		{"client error wins over attempt", &AttemptError{Phase: PhaseWrite, Err: &ClientError{Err: io.EOF}}, HTTPRequestError, 400},
		{"cancelled outside an attempt", fmt.Errorf("queued: %w", context.Canceled), ClientClosed, 460},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Classify(tc.err)
			if c.Type != tc.want || c.Status() != tc.status {
				t.Errorf("Classify = %v (%d), want %v (%d)", c.Type, c.Status(), tc.want, tc.status)
			}
		})
	}
}

func TestClassifyKeepsConnectionFacts(t *testing.T) {
	err := &AttemptError{Phase: PhaseAwaitHeaders, Reused: true, Idle: 3 * time.Second, Written: true, Err: io.EOF}
	want := Class{Type: ConnectionTerminated, Phase: PhaseAwaitHeaders, Reused: true, Idle: 3 * time.Second, Written: true}
	if diff := cmp.Diff(want, Classify(err)); diff != "" {
		t.Errorf("Classify mismatch (-want +got):\n%s", diff)
	}
}

func TestRetryable(t *testing.T) {
	tests := []struct {
		name       string
		c          Class
		idempotent bool
		want       bool
	}{
		{"refused post", Class{Type: ConnectionRefused, Phase: PhaseConnect}, false, true},
		{"connect timeout post", Class{Type: ConnectionTimeout, Phase: PhaseConnect}, false, true},
		{"tls post", Class{Type: TLSProtocolError, Phase: PhaseTLS}, false, true},
		{"dns post", Class{Type: DNSError, Phase: PhaseDNS}, false, true},
		{"pooled closed before write, post", Class{Type: ConnectionTerminated, Phase: PhaseWrite, Reused: true}, false, true},
		{"keep-alive race get", Class{Type: ConnectionTerminated, Phase: PhaseAwaitHeaders, Reused: true, Written: true}, true, true},
		{"keep-alive race post", Class{Type: ConnectionTerminated, Phase: PhaseAwaitHeaders, Reused: true, Written: true}, false, false},
		{"response timeout get", Class{Type: HTTPResponseTimeout, Phase: PhaseAwaitHeaders, Written: true}, true, false},
		{"malformed get", Class{Type: HTTPProtocolError, Phase: PhaseAwaitHeaders, Written: true}, true, false},
		{"body cut get", Class{Type: HTTPResponseIncomplete, Phase: PhaseBody, Written: true}, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.c.Retryable(tc.idempotent); got != tc.want {
				t.Errorf("Retryable(%v) = %v, want %v", tc.idempotent, got, tc.want)
			}
		})
	}
}

func TestErrorTypeNamesRoundTrip(t *testing.T) {
	for ty := DestinationUnavailable; ty <= ClientClosed; ty++ {
		got, ok := ParseErrorType(ty.String())
		if !ok || got != ty {
			t.Errorf("ParseErrorType(%q) = %v, %v", ty.String(), got, ok)
		}
	}
	if _, ok := ParseErrorType("-"); ok {
		t.Error(`ParseErrorType("-") should not name a type`)
	}
}

func TestErrorTypeNamesAndReasons(t *testing.T) {
	tests := []struct {
		ty           ErrorType
		name, reason string
	}{
		{None, "-", "-"},
		{ConnectionRefused, "connection_refused", "connection_refused"},
		{ClientClosed, "client_closed", "-"},
		{numTypes, "-", "-"},
	}
	for _, tc := range tests {
		if got := tc.ty.String(); got != tc.name {
			t.Errorf("%d.String() = %q, want %q", tc.ty, got, tc.name)
		}
		if got := tc.ty.Reason(); got != tc.reason {
			t.Errorf("%d.Reason() = %q, want %q", tc.ty, got, tc.reason)
		}
	}
}

func TestErrorTypeTimeout(t *testing.T) {
	want := map[ErrorType]bool{DNSTimeout: true, ConnectionTimeout: true, HTTPResponseTimeout: true}
	for ty := None; ty < numTypes; ty++ {
		if got := ty.Timeout(); got != want[ty] {
			t.Errorf("%v.Timeout() = %v, want %v", ty, got, want[ty])
		}
	}
}

func TestClassRules(t *testing.T) {
	tests := []struct {
		name                  string
		c                     Class
		beforeRequest, target bool
	}{
		{"success", Class{}, false, false},
		{"dns", Class{Type: DNSError, Phase: PhaseDNS}, true, true},
		{"refused", Class{Type: ConnectionRefused, Phase: PhaseConnect}, true, true},
		{"tls", Class{Type: TLSCertificateError, Phase: PhaseTLS}, true, true},
		{"write", Class{Type: ConnectionTerminated, Phase: PhaseWrite, Reused: true}, false, true},
		{"timeout", Class{Type: HTTPResponseTimeout, Phase: PhaseAwaitHeaders, Written: true}, false, true},
		{"body", Class{Type: HTTPResponseIncomplete, Phase: PhaseBody, Written: true}, false, true},
		{"client closed", Class{Type: ClientClosed, Phase: PhaseConnect}, true, false},
		{"no target", Class{Type: DestinationUnavailable}, false, false},
		{"queue", Class{Type: ConnectionLimitReached}, false, false},
		{"bad request", Class{Type: HTTPRequestError}, false, false},
		{"internal", Class{Type: ProxyInternalError}, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.c.BeforeRequest(); got != tc.beforeRequest {
				t.Errorf("BeforeRequest() = %v, want %v", got, tc.beforeRequest)
			}
			if got := tc.c.TargetFault(); got != tc.target {
				t.Errorf("TargetFault() = %v, want %v", got, tc.target)
			}
		})
	}
}

func BenchmarkClassify(b *testing.B) {
	err := error(&AttemptError{Phase: PhaseConnect, Err: opErr("connect", syscall.ECONNREFUSED)})
	b.ReportAllocs()
	for b.Loop() {
		if Classify(err).Type != ConnectionRefused {
			b.Fatal("wrong class")
		}
	}
}
