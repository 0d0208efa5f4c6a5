package failure

// Catalogue ids that only logs show, kept apart from Catalogue so that
// the analyzer can add them without touching the doctor's list.
const (
	// CauseClientTLSHandshakeFailed: a client's TLS handshake with the
	// load balancer failed (HAProxy "SSL handshake failure", ALB
	// connection log tls_handshake_failure, Caddy "TLS handshake error").
	CauseClientTLSHandshakeFailed = "client-tls-handshake-failed"
	// CauseRequestDenied: the load balancer refused the client's request
	// itself (HAProxy termination state PR or PT, a deny rule or an
	// invalid request) before any target saw it.
	CauseRequestDenied = "request-denied"
)

// LogCauses returns the causes only logs show, in the order reports list
// ties after Catalogue's.
func LogCauses() []Cause {
	return []Cause{
		{CauseClientTLSHandshakeFailed, "client", "A client's TLS handshake with the load balancer failed: no shared protocol or cipher, an unknown SNI, a client certificate that did not verify, or a client that gave up.",
			"openssl s_client -connect LISTENER -servername NAME from the client's side; compare the listener's TLS policy with the client's protocols and ciphers."},
		{CauseRequestDenied, "client", "The load balancer refused the request before any target saw it: a deny rule matched, or the request was invalid.",
			"Check the listener's deny rules and request limits against the refused requests (method, path, headers)."},
	}
}

// LookupLogCause returns the entry of Catalogue or LogCauses with the
// given id.
func LookupLogCause(id string) (Cause, bool) {
	if c, ok := LookupCause(id); ok {
		return c, true
	}
	for _, c := range LogCauses() {
		if c.ID == id {
			return c, true
		}
	}
	return Cause{}, false
}
