package logparse

import (
	"strings"

	"github.com/fulcrumlb/fulcrum/internal/failure"
)

// GoErrorCause names the cause of a Go proxy's upstream error text
// (Traefik, Caddy): the messages of Go's net, net/http and crypto/tls
// packages, which are the same whatever the proxy ("dial tcp
// 10.0.0.5:80: connect: connection refused"; the errno texts are
// Linux's, which Go writes itself, syscall/zerrors_linux_*.go). It
// returns "" for a message it does not know.
func GoErrorCause(msg string) string {
	m := strings.ToLower(msg)
	dial := strings.Contains(m, "dial tcp") || strings.Contains(m, "dial udp") || strings.Contains(m, "connect:")
	switch {
	case strings.Contains(m, "context canceled") || strings.Contains(m, "client disconnected"):
		return failure.CauseClientClosed
	case strings.Contains(m, "no such host") || strings.Contains(m, "server misbehaving") && strings.Contains(m, "lookup "):
		return failure.CauseDNSResolutionFailed
	case strings.Contains(m, "connection refused"):
		return failure.CauseTargetNotListening
	case strings.Contains(m, "no route to host") || strings.Contains(m, "network is unreachable") || strings.Contains(m, "host is unreachable"):
		return failure.CauseTargetUnreachable
	case dial && (strings.Contains(m, "i/o timeout") || strings.Contains(m, "timed out") || strings.Contains(m, "deadline exceeded")):
		return failure.CauseTargetPortFiltered
	case strings.Contains(m, "x509:") || strings.Contains(m, "certificate"):
		return failure.CauseTLSCertificateInvalid
	case strings.Contains(m, "tls:") || strings.Contains(m, "tls handshake") || strings.Contains(m, "remote error: tls"):
		return failure.CauseTLSHandshakeFailed
	case strings.Contains(m, "timeout awaiting response headers") || strings.Contains(m, "deadline exceeded") || strings.Contains(m, "i/o timeout"):
		return failure.CauseTargetResponseTimeout
	case strings.Contains(m, "malformed http") || strings.Contains(m, "gave http response to https") || strings.Contains(m, "invalid header") ||
		strings.Contains(m, "net/http: http/1.x transport connection broken: malformed"):
		return failure.CauseInvalidResponse
	case strings.Contains(m, "connection reset by peer") || strings.Contains(m, "broken pipe") || strings.HasSuffix(m, "eof") || strings.Contains(m, "server closed idle connection"):
		return failure.CauseTargetClosed
	case strings.Contains(m, "no upstreams available") || strings.Contains(m, "no available server") || strings.Contains(m, "no healthy"):
		return failure.CauseNoHealthyTargets
	}
	return ""
}
