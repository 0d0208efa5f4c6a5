// Package envelope finds a load-balancer log line inside the envelope a
// log shipper, container runtime or CLI put around it, so the format
// parsers in internal/logparse see the bare line whatever way it was
// collected.
//
// Envelopes, each named as Unwrap reports it, with its public source:
//
//   - "syslog-rfc3164": `<134>Oct 11 22:14:15 host haproxy[123]: …`, host
//     optional (RFC 3164 §4.1: PRI, TIMESTAMP, HOSTNAME, TAG).
//   - "syslog-rfc5424": `<165>1 2003-10-11T22:14:15.003Z host app - - - …`
//     (RFC 5424 §6: PRI VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID
//     STRUCTURED-DATA MSG).
//   - "syslog-short": `Oct 11 22:14:15 host haproxy[123]: …`, journalctl's
//     default `-o short` and rsyslog's file format (journalctl(1),
//     OUTPUT OPTIONS).
//   - "journald-short-iso": `2024-10-11T22:14:15+0000 host haproxy[123]: …`
//     (journalctl -o short-iso and short-iso-precise).
//   - "syslog-rfc3339": `2024-10-11T22:14:15.123456+00:00 host tag: …`
//     (rsyslog's RSYSLOG_FileFormat).
//   - "journald-json": `{"MESSAGE":"…","__REALTIME_TIMESTAMP":"…"}`
//     (journalctl -o json; systemd.journal-fields(7)).
//   - "docker-timestamps": `2024-01-02T03:04:05.123456789Z …`, RFC 3339
//     with nanoseconds in UTC, as `docker logs --timestamps` and `kubectl
//     logs --timestamps` print it (Docker CLI reference, docker container
//     logs; kubectl reference, kubectl logs).
//   - "docker-compose": `envoy-1  | …` (Docker Compose reference, docker
//     compose logs).
//   - "kubectl-prefix": `[pod/name/container] …` (kubectl logs --prefix).
//   - "aws-logs-tail": `2024-01-02T03:04:05.123000+00:00 stream-name …`
//     (AWS CLI reference, aws logs tail, --format detailed).
//   - "json-message": Loki, Logstash, CloudWatch Logs exports, Docker's
//     json-file driver and the like: a JSON object whose "message" or
//     "log" string is the line, with the time in "@timestamp", "timestamp"
//     (RFC 3339, or epoch milliseconds as CloudWatch's) or "time".
//
// Envelopes nest (kubectl --prefix with --timestamps, syslog inside a
// compose prefix); Unwrap peels up to maxDepth of them.
package envelope

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// maxDepth is the most envelopes Unwrap peels from one line.
const maxDepth = 4

// Unwrapped is a line with its envelopes peeled.
type Unwrapped struct {
	// Line is the inner line. It aliases the input line except for JSON
	// envelopes, whose message is decoded into a new slice.
	Line []byte
	// Envelope names the envelopes peeled, outermost first, joined by
	// "+" ("kubectl-prefix+docker-timestamps"); "" for a bare line.
	Envelope string
	// Time is the outermost timestamp an envelope carried; zero when none
	// did. RFC 3164 and journalctl short stamps carry no year: their Time
	// has year 0, in UTC.
	Time time.Time
}

// Unwrap returns line with every envelope around it removed (up to
// maxDepth). A line in no known envelope comes back as it is, with
// Envelope "". It never fails and keeps line only through Line.
//
// Some bare formats look like an envelope: a Classic ELB line starts with
// the same RFC 3339 stamp as `docker logs --timestamps`. A caller that
// can check the inner line should try Layers from the innermost out.
func Unwrap(line []byte) Unwrapped {
	var buf [maxDepth + 1]Unwrapped
	l := Layers(line, buf[:0])
	return l[len(l)-1]
}

// Layers appends to dst the line as read (Envelope "") and then each
// successive peel, so the last element is what Unwrap returns. Each
// element's Envelope and Time are cumulative, as Unwrap reports them.
func Layers(line []byte, dst []Unwrapped) []Unwrapped {
	u := Unwrapped{Line: line}
	dst = append(dst, u)
	for range maxDepth {
		inner, name, t, ok := peel(u.Line)
		if !ok || len(inner) == len(u.Line) {
			break
		}
		if u.Envelope == "" {
			u.Envelope = name
		} else {
			u.Envelope += "+" + name
		}
		if u.Time.IsZero() {
			u.Time = t
		}
		u.Line = inner
		dst = append(dst, u)
	}
	return dst
}

// peel removes one envelope.
func peel(b []byte) (inner []byte, name string, t time.Time, ok bool) {
	if len(b) == 0 {
		return nil, "", time.Time{}, false
	}
	switch c := b[0]; {
	case c == '<':
		return syslogPRI(b)
	case c == '{':
		return jsonMessage(b)
	case c == '[':
		if bytes.HasPrefix(b, []byte("[pod/")) {
			if i := bytes.Index(b, []byte("] ")); i > 0 && bytes.IndexByte(b[:i], ' ') < 0 {
				return b[i+2:], "kubectl-prefix", time.Time{}, true
			}
		}
		return nil, "", time.Time{}, false
	case c >= '0' && c <= '9':
		if inner, name, t, ok := isoStamped(b); ok {
			return inner, name, t, true
		}
	case c >= 'A' && c <= 'Z':
		if t, n, ok := bsdStamp(b); ok {
			if inner, ok := hostTag(b[n:], false); ok {
				return inner, "syslog-short", t, true
			}
		}
	}
	return compose(b)
}

// syslogPRI handles the RFC 3164 and 5424 forms, both starting "<PRI>".
func syslogPRI(b []byte) ([]byte, string, time.Time, bool) {
	end := bytes.IndexByte(b, '>')
	if end < 2 || end > 4 {
		return nil, "", time.Time{}, false
	}
	if _, err := strconv.ParseUint(string(b[1:end]), 10, 8); err != nil {
		return nil, "", time.Time{}, false
	}
	rest := b[end+1:]
	if len(rest) > 2 && rest[0] >= '1' && rest[0] <= '9' && rest[1] == ' ' {
		return rfc5424(rest[2:])
	}
	t, n, ok := bsdStamp(rest)
	if !ok {
		// RFC 3164 §4.3.2: a relay may pass a message with no timestamp.
		return rest, "syslog-rfc3164", time.Time{}, true
	}
	if inner, ok := hostTag(rest[n:], true); ok {
		return inner, "syslog-rfc3164", t, true
	}
	return rest[n:], "syslog-rfc3164", t, true
}

// rfc5424 parses what follows "<PRI>VERSION ": TIMESTAMP HOSTNAME
// APP-NAME PROCID MSGID STRUCTURED-DATA [SP MSG] (RFC 5424 §6).
func rfc5424(b []byte) ([]byte, string, time.Time, bool) {
	var t time.Time
	for i := range 5 {
		sp := bytes.IndexByte(b, ' ')
		if sp < 0 {
			return nil, "", time.Time{}, false
		}
		if i == 0 && string(b[:sp]) != "-" {
			var err error
			if t, err = time.Parse(time.RFC3339Nano, string(b[:sp])); err != nil {
				return nil, "", time.Time{}, false
			}
		}
		b = b[sp+1:]
	}
	// STRUCTURED-DATA: "-" or one or more [SD-ELEMENT], whose quoted
	// PARAM-VALUEs escape '"', '\' and ']' with '\' (§6.3.3).
	switch {
	case len(b) > 0 && b[0] == '-':
		b = b[1:]
	case len(b) > 0 && b[0] == '[':
		i, quoted := 0, false
		for i < len(b) {
			c := b[i]
			switch {
			case quoted && c == '\\':
				i++
			case c == '"':
				quoted = !quoted
			case !quoted && c == ']' && (i+1 == len(b) || b[i+1] != '['):
				i++
				goto done
			}
			i++
		}
	done:
		b = b[min(i, len(b)):]
	default:
		return nil, "", time.Time{}, false
	}
	if len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // §6.4: MSG may start with a BOM
	return b, "syslog-rfc5424", t, true
}

// bsdStamp parses "Mmm dd hh:mm:ss " (the day space-padded, RFC 3164
// §4.1.2) and returns the time (year 0, UTC) and the bytes it used.
func bsdStamp(b []byte) (time.Time, int, bool) {
	if len(b) < 16 || b[3] != ' ' || b[15] != ' ' {
		return time.Time{}, 0, false
	}
	s := string(b[:15])
	if s[4] == ' ' {
		s = s[:4] + "0" + s[5:]
	}
	t, err := time.Parse(time.Stamp, s)
	if err != nil {
		t, err = time.Parse("Jan 02 15:04:05", s)
		if err != nil {
			return time.Time{}, 0, false
		}
	}
	return t, 16, true
}

// hostTag strips "HOST TAG: " or, when hostOptional, "TAG: ", where TAG
// is "ident", "ident[pid]" (RFC 3164 §4.1.3, §5.3).
func hostTag(b []byte, hostOptional bool) ([]byte, bool) {
	first, rest, ok := bytes.Cut(b, []byte(" "))
	if !ok {
		return nil, false
	}
	if hostOptional && isTag(first) {
		return rest, true
	}
	tag, rest, ok := bytes.Cut(rest, []byte(" "))
	if !ok || len(first) == 0 || !isTag(tag) {
		return nil, false
	}
	return rest, true
}

// isTag reports whether b is "ident:" or "ident[pid]:".
func isTag(b []byte) bool {
	if len(b) < 2 || b[len(b)-1] != ':' {
		return false
	}
	b = b[:len(b)-1]
	if i := bytes.IndexByte(b, '['); i >= 0 {
		if b[len(b)-1] != ']' || i == 0 {
			return false
		}
		b = b[:i]
	}
	for _, c := range b {
		if c == ':' || c == '[' || c == ']' || c == '"' {
			return false
		}
	}
	return true
}

// isoStamped handles lines starting with an RFC 3339 / ISO 8601 stamp:
// docker and kubectl --timestamps (Z, no tag), journald short-iso (+hhmm
// with host and tag), rsyslog (+hh:mm with host and tag) and aws logs
// tail (+hh:mm with a stream name).
func isoStamped(b []byte) ([]byte, string, time.Time, bool) {
	if len(b) < 21 || b[4] != '-' || b[7] != '-' || b[10] != 'T' {
		return nil, "", time.Time{}, false
	}
	sp := bytes.IndexByte(b, ' ')
	if sp < 20 {
		return nil, "", time.Time{}, false
	}
	stamp, rest := string(b[:sp]), b[sp+1:]
	if t, err := time.Parse(time.RFC3339Nano, stamp); err == nil {
		if inner, ok := hostTag(rest, false); ok {
			return inner, "syslog-rfc3339", t, true
		}
		if stamp[len(stamp)-1] == 'Z' {
			return rest, "docker-timestamps", t, true
		}
		stream, msg, ok := bytes.Cut(rest, []byte(" "))
		if !ok || len(stream) == 0 {
			return nil, "", time.Time{}, false
		}
		return msg, "aws-logs-tail", t, true
	}
	// journalctl short-iso: "2006-01-02T15:04:05-0700", and
	// short-iso-precise with microseconds.
	if t, err := time.Parse("2006-01-02T15:04:05.999999999-0700", stamp); err == nil {
		if inner, ok := hostTag(rest, false); ok {
			return inner, "journald-short-iso", t, true
		}
	}
	return nil, "", time.Time{}, false
}

// compose strips a docker compose "service-1  | " prefix.
func compose(b []byte) ([]byte, string, time.Time, bool) {
	i := 0
	for i < len(b) && (b[i] >= 'a' && b[i] <= 'z' || b[i] >= 'A' && b[i] <= 'Z' || b[i] >= '0' && b[i] <= '9' || b[i] == '-' || b[i] == '_' || b[i] == '.') {
		i++
	}
	if i == 0 || i+1 >= len(b) || b[i] != ' ' {
		return nil, "", time.Time{}, false
	}
	for i < len(b) && b[i] == ' ' {
		i++
	}
	if i >= len(b) || b[i] != '|' {
		return nil, "", time.Time{}, false
	}
	i++
	if i < len(b) && b[i] == ' ' {
		i++
	}
	return b[i:], "docker-compose", time.Time{}, true
}

// jsonEnvelope holds the fields JSON envelopes keep the line and time in.
type jsonEnvelope struct {
	JournalMessage  json.RawMessage `json:"MESSAGE"`
	JournalRealtime string          `json:"__REALTIME_TIMESTAMP"`
	Message         *string         `json:"message"`
	Log             *string         `json:"log"`
	AtTimestamp     string          `json:"@timestamp"`
	Timestamp       json.RawMessage `json:"timestamp"`
	Time            string          `json:"time"`
}

// jsonMessage unwraps journald JSON and message/log JSON envelopes.
func jsonMessage(b []byte) ([]byte, string, time.Time, bool) {
	if !bytes.Contains(b, []byte(`"MESSAGE"`)) && !bytes.Contains(b, []byte(`"message"`)) && !bytes.Contains(b, []byte(`"log"`)) {
		return nil, "", time.Time{}, false
	}
	var j jsonEnvelope
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, "", time.Time{}, false
	}
	if len(j.JournalMessage) > 0 {
		// MESSAGE is a string, or an array of bytes when it is not valid
		// UTF-8 (systemd's JSON format documentation).
		var s string
		if json.Unmarshal(j.JournalMessage, &s) != nil {
			var raw []byte
			var ints []int
			if json.Unmarshal(j.JournalMessage, &ints) != nil {
				return nil, "", time.Time{}, false
			}
			for _, n := range ints {
				raw = append(raw, byte(n))
			}
			s = string(raw)
		}
		var t time.Time
		if us, err := strconv.ParseInt(j.JournalRealtime, 10, 64); err == nil {
			t = time.UnixMicro(us).UTC()
		}
		return trimNL(s), "journald-json", t, true
	}
	msg := j.Message
	if msg == nil {
		msg = j.Log
	}
	if msg == nil {
		return nil, "", time.Time{}, false
	}
	var t time.Time
	for _, s := range []string{j.AtTimestamp, j.Time, unquote(j.Timestamp)} {
		if p, err := time.Parse(time.RFC3339Nano, s); err == nil {
			t = p
			break
		}
	}
	if t.IsZero() && len(j.Timestamp) > 0 {
		if ms, err := strconv.ParseInt(string(j.Timestamp), 10, 64); err == nil {
			t = time.UnixMilli(ms).UTC()
		}
	}
	return trimNL(*msg), "json-message", t, true
}

func unquote(r json.RawMessage) string {
	var s string
	if json.Unmarshal(r, &s) != nil {
		return ""
	}
	return s
}

// trimNL drops the newline Docker's json-file driver keeps in "log".
func trimNL(s string) []byte {
	return []byte(strings.TrimRight(s, "\r\n"))
}
