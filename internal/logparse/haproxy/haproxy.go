// Package haproxy parses HAProxy logs (configuration.txt §8.2-8.5,
// HAProxy Configuration Manual §8.2.3 "HTTP log format" and §8.5
// "Session state at disconnection", https://docs.haproxy.org/3.0/configuration.html): `option httplog` lines behind any envelope
// (RFC 3164 or 5424 syslog, stdout, container prefixes), found by their
// first "ip:port [dd/Mon/yyyy:hh:mm:ss.mmm]", and the health-check and
// server-state lines, which become events. The termination state's two
// first characters name the cause (§8.5).
package haproxy

import (
	"bytes"
	"fmt"
	"regexp"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/logparse"
)

// stamp finds the accept date of an httplog line.
func stampIndex(line []byte) int {
	for i := 0; i+22 < len(line); i++ {
		if line[i] != '[' || i == 0 || line[i-1] != ' ' {
			continue
		}
		b := line[i+1:]
		// HAProxy's accept date always has milliseconds (§8.2.3); an
		// nginx or Apache "[10/Oct/2000:13:55:36 -0700]" has none.
		if isDigit(b[0]) && isDigit(b[1]) && b[2] == '/' && b[6] == '/' && isDigit(b[7]) && b[11] == ':' && b[20] == '.' {
			return i
		}
	}
	return -1
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// Sniff reports whether line is an HAProxy httplog line or one of its
// event lines.
func Sniff(line []byte) bool {
	if stampIndex(line) > 0 {
		_, _, ok := bytes.Cut(line, []byte("] "))
		return ok && bytes.Count(line, []byte("/")) >= 6
	}
	return bytes.Contains(line, []byte("Server ")) && (bytes.Contains(line, []byte(" is DOWN")) || bytes.Contains(line, []byte(" is UP"))) ||
		bytes.Contains(line, []byte("Health check for server ")) ||
		bytes.Contains(line, []byte("has no server available!"))
}

// New returns a parser of HAProxy lines; it holds the compiled event
// patterns, so make one per reader.
func New() logparse.Parser {
	state, none := eventPatterns()
	return func(line []byte, e *logparse.Entry) error {
		*e = logparse.Entry{Kind: logparse.Request}
		if stampIndex(line) < 0 {
			return parseEvent(state, none, line, e)
		}
		return parseHTTP(line, e)
	}
}

// parseHTTP parses an httplog line.
func parseHTTP(line []byte, e *logparse.Entry) error {
	i := stampIndex(line)
	// The client is the token before the date.
	j := bytes.LastIndexByte(line[:i-1], ' ')
	e.Client = string(line[j+1 : i-1])
	end := bytes.IndexByte(line[i:], ']')
	if end < 0 {
		return fmt.Errorf("haproxy: accept date not closed")
	}
	// %tr is local time without a zone; it is read as UTC.
	t, err := time.Parse("02/Jan/2006:15:04:05.000", string(line[i+1:i+end]))
	if err != nil {
		return fmt.Errorf("haproxy: accept date %q: %w", line[i+1:i+end], err)
	}
	e.Time = t
	s := logparse.NewScanner(line[i+end+1:])
	var f [10][]byte // frontend backend/server timers status bytes reqcookie respcookie term conns queues
	for k := range f {
		v, ok := s.Next()
		if !ok {
			return fmt.Errorf("haproxy: %d fields after the date, want 10 (httplog)", k)
		}
		f[k] = v
	}
	be, srv, ok := bytes.Cut(f[1], []byte("/"))
	if !ok {
		return fmt.Errorf("haproxy: %q is not backend/server", f[1])
	}
	e.Group, e.Target = string(be), string(srv)
	timers := bytes.Split(f[2], []byte("/"))
	if len(timers) != 5 {
		return fmt.Errorf("haproxy: timers %q are not TR/Tw/Tc/Tr/Ta", f[2])
	}
	e.TargetTime = logparse.Millis(timers[3])
	e.Status = logparse.Status(bytes.TrimPrefix(f[3], []byte("+")))
	term := f[7]
	if len(term) < 2 {
		return fmt.Errorf("haproxy: termination state %q", term)
	}
	// Captures ({...}) may precede the request.
	for {
		v, ok := s.Next()
		if !ok {
			break
		}
		if len(v) > 0 && v[0] == '{' {
			continue
		}
		e.Method, e.URL = logparse.SplitRequest(v)
		break
	}
	if e.Target == "<NOSRV>" || e.Target == "<STATS>" {
		e.Target = ""
	}
	attribute(term[0], term[1], e)
	return nil
}

// attribute names the cause from the termination state (§8.5): the first
// character says who ended the session, the second in which phase.
func attribute(who, phase byte, e *logparse.Entry) {
	sig := fmt.Sprintf("termination state %c%c, status %d", who, phase, e.Status)
	set := func(cause string, lb bool) { e.Cause, e.Signature, e.LBError = cause, sig, lb && e.Status >= 500 }
	switch {
	case who == '-' && e.Status >= 500:
		e.TargetStatus = e.Status
		e.Cause, e.Signature = failure.CauseTarget5xx, sig+" (the server's own answer)"
	case who == '-':
		e.TargetStatus = e.Status
	case who == 'C' || who == 'c':
		set(failure.CauseClientClosed, false)
	case e.Status == 503 && e.Target == "":
		// <NOSRV>: no server could take it (logged SC-- as well).
		set(failure.CauseNoHealthyTargets, true)
	case who == 'S' && phase == 'C':
		set(failure.CauseTargetNotListening, true)
	case who == 's' && phase == 'C':
		set(failure.CauseTargetPortFiltered, true)
	case (who == 's' || who == 'S') && phase == 'Q':
		set(failure.CauseTargetOverloaded, true)
	case who == 'S' && phase == 'H':
		set(failure.CauseTargetClosed, true)
	case who == 's' && (phase == 'H' || phase == 'D'):
		set(failure.CauseTargetResponseTimeout, true)
	case who == 'S' && phase == 'D':
		set(failure.CauseResponseIncomplete, true)
	case who == 'P' && (phase == 'H' || phase == 'D'):
		set(failure.CauseInvalidResponse, true)
	case who == 'D' || who == 'K':
		set(failure.CauseDrainingTarget, true)
	case e.Status >= 500:
		set(failure.CauseLBError, true)
	}
}

// Event lines (src/check.c, src/server.c): server state changes with the
// check's reason, and "no server available".
func eventPatterns() (*regexp.Regexp, *regexp.Regexp) {
	return regexp.MustCompile(`(?:Server|Health check for server) ([^/ ]+)/(\S+) (?:is )?(DOWN|UP|failed|succeeded)[^,]*(?:, reason: ([^,]+))?(?:, code: \d+)?(?:, info: "([^"]*)")?`),
		regexp.MustCompile(`backend '?([^' ]+)'? has no server available!`)
}

func parseEvent(state, none *regexp.Regexp, line []byte, e *logparse.Entry) error {
	e.Kind = logparse.Event
	if m := none.FindSubmatch(line); m != nil {
		e.Group = string(m[1])
		e.Cause, e.Signature = failure.CauseNoHealthyTargets, "backend has no server available!"
		return nil
	}
	m := state.FindSubmatch(line)
	if m == nil {
		return fmt.Errorf("haproxy: no client date and no server event")
	}
	e.Group, e.Target = string(m[1]), string(m[2])
	if string(m[3]) == "UP" || string(m[3]) == "succeeded" {
		return nil
	}
	reason, info := string(m[4]), string(m[5])
	e.Signature = "server " + string(m[3]) + ", reason: " + reason
	if info != "" {
		e.Signature += `, info: "` + info + `"`
	}
	switch {
	case bytes.Contains(m[4], []byte("Layer4 connection problem")) && bytes.Contains(bytes.ToLower(m[5]), []byte("refused")):
		e.Cause = failure.CauseTargetNotListening
	case bytes.Contains(m[4], []byte("Layer4 connection problem")):
		e.Cause = failure.CauseTargetUnreachable
	case bytes.Contains(m[4], []byte("Layer4 timeout")):
		e.Cause = failure.CauseTargetPortFiltered
	case bytes.Contains(m[4], []byte("Layer6")):
		e.Cause = failure.CauseTLSHandshakeFailed
	case bytes.Contains(m[4], []byte("Layer7 wrong status")):
		e.Cause = failure.CauseHealthCheckStatus
	case bytes.Contains(m[4], []byte("Layer7 timeout")):
		e.Cause = failure.CauseHealthCheckTimeout
	case bytes.Contains(m[4], []byte("Layer7")):
		e.Cause = failure.CauseInvalidResponse
	}
	return nil
}
