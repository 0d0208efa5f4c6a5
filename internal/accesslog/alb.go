package accesslog

import (
	"strconv"
	"time"
)

// AppendALB appends r as one ALB access log line, with a trailing newline:
// the 29 documented fields then conn_trace_id, transformed_host,
// transformed_uri and request_transform_status (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-access-logs.html),
// quoted and with "-"/-1 sentinels exactly as ALB writes them. trace_id
// (field 18) is the X-Amzn-Trace-Id sent to the target (r.AmznTraceID),
// as on ALB. One quoted field follows ALB's last, Fulcrum's request id
// (r.TraceID, the X-Request-Id): ALB's documentation tells parsers to
// ignore fields at the end of an entry that they do not expect, so ALB
// tools read the line unchanged. Quoted values have '"' and '\' escaped
// and control bytes replaced, so a line always parses.
func AppendALB(b []byte, r *Record) []byte {
	b = append(b, r.Type...)
	b = append(b, ' ')
	b = appendTime(b, r.Time)
	b = append(b, ' ')
	b = appendBare(b, r.Listener)
	b = append(b, ' ')
	b = appendBare(b, r.Client)
	b = append(b, ' ')
	b = appendBare(b, r.Target)
	b = append(b, ' ')
	b = appendSeconds(b, r.RequestProcessing)
	b = append(b, ' ')
	b = appendSeconds(b, r.TargetProcessing)
	b = append(b, ' ')
	b = appendSeconds(b, r.ResponseProcessing)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(r.ELBStatus), 10)
	b = append(b, ' ')
	b = appendStatus(b, r.TargetStatus)
	b = append(b, ' ')
	b = strconv.AppendInt(b, r.ReceivedBytes, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, r.SentBytes, 10)
	b = append(b, ' ', '"')
	if r.Method == "" {
		b = append(b, "- - - "...)
	} else {
		b = appendEscaped(b, r.Method)
		b = append(b, ' ')
		b = appendEscaped(b, r.URL)
		b = append(b, ' ')
		b = appendEscaped(b, r.Proto)
	}
	b = append(b, '"', ' ')
	b = appendQuoted(b, logUserAgent(r.UserAgent))
	b = append(b, ' ')
	b = appendBare(b, r.SSLCipher)
	b = append(b, ' ')
	b = appendBare(b, r.SSLProtocol)
	b = append(b, ' ')
	b = appendBare(b, r.TargetGroup)
	b = append(b, ' ')
	b = appendQuoted(b, r.AmznTraceID)
	b = append(b, ' ')
	b = appendQuoted(b, r.DomainName)
	b = append(b, ` "-" `...) // chosen_cert_arn
	if r.RulePriority < 0 {
		b = append(b, '-')
	} else {
		b = strconv.AppendInt(b, int64(r.RulePriority), 10)
	}
	b = append(b, ' ')
	b = appendTime(b, r.RequestCreation)
	switch {
	case r.Action != "":
		b = append(b, ' ')
		b = appendQuoted(b, r.Action)
	case r.Forwarded:
		b = append(b, ` "forward"`...)
	default:
		b = append(b, ` "-"`...)
	}
	b = append(b, ' ')
	b = appendQuoted(b, r.RedirectURL)
	b = append(b, ` "`...)
	b = append(b, r.Error.Reason()...)
	b = append(b, `" "`...)
	b = appendAttempts(b, r.Attempts, func(b []byte, a *Attempt) []byte { return appendEscaped(b, a.Target) })
	b = append(b, `" "`...)
	b = appendAttempts(b, r.Attempts, func(b []byte, a *Attempt) []byte { return appendStatus(b, a.Status) })
	b = append(b, `" `...)
	b = appendQuoted(b, r.Classification)
	b = append(b, ' ')
	b = appendQuoted(b, r.ClassificationReason)
	b = append(b, ' ')
	b = appendBare(b, r.ConnID)
	b = append(b, ` "-" "-" "-" `...) // transformed_host, transformed_uri, request_transform_status
	b = appendQuoted(b, r.TraceID)    // Fulcrum's request id, after ALB's fields
	return append(b, '\n')
}

// appendAttempts writes one value per attempt, space-separated, or "-"
// when there was none (ALB's target:port_list and target_status_code_list).
func appendAttempts(b []byte, as []Attempt, value func([]byte, *Attempt) []byte) []byte {
	if len(as) == 0 {
		return append(b, '-')
	}
	for i := range as {
		if i > 0 {
			b = append(b, ' ')
		}
		b = value(b, &as[i])
	}
	return b
}

// appendTime writes ISO 8601 UTC with microseconds, as ALB does:
// 2006-01-02T15:04:05.000000Z, or "-" for the zero time. It writes the
// digits itself: time.Time.AppendFormat parses its layout on every call,
// and two timestamps a line made it a quarter of the encoder's cost.
func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, '-')
	}
	t = t.UTC()
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, "2006-01-02T15:04:05.000000Z")
	}
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	b = append(b, '.')
	b = appendDigits(b, t.Nanosecond()/1000, 6)
	return append(b, 'Z')
}

// appendDigits writes v, 0 <= v < 10^width, as exactly width decimal
// digits, zero-padded on the left.
func appendDigits(b []byte, v, width int) []byte {
	n := len(b) + width
	b = append(b, "000000"[:width]...)
	for i := n - 1; v > 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return b
}

// appendSeconds writes d in seconds with millisecond precision, or -1:
// what strconv.AppendFloat(b, d.Seconds(), 'f', 3, 64) writes, computed
// in integers. A duration that sits exactly halfway between two
// milliseconds goes to AppendFloat, whose rounding of the binary
// float decides those.
func appendSeconds(b []byte, d time.Duration) []byte {
	if d < 0 {
		return append(b, "-1"...)
	}
	ms, rem := d/time.Millisecond, d%time.Millisecond
	switch {
	case rem == time.Millisecond/2:
		return strconv.AppendFloat(b, d.Seconds(), 'f', 3, 64)
	case rem > time.Millisecond/2:
		ms++
	}
	b = strconv.AppendInt(b, int64(ms/1000), 10)
	b = append(b, '.')
	return appendDigits(b, int(ms%1000), 3)
}

func appendStatus(b []byte, code int) []byte {
	if code == 0 {
		return append(b, '-')
	}
	return strconv.AppendInt(b, int64(code), 10)
}

// appendBare writes an unquoted field: "-" when empty, spaces and control
// bytes replaced so the field count never changes. The clean prefix, all
// of a usual value, is copied at once.
func appendBare(b []byte, s string) []byte {
	if s == "" {
		return append(b, '-')
	}
	i := 0
	for i < len(s) && !bareUnsafe(s[i]) {
		i++
	}
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		c := s[i]
		if bareUnsafe(c) {
			c = '_'
		}
		b = append(b, c)
	}
	return b
}

// bareUnsafe reports whether c cannot stand in an unquoted field.
func bareUnsafe(c byte) bool { return c <= ' ' || c == '"' || c == 0x7f }

// appendQuoted writes a quoted field, "-" when empty.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	if s == "" {
		b = append(b, '-')
	} else {
		b = appendEscaped(b, s)
	}
	return append(b, '"')
}

// appendEscaped escapes '"' and '\' and writes control bytes as \xHH.
// The clean prefix, all of a usual value, is copied at once.
func appendEscaped(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	i := quotedSafePrefix(s)
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < ' ' || c == 0x7f:
			b = append(b, '\\', 'x', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return b
}

// quotedSafePrefix returns the length of s's longest prefix with no byte
// that quotedUnsafe reports. It tests eight bytes at a time (the bit
// tricks of "Bit Twiddling Hacks", "Determine if a word has a byte less
// than n" and "... has a zero byte",
// https://graphics.stanford.edu/~seander/bithacks.html#HasLessInWord),
// which answer exactly whether any of the eight is below ' ', '"', '\\'
// or DEL, and finds the byte itself one at a time: the log's quoted
// fields (URL, User-Agent, trace ids) are usually clean throughout, and
// an ALB line encodes in 15-20 % less time (BenchmarkAppendALB: 333-357
// ns before, 263-291 after, on the 2-vCPU machine of docs/performance.md).
func quotedSafePrefix(s string) int {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	zero := func(v uint64) uint64 { return (v - ones) & ^v & highs }
	i := 0
	for ; i+8 <= len(s); i += 8 {
		v := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		if (v-ones*' ')&^v&highs|zero(v^(ones*'"'))|zero(v^(ones*'\\'))|zero(v^(ones*0x7f)) != 0 {
			break
		}
	}
	for i < len(s) && !quotedUnsafe(s[i]) {
		i++
	}
	return i
}

// quotedUnsafe reports whether c must be escaped in a quoted field.
func quotedUnsafe(c byte) bool { return c == '"' || c == '\\' || c < ' ' || c == 0x7f }
