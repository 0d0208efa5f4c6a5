package failure

// Cause is an entry of the findings catalogue shared by `fulcrum doctor`
// (live probes) and `fulcrum analyze` (logs): a stable id, what it means
// in one sentence, and what to do about it.
type Cause struct {
	// ID is stable: scripts and dashboards key on it.
	ID string
	// Side is "target" when the target (or the network to it) is at
	// fault, "lb" for the load balancer itself, "client" for the client.
	Side string
	// Summary says in plain words what happened.
	Summary string
	// Fix says what to do, with a command to run where one helps.
	Fix string
}

// Catalogue ids. The doctor ids name what a live probe can show;
// the log-only ones name what only a log can show.
const (
	CauseListenerUnreachable     = "listener-unreachable"
	CauseTargetNotListening      = "target-not-listening"
	CauseTargetPortFiltered      = "target-port-filtered"
	CauseTargetUnreachable       = "target-unreachable"
	CauseDNSResolutionFailed     = "dns-resolution-failed"
	CauseHealthCheckPortMismatch = "health-check-port-mismatch"
	CauseHealthCheckStatus       = "health-check-status-mismatch"
	CauseHealthCheckTimeout      = "health-check-timeout-too-short"
	CauseKeepaliveRace           = "keepalive-timeout-shorter-than-idle-timeout"
	CauseTLSHandshakeFailed      = "tls-handshake-failed"
	CauseTLSCertificateInvalid   = "tls-certificate-invalid"
	CauseInvalidResponse         = "invalid-response"
	CauseTargetOverloaded        = "target-overloaded"
	CauseTarget5xx               = "target-5xx"
	CauseNoHealthyTargets        = "no-healthy-targets"
	CauseAllTargetsFailAlike     = "all-targets-fail-alike"
	// Log-only causes.
	CauseTargetResponseTimeout = "target-response-timeout"
	CauseTargetClosed          = "target-closed-connection"
	CauseResponseIncomplete    = "response-incomplete"
	CauseClientClosed          = "client-closed"
	CauseDrainingTarget        = "draining-target-got-traffic"
	CauseLBError               = "lb-error-unclassified"
	CauseConnectionLimit       = "connection-limit-reached"
	// Causes doctor and status name from a target's behaviour or a
	// group's registrations.
	CauseTargetSlowerThanIdle = "target-slower-than-idle-timeout"
	CauseTargetHung           = "target-accepts-but-never-answers"
	CauseNoRegisteredTargets  = "no-registered-targets"
	CauseAllTargetsDraining   = "all-targets-draining"
	// Client-side causes of Fulcrum's own answers: the request never
	// reached a target (docs/edge.md, "Fulcrum's own answers").
	CauseMalformedRequest          = "malformed-request"
	CauseDesyncMitigationRefused   = "refused-by-desync-mitigation"
	CauseRequestHeaderTimeout      = "request-header-timeout"
	CauseRequestBodyTooLarge       = "request-body-too-large"
	CauseURITooLong                = "request-uri-too-long"
	CauseRequestHeaderTooLarge     = "request-header-too-large"
	CauseTooManyForwardedFor       = "too-many-x-forwarded-for"
	CauseUnsupportedTransferCoding = "unsupported-transfer-coding"
	CauseUnsupportedHTTPVersion    = "unsupported-http-version"
)

// Catalogue returns every cause, in the order reports list ties.
func Catalogue() []Cause {
	return append([]Cause{
		{CauseListenerUnreachable, "lb", "The load balancer's listener does not accept connections.",
			"Check that fulcrum serve runs and binds the address: ss -ltnp | grep :PORT"},
		{CauseTargetNotListening, "target", "The target refused the connection: its process is down or listens on another port.",
			"On the target: ss -ltnp | grep :PORT; start the service or fix the registered port."},
		{CauseTargetPortFiltered, "target", "Connecting to the target timed out: a firewall, security group or route drops the packets.",
			"Allow the load balancer to reach the target port: iptables -L -n | grep PORT; check security groups and NACLs (return traffic on 1024-65535 too)."},
		{CauseTargetUnreachable, "target", "The network reports the target unreachable (ICMP host or network unreachable, no route).",
			"Check routes and subnets between the load balancer and the target: ip route get TARGET_IP."},
		{CauseDNSResolutionFailed, "target", "The target's host name did not resolve.",
			"Check the name and the resolver: dig +short NAME; register the target by IP if DNS is not needed."},
		{CauseHealthCheckPortMismatch, "target", "Health checks pass on one port while traffic goes to another that fails.",
			"Point the health check at the traffic port (health_check.port: traffic-port) or fix the service on the traffic port."},
		{CauseHealthCheckStatus, "target", "The health check gets a status the matcher does not accept.",
			"curl -i http://TARGET/HEALTH_PATH on the target; fix the endpoint or health_check.matcher."},
		{CauseHealthCheckTimeout, "target", "The health check answers close to or beyond its timeout.",
			"Raise health_check.timeout or make the health endpoint cheaper."},
		{CauseKeepaliveRace, "target", "The target closed a kept-alive connection just as a request was sent on it: its keep-alive timeout is shorter than the load balancer's idle timeout.",
			"Make the target's keep-alive timeout longer than the load balancer's idle timeout (nginx keepalive_timeout, Node server.keepAliveTimeout, gunicorn --keep-alive)."},
		{CauseTLSHandshakeFailed, "target", "The TLS handshake with the target failed.",
			"openssl s_client -connect TARGET -servername NAME; check protocols, ciphers, SNI and client certificates."},
		{CauseTLSCertificateInvalid, "target", "The target's certificate did not verify (expired, self-signed, wrong name).",
			"openssl s_client -connect TARGET -servername NAME -showcerts; renew or fix the certificate, or set tls.ca_file."},
		{CauseInvalidResponse, "target", "The target sent a response the load balancer could not parse (bad status line or headers, headers too large).",
			"curl -v --raw http://TARGET/PATH on the target and fix the offending header."},
		{CauseTargetOverloaded, "target", "Errors rise with the request rate: the target runs out of capacity under load.",
			"Add targets or capacity, check the target's connection and worker limits, and set max_connections with a queue."},
		{CauseTarget5xx, "target", "The target itself answered 5xx.",
			"Read the target's application logs for the failing requests."},
		{CauseNoHealthyTargets, "lb", "No target could take the request: none registered, or none healthy.",
			"Check target health (fulcrum status) and registrations."},
		{CauseAllTargetsFailAlike, "target", "Every target fails the same way: one shared cause (security group, network, bad deploy) rather than many.",
			"Look for what all targets share: the security group or firewall, the subnet, the image or release."},
		{CauseTargetResponseTimeout, "target", "The target accepted the request but did not answer in time.",
			"Profile the slow endpoint on the target, or raise the idle timeout if long requests are expected."},
		{CauseTargetClosed, "target", "The target closed or reset the connection before a complete response.",
			"Check the target for crashes or restarts (journalctl, dmesg for OOM kills) and its keep-alive settings."},
		{CauseResponseIncomplete, "target", "The target's response body was cut short.",
			"Check the target for crashes mid-response and for a Content-Length larger than the body."},
		{CauseClientClosed, "client", "The client closed the connection before the response.",
			"Usually client timeouts; compare them with the target's response time."},
		{CauseDrainingTarget, "lb", "A draining or deregistered target still got traffic.",
			"Give in-flight requests time to finish (deregistration_delay) and stop new ones reaching the target."},
		{CauseConnectionLimit, "lb", "Every routable target was at its max_connections and the request's wait in the target group's queue ran out (queue full or queue_timeout).",
			"Add targets, raise targets[].max_connections if the targets can take it, or raise queue_size / queue_timeout."},
		{CauseTargetSlowerThanIdle, "target", "The target answers, but later than the listener's idle timeout: the load balancer gives up first and the client gets 504 (ALB: target processing time reaches the idle timeout).",
			"Make the endpoint faster, or raise listeners[].idle_timeout above its worst latency if long requests are expected."},
		{CauseTargetHung, "target", "The target accepts connections but never answers (HAProxy L7TOUT; ALB 504 with target processing time at the idle timeout): the process is frozen, deadlocked or out of workers.",
			"On the target, look at the process (top, a thread dump, kill -CONT if it was stopped) and its worker pool; restart it if it is wedged."},
		{CauseNoRegisteredTargets, "lb", "The target group has no registered targets: every request routed to it gets 503 (ALB HTTPCode_ELB_503).",
			"Register a target (targets: in the config, or fulcrum targets register) or route the listener elsewhere."},
		{CauseAllTargetsDraining, "lb", "Every target of the group is draining: no target takes new requests, which get 503.",
			"Register a new target before deregistering the last one, or cancel the drain."},
		{CauseMalformedRequest, "client", "The client sent a request that is not valid HTTP/1.1 (RFC 9112): a bad request line, header field, Host, Content-Length or chunked body. The load balancer answered 400 itself; no target saw it.",
			"Find the client from the log's client field and user_agent; curl -v the same request to see what it sends. The request story (fulcrum status, /api/v1/requests/ID) gives the parser's detail."},
		{CauseDesyncMitigationRefused, "client", "The load balancer refused the request with 400 under its desync_mitigation_mode: the request's classification (ALB's classification and classification_reason log fields) is one the mode does not forward, because a server behind it might frame it differently (HTTP request smuggling).",
			"Read the line's classification and classification_reason (docs/desync.md names each reason); fix the client, or set listeners[].desync_mitigation_mode to defensive (forwards Acceptable and Ambiguous) or monitor (forwards all) if the client cannot change."},
		{CauseRequestHeaderTimeout, "client", "The client did not send its request in time: no complete request header within the listener's request_header_timeout, or a request body that stalled for idle_timeout; the load balancer answered 408 and closed (a slow client, a stalled network, or a slowloris attack).",
			"If real clients are this slow, raise listeners[].request_header_timeout (header) or idle_timeout (body); if many come from few addresses, it is an attack: limit them upstream or with max_connections."},
		{CauseRequestBodyTooLarge, "client", "The request body is larger than the listener's max_request_body_bytes, so the load balancer answered 413 without forwarding it.",
			"Raise listeners[].max_request_body_bytes (0 is unlimited) if the body is legitimate, or make the client send less."},
		{CauseURITooLong, "client", "The request target (path and query) is longer than the listener's max_uri_bytes, so the load balancer answered 414.",
			"Move large parameters into the body, or raise listeners[].max_uri_bytes."},
		{CauseRequestHeaderTooLarge, "client", "The request header section is larger than max_header_bytes or has more fields than max_headers, so the load balancer answered 431 (often a cookie that keeps growing).",
			"Look for oversized cookies or repeated headers in the client's request; clear them, or raise listeners[].max_header_bytes / max_headers."},
		{CauseTooManyForwardedFor, "client", "The request's X-Forwarded-For lists more than 30 addresses, so the load balancer answered 463 as ALB does (a proxy loop, or a client forging the header).",
			"Find the proxy that appends to X-Forwarded-For in a loop, or strip the header at the first proxy you trust."},
		{CauseUnsupportedTransferCoding, "client", "The request's Transfer-Encoding is not chunked (alone or last), a coding the load balancer cannot frame, so it answered 501 (RFC 9112 section 6.1).",
			"Make the client send chunked or a Content-Length instead of the other transfer coding."},
		{CauseUnsupportedHTTPVersion, "client", "The request's HTTP version is not 1.0 or 1.1 (or an HTTP/2 preface on a listener without h2c), so the load balancer answered 505.",
			"Make the client speak HTTP/1.1, HTTP/2 over TLS on an https listener, or enable listeners[].h2c for cleartext HTTP/2 with prior knowledge."},
		{CauseLBError, "lb", "The load balancer produced an error the log does not explain further.",
			"Correlate with the load balancer's error log and metrics for the same minute."},
	}, h2Causes()...) // catalogue_h2.go
}

// LookupCause returns the catalogue entry with the given id.
func LookupCause(id string) (Cause, bool) {
	for _, c := range Catalogue() {
		if c.ID == id {
			return c, true
		}
	}
	return Cause{}, false
}

// CauseOf maps an RFC 9209 error type to its catalogue cause, for logs
// and requests that carry Fulcrum's classification. reused marks a
// connection_terminated on a reused connection, the keep-alive race.
func CauseOf(t ErrorType, reused bool) string {
	switch t {
	case ConnectionRefused:
		return CauseTargetNotListening
	case ConnectionTimeout:
		return CauseTargetPortFiltered
	case DestinationIPUnroutable:
		return CauseTargetUnreachable
	case DNSError, DNSTimeout:
		return CauseDNSResolutionFailed
	case TLSProtocolError:
		return CauseTLSHandshakeFailed
	case TLSCertificateError:
		return CauseTLSCertificateInvalid
	case ConnectionTerminated:
		if reused {
			return CauseKeepaliveRace
		}
		return CauseTargetClosed
	case HTTPProtocolError, HTTPResponseHeaderSectionSize:
		return CauseInvalidResponse
	case HTTPResponseTimeout:
		return CauseTargetResponseTimeout
	case HTTPResponseIncomplete:
		return CauseResponseIncomplete
	case DestinationUnavailable:
		return CauseNoHealthyTargets
	case ConnectionLimitReached:
		return CauseConnectionLimit
	case ClientClosed:
		return CauseClientClosed
	case HTTPRequestError:
		return CauseMalformedRequest
	case HTTPRequestDenied:
		return CauseDesyncMitigationRefused
	case None:
		return ""
	}
	return CauseLBError
}

// CauseForStatus is CauseOf for a request whose answer's status is also
// known (the access log's elb_status_code), so that Fulcrum's own
// client-side answers get their own cause: for http_request_error and
// http_request_denied, 408 is CauseRequestHeaderTimeout, 413
// CauseRequestBodyTooLarge, 414 CauseURITooLong, 431
// CauseRequestHeaderTooLarge, 463 CauseTooManyForwardedFor, 501
// CauseUnsupportedTransferCoding and 505 CauseUnsupportedHTTPVersion; a
// 460 is CauseClientClosed whatever the type (ALB logs it with no
// error reason). Other statuses, and every other type, give CauseOf(t,
// reused). The statuses are ALB's
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-troubleshooting.html).
func CauseForStatus(t ErrorType, status int, reused bool) string {
	if status == 460 {
		return CauseClientClosed
	}
	if t != HTTPRequestError && t != HTTPRequestDenied {
		return CauseOf(t, reused)
	}
	switch status {
	case 408:
		return CauseRequestHeaderTimeout
	case 413:
		return CauseRequestBodyTooLarge
	case 414:
		return CauseURITooLong
	case 431:
		return CauseRequestHeaderTooLarge
	case 463:
		return CauseTooManyForwardedFor
	case 501:
		return CauseUnsupportedTransferCoding
	case 505:
		return CauseUnsupportedHTTPVersion
	}
	return CauseOf(t, reused)
}
