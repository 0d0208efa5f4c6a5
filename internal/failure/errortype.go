// Package failure is Fulcrum's single taxonomy of backend failures.
//
// Every failed attempt is classified once, from the error's type (never its
// text), into an RFC 9209 Proxy-Status error type plus the phase it failed
// in, whether the connection was reused and for how long it had been idle,
// and whether any request bytes were written. The proxy answers with the
// class's status, and the access log, metrics, admin API, doctor and log
// analyzer all report the same class.
package failure

// ErrorType is an RFC 9209 §2.3 Proxy-Status error type.
type ErrorType uint8

// The error types Fulcrum produces. Names follow RFC 9209 §2.3.
const (
	// None means the attempt did not fail.
	None ErrorType = iota
	// DestinationUnavailable: no target is registered (ALB 503).
	DestinationUnavailable
	// DNSError: the target's host name did not resolve.
	DNSError
	// DNSTimeout: resolving the target's host name timed out.
	DNSTimeout
	// ConnectionRefused: the target answered the connect with RST.
	ConnectionRefused
	// DestinationIPUnroutable: no route to the target (ICMP unreachable).
	DestinationIPUnroutable
	// ConnectionTimeout: connect (or the TLS handshake) did not finish within
	// connect_timeout.
	ConnectionTimeout
	// TLSProtocolError: the TLS handshake with the target failed.
	TLSProtocolError
	// TLSCertificateError: the target's certificate did not verify.
	TLSCertificateError
	// ConnectionTerminated: the target closed or reset the connection
	// before a complete response header.
	ConnectionTerminated
	// HTTPProtocolError: the target's response header was malformed.
	HTTPProtocolError
	// HTTPResponseHeaderSectionSize: the response header exceeded 32 KiB.
	HTTPResponseHeaderSectionSize
	// HTTPResponseTimeout: no response bytes within the idle timeout.
	HTTPResponseTimeout
	// HTTPResponseIncomplete: the response body was cut short.
	HTTPResponseIncomplete
	// ConnectionLimitReached: every routable target was at its
	// max_connections and the group's queue was full or timed out (HAProxy
	// maxconn/queue, CLB surge queue spillover).
	ConnectionLimitReached
	// HTTPRequestError: the client's request was malformed.
	HTTPRequestError
	// ProxyInternalError: Fulcrum itself failed.
	ProxyInternalError
	// ClientClosed is not an RFC 9209 type: the client went away before the
	// response (ALB's 460). Its name is client_closed; the access log's
	// error_reason field shows "-" for it (see Reason), as ALB logs a 460.
	ClientClosed
	// HTTPRequestDenied: Fulcrum refused to forward the client's request
	// by its configuration or policy (RFC 9209 §2.3.13): the desync
	// mitigation mode, or a listener limit. Its status is 400 unless the
	// *ClientError names another (413, 414, 431, 463).
	HTTPRequestDenied
	numTypes
)

// NumTypes is the number of ErrorType values, None included, for arrays
// indexed by error type.
const NumTypes = int(numTypes)

var typeNames = [numTypes]string{
	None:                          "-",
	DestinationUnavailable:        "destination_unavailable",
	DNSError:                      "dns_error",
	DNSTimeout:                    "dns_timeout",
	ConnectionRefused:             "connection_refused",
	DestinationIPUnroutable:       "destination_ip_unroutable",
	ConnectionTimeout:             "connection_timeout",
	TLSProtocolError:              "tls_protocol_error",
	TLSCertificateError:           "tls_certificate_error",
	ConnectionTerminated:          "connection_terminated",
	HTTPProtocolError:             "http_protocol_error",
	HTTPResponseHeaderSectionSize: "http_response_header_section_size",
	HTTPResponseTimeout:           "http_response_timeout",
	HTTPResponseIncomplete:        "http_response_incomplete",
	ConnectionLimitReached:        "connection_limit_reached",
	HTTPRequestError:              "http_request_error",
	ProxyInternalError:            "proxy_internal_error",
	ClientClosed:                  "client_closed",
	HTTPRequestDenied:             "http_request_denied",
}

// typeStatus is the status Fulcrum answers with when the last attempt failed
// this way, following ALB's HTTP error codes (460, 502, 503, 504; "Troubleshoot
// your Application Load Balancers",
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-troubleshooting.html).
// 0 means no answer can be sent (headers already went out).
var typeStatus = [numTypes]int{
	DestinationUnavailable:        503,
	DNSError:                      502,
	DNSTimeout:                    504,
	ConnectionRefused:             502,
	DestinationIPUnroutable:       502,
	ConnectionTimeout:             504,
	TLSProtocolError:              502,
	TLSCertificateError:           502,
	ConnectionTerminated:          502,
	HTTPProtocolError:             502,
	HTTPResponseHeaderSectionSize: 502,
	HTTPResponseTimeout:           504,
	ConnectionLimitReached:        503,
	HTTPRequestError:              400,
	ProxyInternalError:            500,
	ClientClosed:                  460,
	HTTPRequestDenied:             400,
}

// String returns the RFC 9209 name (RFC 9209 §2.3), "client_closed" for
// ClientClosed, or "-" for None and out-of-range values.
func (t ErrorType) String() string {
	if t >= numTypes {
		return "-"
	}
	return typeNames[t]
}

// Reason returns the access log's error_reason value for t: its String,
// except "-" for None and ClientClosed, which ALB logs with status 460 and
// no reason.
func (t ErrorType) Reason() string {
	if t == ClientClosed {
		return "-"
	}
	return t.String()
}

// Timeout reports whether t is a timeout: dns_timeout, connection_timeout
// (connect or TLS handshake) or http_response_timeout. Health check reason
// codes, HAProxy-style check status and doctor findings all use this set.
func (t ErrorType) Timeout() bool {
	switch t {
	case DNSTimeout, ConnectionTimeout, HTTPResponseTimeout:
		return true
	}
	return false
}

// Status returns the HTTP status Fulcrum answers with for t, or 0 when no
// answer is possible (http_response_incomplete) or t is None.
func (t ErrorType) Status() int {
	if t >= numTypes {
		return 0
	}
	return typeStatus[t]
}

// ParseErrorType returns the ErrorType whose String is name, for log
// readers; "-" names no type (false).
func ParseErrorType(name string) (ErrorType, bool) {
	for i, n := range typeNames {
		if n == name && n != "-" {
			return ErrorType(i), true
		}
	}
	return None, false
}

// Phase is where in an attempt a failure happened.
type Phase uint8

// The phases of one attempt, in order.
const (
	PhaseNone Phase = iota
	PhaseDNS
	PhaseConnect
	PhaseTLS
	PhaseWrite
	PhaseAwaitHeaders
	PhaseBody
)

var phaseNames = [...]string{"-", "dns", "connect", "tls", "write", "await_headers", "body"}

// String returns the phase's name: dns, connect, tls, write, await_headers
// or body.
func (p Phase) String() string {
	if int(p) >= len(phaseNames) {
		return "-"
	}
	return phaseNames[p]
}
