// Package caddy parses Caddy's JSON logs
// (https://caddyserver.com/docs/logging and the http.log.access and
// reverse_proxy modules,
// https://caddyserver.com/docs/caddyfile/directives/log): access log
// lines (logger "http.log.access…", msg "handled request") are
// requests; the error log lines of a failed request ("http.log.error")
// and reverse_proxy's own lines ("http.handlers.reverse_proxy") are
// events whose Go error text names the cause ("dial tcp …: connect:
// connection refused"); "http: TLS handshake error from …" lines
// (logger "http.stdlib") are client TLS failures. Loggers may carry a
// suffix ("http.log.error.log0"); Caddy before 2.5 logged the client as
// "remote_addr". Caddy 1's text error log ("29/Jan/2016:15:18:59 +0100
// [ERROR 502 /index.php] dial tcp …") is read by ParseV1.
package caddy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"strings"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/logparse"
)

// Sniff reports whether line is a Caddy JSON log line: zap's
// {"level":…,"ts":…} (https://caddyserver.com/docs/logging). Lines of
// loggers other than the http app's (admin, tls, none) are skipped by
// Parse.
func Sniff(line []byte) bool {
	return bytes.HasPrefix(line, []byte(`{"level":`)) && bytes.Contains(line, []byte(`"ts":`))
}

// record holds the fields read.
type record struct {
	Level   string          `json:"level"`
	TS      json.RawMessage `json:"ts"`
	Logger  string          `json:"logger"`
	Msg     string          `json:"msg"`
	Error   string          `json:"error"`
	Status  int             `json:"status"`
	Dur     float64         `json:"duration"`
	Up      string          `json:"upstream"`
	Host    string          `json:"host"`
	Request struct {
		RemoteIP   string `json:"remote_ip"`
		RemotePort string `json:"remote_port"`
		// RemoteAddr is ip:port, as Caddy before 2.5 logged it.
		RemoteAddr string `json:"remote_addr"`
		Method     string `json:"method"`
		URI        string `json:"uri"`
	} `json:"request"`
}

// Parse parses one Caddy JSON log line.
func Parse(line []byte, e *logparse.Entry) error {
	*e = logparse.Entry{Kind: logparse.Request, TargetTime: -1}
	var r record
	if err := json.Unmarshal(line, &r); err != nil {
		return fmt.Errorf("caddy: %w", err)
	}
	e.Time = stamp(r.TS)
	switch {
	case r.Request.RemoteIP != "":
		e.Client = net.JoinHostPort(r.Request.RemoteIP, r.Request.RemotePort)
	case r.Request.RemoteAddr != "":
		e.Client = r.Request.RemoteAddr
	}
	e.Method, e.URL = r.Request.Method, r.Request.URI
	switch {
	case strings.HasPrefix(r.Logger, "http.log.access"):
		if r.Status >= 0 && r.Status <= 999 {
			e.Status = r.Status
		}
		// The access log does not say who produced a 5xx; the error
		// log line of the same request does, and is joined to it.
		switch {
		case e.Status == 502 || e.Status == 504 || e.Status == 503:
			e.LBError = true
			e.Cause, e.Signature = failure.CauseLBError, fmt.Sprintf("status %d from reverse_proxy (see the http.log.error line)", e.Status)
		case e.Status >= 500:
			e.TargetStatus = e.Status
			e.Cause, e.Signature = failure.CauseTarget5xx, fmt.Sprintf("status %d (the upstream's or a handler's own answer)", e.Status)
		case e.Status > 0:
			e.TargetStatus = e.Status
		}
		return nil
	case r.Logger == "http.stdlib" && strings.Contains(r.Msg, "TLS handshake error"):
		e.Kind = logparse.Event
		e.Cause, e.Signature = failure.CauseClientTLSHandshakeFailed, "http: TLS handshake error"
		if _, from, ok := strings.Cut(r.Msg, " from "); ok {
			addr, _, _ := strings.Cut(from, ": ")
			e.Client = addr
		}
		return nil
	case strings.HasPrefix(r.Logger, "http.log.error") || strings.HasPrefix(r.Logger, "http.handlers.reverse_proxy"):
		e.Kind = logparse.Event
		msg := r.Msg
		if r.Error != "" {
			msg += ": " + r.Error
		}
		e.Cause = logparse.GoErrorCause(msg)
		if strings.Contains(r.Msg, "incomplete response") && e.Cause != failure.CauseClientClosed {
			e.Cause = failure.CauseResponseIncomplete
		}
		if e.Cause == failure.CauseClientClosed && !strings.HasPrefix(r.Logger, "http.log.error") {
			e.Cause = "" // reverse_proxy noting the client went away
		}
		if e.Cause != "" {
			e.Signature = msg
			if len(e.Signature) > 160 {
				e.Signature = e.Signature[:160] + "…"
			}
		}
		e.Target = r.Up
		if e.Target == "" {
			e.Target = r.Host
		}
		if i := strings.Index(msg, "dial tcp "); i >= 0 && e.Target == "" {
			addr, _, _ := strings.Cut(msg[i+len("dial tcp "):], ": ")
			e.Target = addr
		}
		return nil
	}
	return logparse.ErrSkip // other loggers: nothing to count
}

// stamp reads Caddy's "ts": Unix seconds as a float (the default) or an
// RFC 3339 string (time_format iso8601/rfc3339).
func stamp(b json.RawMessage) time.Time {
	if len(b) == 0 {
		return time.Time{}
	}
	if b[0] == '"' {
		var s string
		if json.Unmarshal(b, &s) == nil {
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				return t.UTC()
			}
		}
		return time.Time{}
	}
	var f float64
	if json.Unmarshal(b, &f) != nil || f <= 0 {
		return time.Time{}
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC()
}

// SniffV1 reports whether line is a Caddy 1 error log line:
// "dd/Mon/yyyy:hh:mm:ss -zzzz [ERROR status path] message".
func SniffV1(line []byte) bool {
	return len(line) > 36 && line[2] == '/' && line[6] == '/' && line[11] == ':' && line[20] == ' ' &&
		bytes.HasPrefix(line[26:], []byte(" [ERROR "))
}

// ParseV1 parses a Caddy 1 error log line into an event whose Go error
// text names the cause ("unreachable backend" is Caddy 1's word for a
// proxy with no upstream that answered).
func ParseV1(line []byte, e *logparse.Entry) error {
	*e = logparse.Entry{Kind: logparse.Event, TargetTime: -1}
	if !SniffV1(line) {
		return fmt.Errorf("caddy v1: no \"time [ERROR status path]\"")
	}
	t, err := time.Parse("02/Jan/2006:15:04:05 -0700", string(line[:26]))
	if err != nil {
		return fmt.Errorf("caddy v1: time %q: %w", line[:26], err)
	}
	e.Time = t.UTC()
	head, msg, ok := bytes.Cut(line[27:], []byte("] "))
	if !ok {
		return fmt.Errorf("caddy v1: [ERROR …] not closed")
	}
	f := bytes.Fields(head) // ERROR status path
	if len(f) >= 3 {
		e.URL = string(f[2])
	}
	m := string(msg)
	e.Cause = logparse.GoErrorCause(m)
	if e.Cause == "" && strings.Contains(m, "unreachable backend") {
		e.Cause = failure.CauseNoHealthyTargets
	}
	if e.Cause != "" {
		e.Signature = m
		if i := strings.Index(m, "dial tcp "); i >= 0 {
			addr, _, _ := strings.Cut(m[i+len("dial tcp "):], ": ")
			e.Target = addr
		}
	}
	return nil
}
