// Package haproxy parses HAProxy logs, as the HAProxy Configuration
// Manual describes them (https://docs.haproxy.org/3.0/configuration.html,
// §8.2 "Log formats", §8.5 "Session state at disconnection"):
//
//   - `option httplog` lines of every version: the accept date with or
//     without milliseconds (and with a zone, as %T and %Tl write it),
//     with or without captured headers `{…}` before the request;
//   - `option httplog clf` lines (Common Log Format, then HAProxy's
//     fields);
//   - `option httpslog` lines (httplog followed by the frontend
//     connection and TLS error codes);
//   - `option tcplog` lines (three timers and a two-character state);
//   - the default log without an option, "Connect from A to B (fe/MODE)";
//   - connection errors before a session, `ip:port [date] fe/bind: msg`
//     ("SSL handshake failure", "Connection error during SSL handshake",
//     src/session.c);
//   - server state changes and health check results ("Server be/s is
//     DOWN, reason: …", src/check.c and src/server.c) and "backend be has
//     no server available!" (src/backend.c), which become events;
//   - a custom `log-format`, given as its format string (Compile).
//
// Lines are found behind any envelope (internal/logparse/envelope); the
// termination state names the cause (§8.5).
package haproxy

import (
	"bytes"
	"fmt"
	"strconv"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/logparse"
)

// acceptDate finds the accept date "[dd/Mon/yyyy:hh:mm:ss(.fff)( ±zzzz)]"
// after a space; it returns the index of '[', the index after ']' and
// the time (UTC when the date has no zone: %tr is local time).
func acceptDate(line []byte) (int, int, time.Time, bool) {
	for i := 1; i+22 <= len(line); i++ {
		if line[i] != '[' || line[i-1] != ' ' {
			continue
		}
		end := bytes.IndexByte(line[i:], ']')
		if end < 0 {
			return -1, -1, time.Time{}, false
		}
		if t, ok := ParseDate(line[i+1 : i+end]); ok {
			return i, i + end + 1, t, true
		}
	}
	return -1, -1, time.Time{}, false
}

// ParseDate parses HAProxy's dates: "06/Feb/2009:12:14:14.655" (%tr, %t),
// "06/Feb/2009:12:14:14" (old versions, custom formats) and
// "06/Feb/2009:12:14:14 +0100" (%T, %Tl). A date without a zone is read
// as UTC.
func ParseDate(b []byte) (time.Time, bool) {
	if len(b) < 20 || !isDigit(b[0]) || !isDigit(b[1]) || b[2] != '/' || b[6] != '/' || b[11] != ':' || b[14] != ':' || b[17] != ':' {
		return time.Time{}, false
	}
	layout := "02/Jan/2006:15:04:05"
	rest := b[20:]
	if len(rest) > 0 && rest[0] == '.' {
		n := 1
		for n < len(rest) && isDigit(rest[n]) {
			n++
		}
		if n == 1 || n > 10 {
			return time.Time{}, false
		}
		layout += "." + string(bytes.Repeat([]byte("0"), n-1))
		rest = rest[n:]
	}
	if len(rest) > 0 {
		if len(rest) != 6 || rest[0] != ' ' {
			return time.Time{}, false
		}
		layout += " -0700"
	}
	t, err := time.Parse(layout, string(b))
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// Sniff reports whether line is an HAProxy log line: an accept date
// after an address and before a frontend name (not a quoted request, as
// in an nginx or Apache line), or one of the event lines.
func Sniff(line []byte) bool {
	if sniffCLF(line) {
		return true
	}
	if i, end, _, ok := acceptDate(line); ok {
		j := bytes.LastIndexByte(line[:i-1], ' ')
		client := line[j+1 : i-1]
		return (bytes.IndexByte(client, ':') >= 0 || string(client) == "unix") && end+1 < len(line) && line[end] == ' ' && line[end+1] != '"'
	}
	return eventKind(line) != 0 || console(line)
}

// console reports whether line is one of HAProxy's console messages on
// stderr: "[NOTICE]   (1) : New worker (8) forked", "[WARNING]  (8) :
// Server be/s1 is DOWN, …", "[ALERT]    (8) : …".
func console(line []byte) bool {
	for _, p := range []string{"[NOTICE]", "[WARNING]", "[ALERT]"} {
		if rest, ok := bytes.CutPrefix(line, []byte(p)); ok {
			rest = bytes.TrimLeft(rest, " ")
			return len(rest) > 0 && rest[0] == '(' && bytes.Contains(rest, []byte(") : "))
		}
	}
	return false
}

// New returns a parser of HAProxy's built-in formats and event lines.
func New() logparse.Parser {
	return func(line []byte, e *logparse.Entry) error {
		*e = logparse.Entry{Kind: logparse.Request, TargetTime: -1}
		if sniffCLF(line) {
			return parseCLF(line, e)
		}
		i, end, t, ok := acceptDate(line)
		if !ok {
			return parseEvent(line, e)
		}
		j := bytes.LastIndexByte(line[:i-1], ' ')
		e.Client, e.Time = string(line[j+1:i-1]), t
		return parseAfterDate(line[end:], e)
	}
}

// parseAfterDate parses what follows the accept date: a connection error
// or the httplog, httpslog or tcplog fields.
func parseAfterDate(b []byte, e *logparse.Entry) error {
	s := logparse.NewScanner(b)
	fe, ok := s.Next()
	if !ok {
		return fmt.Errorf("haproxy: nothing after the accept date")
	}
	if n := len(fe); n > 1 && fe[n-1] == ':' && bytes.IndexByte(fe, '/') > 0 {
		return connError(fe[:n-1], s.Rest(), e)
	}
	bs, _ := s.Next()
	be, srv, ok := bytes.Cut(bs, []byte("/"))
	if !ok {
		return fmt.Errorf("haproxy: %q is not backend/server", bs)
	}
	e.Group, e.Target = string(be), string(srv)
	if e.Target == "<NOSRV>" || e.Target == "<STATS>" || e.Target == "<CACHE>" {
		e.Target = ""
	}
	timers, _ := s.Next()
	tv := bytes.Split(timers, []byte("/"))
	var term []byte
	switch len(tv) {
	case 5: // httplog: TR/Tw/Tc/Tr/Ta (Tq/Tw/Tc/Tr/Tt before 1.7)
		e.TargetTime = logparse.Millis(tv[3])
		var f [7][]byte // status bytes reqcookie respcookie state conns queues
		for k := range f {
			v, ok := s.Next()
			if !ok {
				return fmt.Errorf("haproxy: %d fields after the timers, want 7 (httplog)", k)
			}
			f[k] = v
		}
		e.Status = logparse.Status(bytes.TrimPrefix(f[0], []byte("+")))
		term = f[4]
		if err := request(&s, e); err != nil {
			return err
		}
	case 3: // tcplog: Tw/Tc/Tt
		var f [4][]byte // bytes state conns queues
		for k := range f {
			v, ok := s.Next()
			if !ok {
				return fmt.Errorf("haproxy: %d fields after the timers, want 4 (tcplog)", k)
			}
			f[k] = v
		}
		term = f[1]
	default:
		return fmt.Errorf("haproxy: timers %q are neither TR/Tw/Tc/Tr/Ta (httplog) nor Tw/Tc/Tt (tcplog)", timers)
	}
	if len(term) < 2 {
		return fmt.Errorf("haproxy: termination state %q", term)
	}
	if e.Status > 0 {
		e.TargetStatus = e.Status
	}
	Attribute(term[0], term[1], e)
	// httpslog: fc_err/ssl_fc_err/ssl_c_err/ssl_c_ca_err/resumed.
	if v, ok := s.Next(); ok && e.Cause == "" {
		// ssl_fc_err is written in hex ("0000000000000000" when none).
		if errs := bytes.Split(v, []byte("/")); len(errs) == 5 && (nonZero(errs[0]) || nonZero(errs[1])) {
			e.Cause = failure.CauseClientTLSHandshakeFailed
			e.Signature = fmt.Sprintf("httpslog fc_err %s, ssl_fc_err %s", errs[0], errs[1])
		}
	}
	return nil
}

// nonZero reports whether b is a number other than zero ("-" is none).
func nonZero(b []byte) bool {
	return len(bytes.Trim(b, "0")) > 0 && string(b) != "-"
}

// request reads the captures ({…}, which may hold spaces) and the quoted
// request of an httplog line.
func request(s *logparse.Scanner, e *logparse.Entry) error {
	for {
		rest := s.Rest()
		if len(rest) == 0 {
			return nil // truncated before the request: still a line
		}
		if rest[0] != '{' {
			break
		}
		end := bytes.Index(rest, []byte("} "))
		if end < 0 {
			return nil
		}
		*s = logparse.NewScanner(rest[end+2:])
	}
	v, _ := s.Next()
	e.Method, e.URL = logparse.SplitRequest(v)
	return nil
}

// connError makes an event of an error before a session
// (src/session.c, sess_log_embryonic): "fe/bind: SSL handshake failure".
func connError(fe, msg []byte, e *logparse.Entry) error {
	e.Kind = logparse.Event
	e.Group = string(fe)
	e.Signature = "connection error: " + string(msg)
	if bytes.Contains(msg, []byte("SSL")) || bytes.Contains(msg, []byte("TLS")) {
		e.Cause = failure.CauseClientTLSHandshakeFailed
	}
	return nil
}

// Attribute names the cause from a termination state (§8.5): who ended
// the session (C client, S server, P proxy, L local, R resource, I
// internal, D/U/K killed by HAProxy or an admin, c/s a client or server
// timeout, - normally) and in which phase (R request, Q queue, C
// connect, H headers, D data, L last data, T tarpit, - normally). It
// sets e's Cause, Signature and LBError; e.Status must be set and
// e.TargetStatus be e.Status or 0.
func Attribute(who, phase byte, e *logparse.Entry) {
	sig := fmt.Sprintf("termination state %c%c", who, phase)
	if e.Status > 0 {
		sig += ", status " + strconv.Itoa(e.Status)
	}
	set := func(cause string) {
		e.Cause, e.Signature = cause, sig
		if e.Status >= 500 {
			e.LBError, e.TargetStatus = true, 0
		}
	}
	switch {
	case who == '-' && e.Status >= 500 && e.Target != "":
		e.Cause, e.Signature = failure.CauseTarget5xx, sig+" (the server's own answer)"
	case who == '-':
	case who == 'C' || who == 'c':
		// A 5xx here is still HAProxy's answer (set counts it so).
		set(failure.CauseClientClosed)
	case who == 'L':
		// HAProxy answered itself (http-request return, redirect,
		// stats, cache): an LB status, never a cause.
		e.Excluded, e.Signature, e.TargetStatus = true, sig+" (answered by HAProxy itself)", 0
		e.LBError = e.Status >= 500
	case who == 'P' && (phase == 'R' || phase == 'T'):
		set(failure.CauseRequestDenied)
	case e.Target == "" && (e.Status == 503 || phase == 'C' || phase == 'Q'):
		// <NOSRV>: no server could take it (logged SC-- as well).
		set(failure.CauseNoHealthyTargets)
	case who == 'S' && phase == 'C':
		set(failure.CauseTargetNotListening)
	case who == 's' && phase == 'C':
		set(failure.CauseTargetPortFiltered)
	case (who == 's' || who == 'S') && phase == 'Q':
		// timeout queue: every server at its maxconn.
		set(failure.CauseConnectionLimit)
	case who == 'S' && phase == 'H':
		set(failure.CauseTargetClosed)
	case who == 's' && (phase == 'H' || phase == 'D' || phase == 'L'):
		set(failure.CauseTargetResponseTimeout)
	case who == 'S' && (phase == 'D' || phase == 'L'):
		set(failure.CauseResponseIncomplete)
	case who == 'P' && (phase == 'H' || phase == 'D' || phase == 'L'):
		set(failure.CauseInvalidResponse)
	case who == 'D' || who == 'K' || who == 'U':
		set(failure.CauseDrainingTarget)
	default: // R, I, P in other phases
		set(failure.CauseLBError)
		if e.Status < 500 {
			e.LBError = false
		}
	}
}

// Event line kinds.
const (
	evNone = iota
	evServer
	evNoServer
	evConnect
	evProxy
)

func eventKind(line []byte) int {
	switch {
	case bytes.Contains(line, []byte("Server ")) && bytes.IndexByte(line, '/') > 0 &&
		(bytes.Contains(line, []byte(" is ")) || bytes.Contains(line, []byte(" was "))) ||
		bytes.Contains(line, []byte("Health check for ")):
		return evServer
	case bytes.Contains(line, []byte("has no server available!")):
		return evNoServer
	case bytes.Contains(line, []byte("Connect from ")) && bytes.Contains(line, []byte(" to ")):
		return evConnect
	case bytes.HasPrefix(line, []byte("Proxy ")) && (bytes.HasSuffix(line, []byte(" started.")) || bytes.Contains(line, []byte(" stopped"))),
		bytes.HasPrefix(line, []byte("Stopping ")) && bytes.Contains(line, []byte(" in ")):
		return evProxy
	}
	return evNone
}

// parseEvent parses a line without an accept date.
func parseEvent(line []byte, e *logparse.Entry) error {
	e.Kind = logparse.Event
	switch eventKind(line) {
	case evNoServer:
		_, rest, _ := bytes.Cut(line, []byte("backend "))
		if name, _, ok := bytes.Cut(rest, []byte(" ")); ok {
			e.Group = string(bytes.Trim(name, "'"))
		}
		e.Cause, e.Signature = failure.CauseNoHealthyTargets, "backend has no server available!"
		return nil
	case evConnect:
		// "Connect from 10.0.0.1:4000 to 10.0.0.2:80 (fe/HTTP)": a
		// connection logged without option httplog or tcplog.
		_, rest, _ := bytes.Cut(line, []byte("Connect from "))
		from, rest, _ := bytes.Cut(rest, []byte(" to "))
		e.Client = string(from)
		if _, fe, ok := bytes.Cut(rest, []byte("(")); ok {
			fe, _, _ = bytes.Cut(fe, []byte("/"))
			e.Group = string(fe)
		}
		return nil
	case evProxy:
		return logparse.ErrSkip
	case evServer:
		return serverEvent(line, e)
	}
	if console(line) {
		return logparse.ErrSkip // a notice with nothing to count
	}
	return fmt.Errorf("haproxy: no accept date and no event")
}

// serverEvent parses a server state change or health check result
// (src/server.c srv_update_status, src/check.c).
func serverEvent(line []byte, e *logparse.Entry) error {
	i := bytes.Index(line, []byte("Health check for "))
	if i >= 0 {
		i += len("Health check for ")
		if j := bytes.Index(line[i:], []byte("server ")); j >= 0 && j < 8 { // "backup server", "server"
			i += j + len("server ")
		}
	} else {
		i = bytes.Index(line, []byte("Server ")) + len("Server ")
	}
	name, rest, _ := bytes.Cut(line[i:], []byte(" "))
	be, srv, ok := bytes.Cut(name, []byte("/"))
	if !ok {
		return fmt.Errorf("haproxy: server %q is not backend/server", name)
	}
	e.Group, e.Target = string(be), string(srv)
	reason := field(rest, "reason: ")
	info := quoted(rest, `info: "`)
	state, _, _ := bytes.Cut(rest, []byte(","))
	e.Signature = "server " + string(bytes.TrimSuffix(state, []byte(".")))
	if reason != nil {
		e.Signature += ", reason: " + string(reason)
	}
	if info != nil {
		e.Signature += `, info: "` + string(info) + `"`
	}
	up := bytes.HasPrefix(rest, []byte("is UP")) || bytes.HasPrefix(rest, []byte("succeeded")) ||
		bytes.HasPrefix(rest, []byte("was DOWN and now enters")) && !bytes.Contains(rest, []byte("maintenance"))
	if up {
		e.Signature = ""
		return nil
	}
	lower := bytes.ToLower(append(append([]byte(nil), info...), rest...))
	switch {
	case bytes.Contains(rest, []byte("maintenance")):
		// An operator's or the resolver's doing: only a DNS failure is a
		// cause ("DNS NX status", "No IP for server", src/resolvers.c).
		if bytes.Contains(rest, []byte("DNS")) || bytes.Contains(rest, []byte("No IP")) || bytes.Contains(rest, []byte("resolution")) {
			e.Cause = failure.CauseDNSResolutionFailed
		}
	case bytes.Contains(reason, []byte("Layer4 connection problem")) && bytes.Contains(lower, []byte("refused")):
		e.Cause = failure.CauseTargetNotListening
	case bytes.Contains(reason, []byte("Layer4 connection problem")), bytes.Contains(reason, []byte("Socket error")):
		e.Cause = failure.CauseTargetUnreachable
	case bytes.Contains(reason, []byte("Layer4 timeout")):
		e.Cause = failure.CauseTargetPortFiltered
	case bytes.Contains(reason, []byte("Layer6")):
		e.Cause = failure.CauseTLSHandshakeFailed
	case bytes.Contains(reason, []byte("Layer7 wrong status")):
		e.Cause = failure.CauseHealthCheckStatus
	case bytes.Contains(reason, []byte("Layer7 timeout")):
		e.Cause = failure.CauseHealthCheckTimeout
	case bytes.Contains(reason, []byte("Layer7")):
		e.Cause = failure.CauseInvalidResponse
	}
	if e.Cause == "" {
		e.Signature = ""
	}
	return nil
}

// field returns the text after key up to the next ", " or ".".
func field(b []byte, key string) []byte {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return nil
	}
	v := b[i+len(key):]
	if j := bytes.Index(v, []byte(", ")); j >= 0 {
		v = v[:j]
	}
	return bytes.TrimSuffix(v, []byte("."))
}

// quoted returns the text after key up to the next '"'.
func quoted(b []byte, key string) []byte {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return nil
	}
	v := b[i+len(key):]
	if j := bytes.IndexByte(v, '"'); j >= 0 {
		v = v[:j]
	}
	return v
}
