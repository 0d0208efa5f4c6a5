// Package fulcrumhc parses Fulcrum's own health check log
// (health_check_log): one line per check, in the field order of ALB's
// health check logs (AWS ELB User Guide for Application Load Balancers,
// "Health check logs"),
//
//	type time latency target_addr target_group status status_code reason_code elb ip_address
//
// then two Fulcrum fields: the address actually checked and the quoted
// evidence, e.g. "connection refused on 10.0.0.5:8081". Every line is an
// Event, evidence about a target, never a request, as HAProxy's
// "Health check for server" lines are (HAProxy Configuration Manual,
// src/check.c messages).
package fulcrumhc

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/logparse"
)

func isType(b []byte) bool {
	switch string(b) {
	case "http", "https", "tcp":
		return true
	}
	return false
}

// Sniff reports whether line looks like a health check log line: type
// http, https or tcp, an ISO 8601 time, and PASS or FAIL as the sixth
// field (where an ALB access log line has a processing time).
func Sniff(line []byte) bool {
	s := logparse.NewScanner(line)
	var f [6][]byte
	for i := range f {
		v, ok := s.Next()
		if !ok {
			return false
		}
		f[i] = v
	}
	if !isType(f[0]) || len(f[1]) <= 20 || f[1][4] != '-' || f[1][10] != 'T' {
		return false
	}
	return string(f[5]) == "PASS" || string(f[5]) == "FAIL"
}

// Parse parses one health check log line into e: Kind Event, Time the
// check's end (start plus latency), Target and Group, TargetStatus the
// check's status code (0 for "-"), TargetTime its latency, and for a FAIL
// the cause its reason code and evidence name. A line with fewer than the
// 10 ALB fields, an unknown type, a bad time or a status other than PASS
// or FAIL is an error naming the field.
func Parse(line []byte, e *logparse.Entry) error {
	*e = logparse.Entry{Kind: logparse.Event, TargetTime: -1}
	s := logparse.NewScanner(line)
	var f [10][]byte
	for i := range f {
		v, ok := s.Next()
		if !ok {
			return fmt.Errorf("fulcrum health check log: %d fields, want at least 10 (through ip_address)", i)
		}
		f[i] = v
	}
	if !isType(f[0]) {
		return fmt.Errorf("fulcrum health check log: type %q is not http, https or tcp", f[0])
	}
	t, err := time.Parse(time.RFC3339Nano, string(f[1]))
	if err != nil {
		return fmt.Errorf("fulcrum health check log: time %q: %w", f[1], err)
	}
	latency := logparse.Seconds(f[2])
	e.Time, e.TargetTime = t, latency
	if latency > 0 {
		e.Time = t.Add(latency)
	}
	e.Target = logparse.Dash(f[3])
	e.Group = logparse.Dash(f[4])
	e.TargetStatus = logparse.Status(f[6])
	switch string(f[5]) {
	case "PASS":
		return nil
	case "FAIL":
	default:
		return fmt.Errorf("fulcrum health check log: status %q is not PASS or FAIL", f[5])
	}
	// Optional Fulcrum fields: the checked address and the evidence.
	// The evidence is Go-quoted (strconv.Quote) and may hold escaped
	// quotes, so it is the rest of the line, not one scanned field.
	checked, _ := s.Next()
	evidence := bytes.TrimRight(s.Rest(), " \r")
	if u, err := strconv.Unquote(string(evidence)); err == nil {
		evidence = []byte(u)
	} else {
		evidence = bytes.Trim(evidence, `"`)
	}
	reason := string(f[7])
	e.Signature = "health check " + reason
	if e.TargetStatus > 0 {
		e.Signature += " " + strconv.Itoa(e.TargetStatus)
	}
	if len(evidence) > 0 {
		e.Signature += `: "` + string(evidence) + `"`
	} else if len(checked) > 0 && string(checked) != e.Target {
		e.Signature += " on " + string(checked)
	}
	e.Cause = cause(reason, e.TargetStatus, evidence)
	return nil
}

// cause maps a FAIL's reason code (Fulcrum's, or ALB's target health
// reason codes, AWS ELB User Guide, "Target health status") and the
// evidence's RFC 9209 error type to a catalogue cause, the way HAProxy's
// check results are mapped: a connect timeout is a filtered port, a
// response timeout a check timeout too short, a refused connection a
// target not listening.
func cause(reason string, status int, evidence []byte) string {
	typ, typed := errorType(evidence)
	switch reason {
	case "ResponseCodeMismatch", "TargetError", "Target.ResponseCodeMismatch":
		return failure.CauseHealthCheckStatus
	case "TimedOut", "Target.Timeout":
		if typed && typ == failure.ConnectionTimeout {
			return failure.CauseTargetPortFiltered
		}
		if typed && typ == failure.DNSTimeout {
			return failure.CauseDNSResolutionFailed
		}
		return failure.CauseHealthCheckTimeout
	}
	if status > 0 {
		return failure.CauseHealthCheckStatus
	}
	if typed {
		if c := failure.CauseOf(typ, false); c != "" {
			return c
		}
	}
	switch reason {
	case "ConnectionReset", "Target.FailedHealthChecks":
		return failure.CauseTargetClosed
	}
	return failure.CauseLBError
}

// errorType reads the RFC 9209 error type Fulcrum's evidence starts with:
// "connection refused on ADDR", "Request timed out after 5s: connection
// timeout on ADDR", "tls protocol error on ADDR: remote error".
func errorType(evidence []byte) (failure.ErrorType, bool) {
	if bytes.HasPrefix(evidence, []byte("Request timed out after ")) {
		i := bytes.Index(evidence, []byte(": "))
		if i < 0 {
			return failure.None, false
		}
		evidence = evidence[i+2:]
	}
	i := bytes.Index(evidence, []byte(" on "))
	if i < 0 {
		return failure.None, false
	}
	return failure.ParseErrorType(strings.ReplaceAll(string(evidence[:i]), " ", "_"))
}
