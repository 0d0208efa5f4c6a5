// Package nginx parses nginx's error log (https://nginx.org/en/docs/ngx_core_module.html#error_log;
// messages from src/http/ngx_http_upstream.c) and access logs in the `combined` format, optionally followed by
// the upstream variables ($upstream_addr $upstream_status
// $upstream_response_time, positionally or as key=value pairs). In the
// error log the errno number and the "while …" phase name the cause; the
// errno's text depends on the libc, so only the number is matched.
package nginx

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/logparse"
)

// SniffError reports whether line starts like an error log line:
// "YYYY/MM/DD HH:MM:SS [level]".
func SniffError(line []byte) bool {
	return len(line) > 21 && line[4] == '/' && line[7] == '/' && line[10] == ' ' && line[13] == ':' && line[20] == '['
}

// ParseError parses one error log line. Lines about upstreams become
// events with a cause; other lines are events without one.
func ParseError(line []byte, e *logparse.Entry) error {
	*e = logparse.Entry{Kind: logparse.Event}
	if !SniffError(line) {
		return fmt.Errorf("nginx error log: line does not start with \"YYYY/MM/DD HH:MM:SS [level]\"")
	}
	t, err := time.Parse("2006/01/02 15:04:05", string(line[:19]))
	if err != nil {
		return fmt.Errorf("nginx error log: time %q: %w", line[:19], err)
	}
	e.Time = t
	msg := line[20:]
	if i := bytes.Index(msg, []byte(": ")); i >= 0 {
		msg = msg[i+2:] // after "[level] pid#tid: "
	}
	if len(msg) > 0 && msg[0] == '*' {
		if i := bytes.IndexByte(msg, ' '); i >= 0 {
			msg = msg[i+1:]
		}
	}
	if v := contextValue(line, "upstream: \""); v != "" {
		if u, err := url.Parse(v); err == nil && u.Host != "" {
			e.Target = u.Host
		} else {
			e.Target = v
		}
	}
	if v := contextValue(line, "request: \""); v != "" {
		e.Method, e.URL = logparse.SplitRequest([]byte(v))
	}
	if i := bytes.Index(msg, []byte(", client: ")); i >= 0 {
		msg = msg[:i]
	}
	e.Cause = errorCause(string(msg))
	if e.Cause != "" {
		e.Signature = string(msg)
		if len(e.Signature) > 160 {
			e.Signature = e.Signature[:160] + "…"
		}
	}
	return nil
}

// contextValue returns the quoted value after key, e.g. upstream: "…".
func contextValue(line []byte, key string) string {
	i := bytes.Index(line, []byte(key))
	if i < 0 {
		return ""
	}
	rest := line[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return string(rest)
	}
	return string(rest[:j])
}

// errorCause maps an upstream error message to a cause (messages of nginx's
// src/http/ngx_http_upstream.c).
func errorCause(m string) string {
	connecting := strings.Contains(m, "while connecting to upstream")
	header := strings.Contains(m, "while reading response header from upstream")
	switch {
	case strings.Contains(m, "no live upstreams"):
		return failure.CauseNoHealthyTargets
	case strings.Contains(m, "could not be resolved"):
		return failure.CauseDNSResolutionFailed
	case strings.Contains(m, "(111:"):
		return failure.CauseTargetNotListening
	case strings.Contains(m, "(113:") || strings.Contains(m, "(101:"):
		return failure.CauseTargetUnreachable
	case strings.Contains(m, "upstream timed out") && connecting:
		return failure.CauseTargetPortFiltered
	case strings.Contains(m, "upstream timed out"):
		return failure.CauseTargetResponseTimeout
	case strings.Contains(m, "certificate verify error") || strings.Contains(m, "SSL certificate does not match"):
		return failure.CauseTLSCertificateInvalid
	case strings.Contains(m, "SSL_do_handshake() failed") || strings.Contains(m, "in SSL handshake") || strings.Contains(m, "while SSL handshaking to upstream"):
		return failure.CauseTLSHandshakeFailed
	case strings.Contains(m, "upstream sent"):
		return failure.CauseInvalidResponse
	case strings.Contains(m, "upstream prematurely closed connection") && header:
		// A reused connection the target closed (the keep-alive race) or
		// a crash; the analyzer tells them apart by whether the target
		// otherwise answers.
		return failure.CauseKeepaliveRace
	case strings.Contains(m, "upstream prematurely closed connection"):
		return failure.CauseResponseIncomplete
	case strings.Contains(m, "(104:") || strings.Contains(m, "(32:"):
		return failure.CauseTargetClosed
	}
	return ""
}

// SniffAccess reports whether line looks like a combined access log
// line: an address, "-", a user, then "[dd/Mon/yyyy:".
func SniffAccess(line []byte) bool {
	i := bytes.Index(line, []byte(" ["))
	if i < 0 || i+13 > len(line) {
		return false
	}
	b := line[i+2:]
	return isDigit(b[0]) && isDigit(b[1]) && b[2] == '/' && b[6] == '/' && bytes.Contains(line[:i], []byte(" - "))
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// ParseAccess parses one combined access log line.
func ParseAccess(line []byte, e *logparse.Entry) error {
	*e = logparse.Entry{Kind: logparse.Request, TargetTime: -1}
	s := logparse.NewScanner(line)
	addr, ok := s.Next()
	if !ok {
		return logparse.ErrSkip
	}
	e.Client = string(addr)
	s.Next() // ident
	s.Next() // user
	ts, ok := s.Next()
	if !ok || len(ts) < 2 || ts[0] != '[' {
		return fmt.Errorf("nginx access log: no [time]")
	}
	zone, _ := s.Next()
	t, err := time.Parse("[02/Jan/2006:15:04:05 -0700]", string(ts)+" "+string(zone))
	if err != nil {
		return fmt.Errorf("nginx access log: time %s %s: %w", ts, zone, err)
	}
	e.Time = t.UTC()
	req, ok := s.Next()
	if !ok {
		return fmt.Errorf("nginx access log: no request")
	}
	e.Method, e.URL = logparse.SplitRequest(req)
	st, ok := s.Next()
	if !ok {
		return fmt.Errorf("nginx access log: no status")
	}
	e.Status = logparse.Status(st)
	s.Next() // bytes
	s.Next() // referrer
	s.Next() // user agent
	upstreamStatus := []byte(nil)
	var positional [][]byte
	for {
		v, ok := s.Next()
		if !ok {
			break
		}
		k, val, kv := bytes.Cut(v, []byte("="))
		switch {
		case kv && (string(k) == "us" || string(k) == "upstream_status"):
			upstreamStatus = bytes.Trim(val, `"`)
		case kv && (string(k) == "ua" || string(k) == "upstream_addr" || string(k) == "upstream"):
			e.Target = logparse.Dash(bytes.Trim(val, `"`))
		case kv && (string(k) == "urt" || string(k) == "upstream_response_time"):
			e.TargetTime = logparse.Seconds(bytes.Trim(val, `"`))
		case !kv:
			positional = append(positional, v)
		}
	}
	if len(positional) >= 3 && upstreamStatus == nil {
		e.Target = logparse.Dash(positional[0])
		upstreamStatus = positional[1]
		e.TargetTime = logparse.Seconds(positional[2])
	}
	// Retried upstreams are listed "a, b"; the last one answered.
	upstreamStatus = lastUpstream(upstreamStatus)
	e.Target = string(lastUpstream([]byte(e.Target)))
	e.TargetStatus = logparse.Status(upstreamStatus)
	attributeAccess(e, nil, nil)
	return nil
}

// attributeAccess names the cause of an access log line from its status,
// e.TargetStatus (the last $upstream_status) and, when logged, the last
// $upstream_connect_time and $upstream_header_time ("-" when nginx never
// connected or never got the header; ngx_http_upstream_module,
// https://nginx.org/en/docs/http/ngx_http_upstream_module.html#variables).
func attributeAccess(e *logparse.Entry, connect, header []byte) {
	noConnect := len(connect) > 0 && connect[0] == '-'
	noHeader := len(header) > 0 && header[0] == '-'
	switch {
	case e.Status == 499:
		e.Cause, e.Signature = failure.CauseClientClosed, "status 499 (client closed the request)"
	case e.Status >= 500 && e.TargetStatus == e.Status && e.Status != 502 && e.Status != 504:
		// nginx writes 502 and 504 into $upstream_status for its own
		// failures too, so only other 5xx prove the target answered.
		e.Cause, e.Signature = failure.CauseTarget5xx, fmt.Sprintf("status %d = upstream_status %d", e.Status, e.TargetStatus)
	case e.Status == 504 && noConnect:
		e.LBError, e.TargetStatus = true, 0
		e.Cause, e.Signature = failure.CauseTargetPortFiltered, `504 with upstream_connect_time "-" (connect timed out)`
	case e.Status == 502 && noConnect && e.Target != "":
		e.LBError, e.TargetStatus = true, 0
		e.Cause, e.Signature = failure.CauseTargetNotListening, `502 with upstream_connect_time "-" (connect failed at once: refused)`
	case e.Status == 504:
		e.LBError, e.TargetStatus = true, 0
		e.Cause, e.Signature = failure.CauseTargetResponseTimeout, "504 from nginx (upstream timed out; the error log has the phase)"
	case e.Status == 502 && noHeader && len(connect) > 0:
		e.LBError, e.TargetStatus = true, 0
		e.Cause, e.Signature = failure.CauseLBError, `502 with upstream_connect_time set and upstream_header_time "-" (closed or invalid before the header; see the error log)`
	case e.Status == 502 || e.Status == 503:
		e.LBError, e.TargetStatus = true, 0
		e.Cause, e.Signature = failure.CauseLBError, fmt.Sprintf("%d from nginx (see the error log's upstream message)", e.Status)
	}
}

// lastUpstream returns the last element of an upstream variable's list:
// servers tried for one request are separated by ", ", the upstream
// groups of internal redirects by " : "
// (https://nginx.org/en/docs/http/ngx_http_upstream_module.html#var_upstream_addr).
func lastUpstream(b []byte) []byte {
	// An address holds ':' too: only ", " and " : " separate.
	if j := bytes.LastIndex(b, []byte(" : ")); j >= 0 {
		b = b[j+3:]
	}
	if j := bytes.LastIndex(b, []byte(", ")); j >= 0 {
		b = b[j+2:]
	}
	return bytes.TrimSpace(b)
}
