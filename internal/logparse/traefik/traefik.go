// Package traefik parses Traefik's access logs
// (https://doc.traefik.io/traefik/observability/access-logs/): the
// Common Log Format with Traefik's additions (request count, router
// name, service URL and duration in ms) and the JSON format, whose
// OriginStatus (with OriginContentSize) tells the service's status from
// Traefik's own and from the one it gave the client (DownstreamStatus),
// with RetryAttempts. It also reads Traefik's
// own log lines that say why a request got a 5xx ("'502 Bad Gateway'
// caused by: dial tcp …: connect: connection refused"), as events.
package traefik

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/logparse"
)

// SniffCLF reports whether line is a Traefik CLF line: a combined line
// that ends in a duration in milliseconds ("12ms").
func SniffCLF(line []byte) bool {
	i := bytes.Index(line, []byte(" ["))
	return i > 0 && bytes.Contains(line[:i], []byte(" - ")) && bytes.HasSuffix(line, []byte("ms")) && bytes.Count(line, []byte(`"`)) >= 10
}

// ParseCLF parses one CLF line: `ip - user [time] "request" status size
// "referer" "ua" count "router" "serviceURL" Nms`.
func ParseCLF(line []byte, e *logparse.Entry) error {
	*e = logparse.Entry{Kind: logparse.Request, TargetTime: -1}
	s := logparse.NewScanner(line)
	addr, ok := s.Next()
	if !ok {
		return logparse.ErrSkip
	}
	e.Client = string(addr)
	s.Next()
	s.Next()
	ts, _ := s.Next()
	zone, _ := s.Next()
	t, err := time.Parse("[02/Jan/2006:15:04:05 -0700]", string(ts)+" "+string(zone))
	if err != nil {
		return fmt.Errorf("traefik: time %s %s: %w", ts, zone, err)
	}
	e.Time = t.UTC()
	req, _ := s.Next()
	e.Method, e.URL = logparse.SplitRequest(req)
	st, ok := s.Next()
	if !ok {
		return fmt.Errorf("traefik: no status")
	}
	e.Status = logparse.Status(st)
	var f [7][]byte // size referer ua count router url duration
	for k := range f {
		v, ok := s.Next()
		if !ok {
			return fmt.Errorf("traefik: %d fields after the status, want 7", k)
		}
		f[k] = v
	}
	e.Group = logparse.Dash(f[4])
	e.Target = hostOf(logparse.Dash(f[5]))
	// CLF has no OriginStatus; the size tells Traefik's proxy error
	// handler, whose body is the status text, from a service's 502/504.
	proxyError := (e.Status == 502 || e.Status == 504) && string(f[0]) == strconv.Itoa(len(http.StatusText(e.Status)))
	switch {
	case e.Status == 499:
		e.Cause, e.Signature = failure.CauseClientClosed, "status 499 (client closed the request)"
	case e.Status >= 500 && e.Target == "":
		e.LBError = true
		e.Cause, e.Signature = failure.CauseNoHealthyTargets, fmt.Sprintf(`%d with service URL "-" (no server to send it to)`, e.Status)
	case proxyError && e.Status == 504:
		e.LBError = true
		e.Cause, e.Signature = failure.CauseTargetResponseTimeout, `504 with body "Gateway Timeout" (Traefik's proxy error handler: the service was too slow)`
	case proxyError:
		e.LBError = true
		e.Cause, e.Signature = failure.CauseLBError, `502 with body "Bad Gateway" (Traefik's proxy error handler: the service could not be reached or broke the connection; Traefik's debug log says why)`
	case e.Status >= 500:
		e.TargetStatus = e.Status
		e.Cause, e.Signature = failure.CauseTarget5xx, fmt.Sprintf("%d with a body of its own (the service's answer)", e.Status)
	default:
		e.TargetStatus = e.Status
	}
	return nil
}

// hostOf returns host:port of a service URL ("http://10.0.0.5:80").
func hostOf(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	if i := strings.IndexByte(u, '/'); i >= 0 {
		u = u[:i]
	}
	return u
}

// SniffJSON reports whether line is a Traefik JSON access log line.
func SniffJSON(line []byte) bool {
	return len(line) > 0 && line[0] == '{' && bytes.Contains(line, []byte(`"DownstreamStatus"`))
}

// jsonLine holds the access log fields read (Traefik's field names).
type jsonLine struct {
	ClientAddr       string    `json:"ClientAddr"`
	DownstreamStatus int       `json:"DownstreamStatus"`
	OriginStatus     int       `json:"OriginStatus"`
	OriginSize       int64     `json:"OriginContentSize"`
	OriginDuration   int64     `json:"OriginDuration"`
	RequestMethod    string    `json:"RequestMethod"`
	RequestPath      string    `json:"RequestPath"`
	RetryAttempts    int       `json:"RetryAttempts"`
	RouterName       string    `json:"RouterName"`
	ServiceName      string    `json:"ServiceName"`
	ServiceURL       string    `json:"ServiceURL"`
	ServiceAddr      string    `json:"ServiceAddr"`
	StartUTC         time.Time `json:"StartUTC"`
}

// ParseJSON parses one JSON access log line. OriginStatus is what the
// service handler gave: the service's status, or the 502 or 504 of
// Traefik's proxy error handler when the service could not be reached,
// broke the connection or was too slow; that handler writes the status
// text as the body ("Bad Gateway"), which tells it from a service's own
// 502. OriginStatus 0 with a 5xx means no server was tried: Traefik
// itself (routing, a middleware, no server available) answered
// (https://doc.traefik.io/traefik/observability/access-logs/, traefik/traefik#13609).
func ParseJSON(line []byte, e *logparse.Entry) error {
	*e = logparse.Entry{Kind: logparse.Request, TargetTime: -1}
	var j jsonLine
	if err := json.Unmarshal(line, &j); err != nil {
		return fmt.Errorf("traefik json: %w", err)
	}
	e.Time, e.Client, e.Method, e.URL = j.StartUTC, j.ClientAddr, j.RequestMethod, j.RequestPath
	e.Status, e.TargetStatus = status(j.DownstreamStatus), status(j.OriginStatus)
	e.Group = j.ServiceName
	e.Target = j.ServiceAddr
	if e.Target == "" {
		e.Target = hostOf(j.ServiceURL)
	}
	if j.OriginStatus > 0 {
		e.TargetTime = time.Duration(j.OriginDuration)
	}
	retries := ""
	if j.RetryAttempts > 0 {
		retries = fmt.Sprintf(", after %d retries", j.RetryAttempts)
	}
	sig := fmt.Sprintf("DownstreamStatus %d, OriginStatus %d%s", j.DownstreamStatus, j.OriginStatus, retries)
	proxyError := (j.OriginStatus == 502 || j.OriginStatus == 504) && j.OriginSize == int64(len(http.StatusText(j.OriginStatus)))
	switch {
	case e.Status == 499:
		e.Cause, e.Signature = failure.CauseClientClosed, sig+" (client closed the request)"
		e.TargetStatus = 0
	case e.Status < 500:
	case proxyError && j.OriginStatus == 504:
		e.LBError, e.TargetStatus = true, 0
		e.Cause, e.Signature = failure.CauseTargetResponseTimeout, sig+` with body "Gateway Timeout" (Traefik's proxy error handler: the service was too slow)`
	case proxyError:
		e.LBError, e.TargetStatus = true, 0
		e.Cause, e.Signature = failure.CauseLBError, sig+` with body "Bad Gateway" (Traefik's proxy error handler: the service could not be reached or broke the connection; Traefik's debug log says why)`
	case j.OriginStatus == j.DownstreamStatus:
		e.Cause, e.Signature = failure.CauseTarget5xx, sig+" (the service's own answer)"
	case j.OriginStatus != 0:
		// A middleware changed the status (errors pages): the service
		// failed first.
		e.LBError = true
		e.Cause, e.Signature = failure.CauseLBError, sig
	case e.Status == 503 || e.Target == "":
		e.LBError = true
		e.Cause, e.Signature = failure.CauseNoHealthyTargets, sig+" (Traefik answered without trying a server)"
	default:
		e.LBError = true
		e.Cause, e.Signature = failure.CauseLBError, sig+" (answered by Traefik itself: routing or a middleware)"
	}
	return nil
}

// SniffLog reports whether line is one of Traefik's own log lines about
// a proxied request's error.
func SniffLog(line []byte) bool {
	if bytes.Contains(line, []byte("' caused by: ")) {
		return true
	}
	leveled := bytes.Contains(line, []byte("level=")) || bytes.Contains(line, []byte(`"level":`))
	return leveled && (bytes.Contains(line, []byte("Bad Gateway")) || bytes.Contains(line, []byte("Gateway Timeout")))
}

// ParseLog parses Traefik's text log line ("time=… level=debug
// msg=\"'502 Bad Gateway' caused by: dial tcp 10.0.0.5:80: connect:
// connection refused\"") or JSON log line ({"level":"debug","error":…,
// "message":…}) into an event whose cause the Go error text names.
func ParseLog(line []byte, e *logparse.Entry) error {
	*e = logparse.Entry{Kind: logparse.Event, TargetTime: -1}
	var msg string
	if len(line) > 0 && line[0] == '{' {
		var j struct {
			Time    time.Time `json:"time"`
			Error   string    `json:"error"`
			Message string    `json:"message"`
			Msg     string    `json:"msg"`
		}
		if err := json.Unmarshal(line, &j); err != nil {
			return fmt.Errorf("traefik log: %w", err)
		}
		e.Time, msg = j.Time, j.Message+j.Msg+": "+j.Error
	} else {
		if v := kv(line, "time="); v != "" {
			if t, err := time.Parse(time.RFC3339, v); err == nil {
				e.Time = t.UTC()
			}
		}
		msg = kv(line, "msg=")
	}
	if msg == "" {
		return fmt.Errorf("traefik log: no message")
	}
	e.Cause = logparse.GoErrorCause(msg)
	if e.Cause != "" {
		e.Signature = msg
		if i := strings.Index(msg, "dial tcp "); i >= 0 {
			addr, _, _ := strings.Cut(msg[i+len("dial tcp "):], ": ")
			e.Target = addr
		}
	}
	return nil
}

// kv returns logfmt's value for key (quoted or bare).
func kv(line []byte, key string) string {
	i := bytes.Index(line, []byte(key))
	if i < 0 {
		return ""
	}
	v := line[i+len(key):]
	if len(v) > 0 && v[0] == '"' {
		end := 1
		for end < len(v) && (v[end] != '"' || v[end-1] == '\\') {
			end++
		}
		return strings.ReplaceAll(string(v[1:min(end, len(v))]), `\"`, `"`)
	}
	if j := bytes.IndexByte(v, ' '); j >= 0 {
		v = v[:j]
	}
	return string(v)
}

// status keeps a status code in 0-999.
func status(n int) int {
	if n < 0 || n > 999 {
		return 0
	}
	return n
}
