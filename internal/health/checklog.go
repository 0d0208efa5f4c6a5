package health

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/failure"
)

// CheckLog writes one line per health check in the field order of ALB's
// health check logs (AWS ELB User Guide for ALBs, "Health check
// logs"), so existing parsers read it:
//
//	type time latency target_addr target_group status status_code reason_code elb ip_address
//
// then two trailing fields ALB parsers ignore: the address actually
// checked (the health-check port may differ from the traffic port) and the
// quoted evidence, e.g. "connection refused on 10.0.0.5:8081". Safe for
// concurrent use; lines are written synchronously, one check at a time.
type CheckLog struct {
	mu     sync.Mutex
	w      io.Writer
	closer io.Closer
	buf    []byte
}

// OpenCheckLog appends to path, creating it; "-" means w.
func OpenCheckLog(path string, w io.Writer) (*CheckLog, error) {
	if path == "-" {
		return &CheckLog{w: w}, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open health check log: %w", err)
	}
	return &CheckLog{w: f, closer: f}, nil
}

// Close closes the file, if the log opened one.
func (l *CheckLog) Close() error {
	if l == nil || l.closer == nil {
		return nil
	}
	return l.closer.Close()
}

// Log writes the line for one check of target (its traffic address) in
// group, of the given type (http, https or tcp), that ended at end.
func (l *CheckLog) Log(kind, group, target string, r Result, end time.Time) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buf[:0]
	b = append(b, kind...)
	b = append(b, ' ')
	b = end.Add(-r.Latency).UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z")
	b = append(b, ' ')
	b = strconv.AppendFloat(b, r.Latency.Seconds(), 'f', 6, 64)
	b = append(b, ' ')
	b = append(b, target...)
	b = append(b, ' ')
	b = append(b, group...)
	if r.OK {
		b = append(b, " PASS "...)
	} else {
		b = append(b, " FAIL "...)
	}
	if r.Status > 0 {
		b = strconv.AppendInt(b, int64(r.Status), 10)
	} else {
		b = append(b, '-')
	}
	b = append(b, ' ')
	b = append(b, CheckReason(r)...)
	b = append(b, " fulcrum - "...)
	b = append(b, r.Address...)
	b = append(b, ' ')
	b = strconv.AppendQuote(b, r.Description)
	b = append(b, '\n')
	l.buf = b
	_, err := l.w.Write(b)
	return err
}

// CheckReason maps a result to ALB's health check log reason code: "-" on
// pass; TimedOut for connect, handshake or response timeouts;
// ConnectionReset when the connection was refused, reset or closed before
// a valid response; TargetError for a 5xx; ResponseCodeMismatch for other
// unmatched codes; InternalError otherwise.
func CheckReason(r Result) string {
	switch {
	case r.OK:
		return "-"
	case r.CheckReason != "":
		return r.CheckReason // a gRPC check's (grpc.go)
	case r.Status >= 500:
		return "TargetError"
	case r.Status > 0:
		return "ResponseCodeMismatch"
	}
	switch {
	case r.Class.Type.Timeout():
		return "TimedOut"
	case r.Class.Type == failure.ProxyInternalError, r.Class.Type == failure.None:
		return "InternalError"
	}
	return "ConnectionReset"
}
