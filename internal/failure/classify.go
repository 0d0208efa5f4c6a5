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
	"time"
)

// Sentinel errors raised by the proxy's own transport. Classify recognises
// them by identity.
var (
	// ErrHeaderTooLarge: the response header section exceeded 32 KiB.
	ErrHeaderTooLarge = errors.New("response header section exceeds 32 KiB")
	// ErrNoTarget: the target group has no registered target
	// (destination_unavailable, 503). The proxy wraps it with the group's
	// name: "target group NAME has no registered target".
	ErrNoTarget = errors.New("no registered target")
	// ErrConnectionLimit: every routable target was at max_connections and
	// the group's queue was full or timed out (connection_limit_reached,
	// 503). The proxy's queue errors match it with errors.Is.
	ErrConnectionLimit = errors.New("every target is at max_connections")
	// ErrDeregistered: the deregistration delay expired with the request in
	// flight.
	ErrDeregistered = errors.New("deregistration delay expired")
)

// ClientError is a failure on the client's side of the proxy, never the
// target's: the client's request could not be read or was malformed
// (Closed false: http_request_error, 400), or the client went away before
// the response was complete (Closed true: ClientClosed, 460). Its text is
// Err's.
type ClientError struct {
	// Closed is true when the client closed the connection.
	Closed bool
	// Denied is true when the request was well-formed enough to read but
	// refused by configuration or policy (a desync mitigation mode, a
	// listener limit): http_request_denied rather than
	// http_request_error.
	Denied bool
	// Status is the answer's HTTP status when it is not the type's own
	// (400, or 408 for a stalled client): 413, 414, 431, 463, 501 or
	// 505. Zero means the type's.
	Status int
	// Err is the underlying error; its text is the log's detail.
	Err error
}

// Error returns Err's text.
func (e *ClientError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *ClientError) Unwrap() error { return e.Err }

// AttemptError is the error of one failed attempt to a target, as the
// transport saw it: where it failed and on which connection.
type AttemptError struct {
	// Phase is where the attempt failed.
	Phase Phase
	// Target is the target's host:port.
	Target string
	// Reused is true when the connection came from the idle pool.
	Reused bool
	// Idle is how long a reused connection had been idle.
	Idle time.Duration
	// Written is true once any request byte was handed to the connection.
	Written bool
	// Err is the underlying error.
	Err error
}

// Error describes the attempt: "<phase> <target>: <err>".
func (e *AttemptError) Error() string {
	return fmt.Sprintf("%s %s: %v", e.Phase, e.Target, e.Err)
}

// Unwrap returns the underlying error.
func (e *AttemptError) Unwrap() error { return e.Err }

// Class is the classification of one failed attempt.
type Class struct {
	// Type is the RFC 9209 error type.
	Type ErrorType
	// Phase is where the attempt failed.
	Phase Phase
	// Reused and Idle describe the connection: pooled or fresh, and how long
	// it had sat idle.
	Reused bool
	Idle   time.Duration
	// Written is true when request bytes may have reached the target.
	Written bool
	// ClientTimeout is true for an http_request_error where the client
	// sent no byte of its request for the listener's idle timeout: ALB
	// answers 408 rather than 400.
	ClientTimeout bool
	// RequestStatus is a client-side answer's status other than its
	// type's (ClientError.Status): 413, 414, 431, 463, 501 or 505; 0
	// otherwise.
	RequestStatus int
	// Unprocessed is true when the target said it never processed the
	// request (HTTP/2 REFUSED_STREAM, or a stream above a GOAWAY's
	// last-stream-id; h2.go): retryable for any method.
	Unprocessed bool
}

// Status returns the HTTP status for the class (see ErrorType.Status); a
// client that stalled (ClientTimeout) gets 408 Request Timeout.
func (c Class) Status() int {
	if c.ClientTimeout {
		return 408
	}
	if c.RequestStatus != 0 {
		return c.RequestStatus
	}
	return c.Type.Status()
}

// Response returns the class of an attempt that got a response header: no
// error type, on a connection that was reused (after idle) or fresh.
func Response(reused bool, idle time.Duration) Class {
	return Class{Reused: reused, Idle: idle}
}

// BeforeRequest reports whether the attempt failed before any request byte
// could reach the target: in the DNS, connect or TLS phase.
func (c Class) BeforeRequest() bool {
	return c.Phase != PhaseNone && c.Phase <= PhaseTLS
}

// TargetFault reports whether the failure counts against the target: false
// for a success (None), a client that went away (ClientClosed), and the
// load balancer's own answers (destination_unavailable,
// connection_limit_reached, http_request_error, proxy_internal_error).
// Target statistics, metrics of failed attempts and outlier detection
// count only these.
func (c Class) TargetFault() bool {
	switch c.Type {
	case None, ClientClosed, DestinationUnavailable, ConnectionLimitReached, HTTPRequestError, HTTPRequestDenied, ProxyInternalError:
		return false
	}
	return true
}

// Classify maps an attempt's error to its Class. It inspects types and
// sentinels only: *ClientError, syscall errnos, *net.DNSError, TLS and
// x509 error types, timeouts, io.EOF, and this package's sentinels. Errors
// that are neither a *ClientError nor an *AttemptError are
// destination_unavailable (ErrNoTarget), connection_limit_reached
// (ErrConnectionLimit), ClientClosed (context cancellation) or
// proxy_internal_error.
func Classify(err error) Class {
	if err == nil {
		return Class{}
	}
	var ce *ClientError
	if errors.As(err, &ce) {
		if ce.Closed {
			return Class{Type: ClientClosed}
		}
		t := HTTPRequestError
		if ce.Denied {
			t = HTTPRequestDenied
		}
		return Class{Type: t, ClientTimeout: errors.Is(ce.Err, os.ErrDeadlineExceeded), RequestStatus: ce.Status}
	}
	var ae *AttemptError
	if !errors.As(err, &ae) {
		switch {
		case errors.Is(err, ErrNoTarget):
			return Class{Type: DestinationUnavailable}
		case errors.Is(err, ErrConnectionLimit):
			return Class{Type: ConnectionLimitReached}
		case errors.Is(err, context.Canceled):
			return Class{Type: ClientClosed}
		}
		return Class{Type: ProxyInternalError}
	}
	c := Class{Phase: ae.Phase, Reused: ae.Reused, Idle: ae.Idle, Written: ae.Written}
	c.Type = classifyPhase(ae.Phase, ae.Err)
	c.Unprocessed = h2Unprocessed(ae.Err) && c.Type == ConnectionTerminated
	return c
}

func classifyPhase(p Phase, err error) ErrorType {
	if errors.Is(err, context.Canceled) {
		return ClientClosed
	}
	if t, ok := classifyH2(p, err); ok { // h2.go
		return t
	}
	switch p {
	case PhaseDNS:
		var de *net.DNSError
		if errors.As(err, &de) && de.IsTimeout || isTimeout(err) {
			return DNSTimeout
		}
		return DNSError
	case PhaseConnect:
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			return ConnectionRefused
		case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH),
			errors.Is(err, syscall.EHOSTDOWN), errors.Is(err, syscall.EADDRNOTAVAIL):
			return DestinationIPUnroutable
		case isTimeout(err):
			return ConnectionTimeout
		}
		return ConnectionRefused
	case PhaseTLS:
		switch {
		case isTimeout(err):
			return ConnectionTimeout
		case isCertError(err):
			return TLSCertificateError
		}
		return TLSProtocolError
	case PhaseWrite:
		return ConnectionTerminated
	case PhaseAwaitHeaders:
		switch {
		case errors.Is(err, ErrHeaderTooLarge):
			return HTTPResponseHeaderSectionSize
		case errors.Is(err, ErrDeregistered):
			return ConnectionTerminated
		case isTimeout(err):
			return HTTPResponseTimeout
		case isClosed(err):
			return ConnectionTerminated
		}
		return HTTPProtocolError
	case PhaseBody:
		return HTTPResponseIncomplete
	}
	return ProxyInternalError
}

func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// isClosed reports whether err means the peer closed or reset the
// connection.
func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, net.ErrClosed)
}

func isCertError(err error) bool {
	var (
		cve *tls.CertificateVerificationError
		uae x509.UnknownAuthorityError
		he  x509.HostnameError
		cie x509.CertificateInvalidError
	)
	return errors.As(err, &cve) || errors.As(err, &uae) || errors.As(err, &he) || errors.As(err, &cie)
}

// Retryable reports whether a request whose attempt failed with c may be
// tried again. idempotent is true for GET, HEAD, OPTIONS, TRACE, PUT, DELETE
// and requests carrying Idempotency-Key.
//
//   - Any method is retried when nothing could have reached the target: DNS,
//     connect and TLS failures, and a pooled connection that failed before
//     the request was written.
//   - Idempotent requests are also retried when the target closed or reset
//     the connection before any response byte (the keep-alive race).
//   - Nothing is retried after response bytes, or on a response timeout.
func (c Class) Retryable(idempotent bool) bool {
	if c.Unprocessed {
		return true // h2.go: the target refused the stream unprocessed
	}
	switch c.Type {
	case DNSError, DNSTimeout, ConnectionRefused, DestinationIPUnroutable,
		ConnectionTimeout, TLSProtocolError, TLSCertificateError:
		return c.BeforeRequest()
	case ConnectionTerminated:
		if c.Reused && !c.Written {
			return true
		}
		return idempotent && (c.Phase == PhaseWrite || c.Phase == PhaseAwaitHeaders)
	}
	return false
}

// Idempotent reports whether method is idempotent (RFC 9110 §9.2.2), or
// the request carries an idempotency key.
func Idempotent(method string, hasIdempotencyKey bool) bool {
	switch method {
	case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE":
		return true
	}
	return hasIdempotencyKey
}
