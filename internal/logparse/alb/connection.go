package alb

import (
	"bytes"
	"fmt"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/logparse"
)

// SniffConnection reports whether line is an ALB connection log line
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-connection-logs.html):
// an ISO 8601 time, the client's IP, its port and the listener's port.
func SniffConnection(line []byte) bool {
	s := logparse.NewScanner(line)
	ts, ok := s.Next()
	if !ok || len(ts) < 20 || ts[4] != '-' || ts[10] != 'T' {
		return false
	}
	ip, _ := s.Next()
	cport, _ := s.Next()
	lport, _ := s.Next()
	return bytes.ContainsAny(ip, ".:") && isPort(cport) && isPort(lport)
}

func isPort(b []byte) bool {
	if len(b) == 0 || len(b) > 5 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// ParseConnection parses one connection log line: timestamp client_ip
// client_port listener_port tls_protocol tls_cipher
// tls_handshake_latency leaf_client_cert_subject
// leaf_client_cert_validity leaf_client_cert_serial_number
// tls_verify_status conn_trace_id (later fields ignored). It is an
// event; a tls_verify_status of "Failed:<code>" is a client TLS failure
// named by its code.
func ParseConnection(line []byte, e *logparse.Entry) error {
	*e = logparse.Entry{Kind: logparse.Event, TargetTime: -1}
	s := logparse.NewScanner(line)
	var f [11][]byte
	for i := range f {
		v, ok := s.Next()
		if !ok {
			return fmt.Errorf("alb connection log: %d fields, want at least 11 (through tls_verify_status)", i)
		}
		f[i] = v
	}
	t, err := time.Parse(time.RFC3339Nano, string(f[0]))
	if err != nil {
		return fmt.Errorf("alb connection log: time %q: %w", f[0], err)
	}
	if !isPort(f[2]) || !isPort(f[3]) {
		return fmt.Errorf("alb connection log: ports %q %q", f[2], f[3])
	}
	e.Time = t
	e.Client = string(f[1]) + ":" + string(f[2])
	status := f[10]
	if code, ok := bytes.CutPrefix(status, []byte("Failed:")); ok {
		e.Cause = failure.CauseClientTLSHandshakeFailed
		e.Signature = "tls_verify_status Failed:" + string(code)
	}
	return nil
}
