package haproxy

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/logparse"
	"github.com/fulcrumlb/fulcrum/internal/logparse/logformat"
)

// varNames are the log-format variables of the HAProxy Configuration
// Manual §8.2.6 "Custom log format"; the longest name that matches wins
// ("%Tr" before "%T", "%tsc" before "%ts").
func varNames() []string {
	return []string{
		"ac", "B", "bc", "bi", "bp", "b", "bq", "ci", "cp", "CC", "CS", "fc", "fi", "fp", "f", "ft", "fn",
		"hrl", "hr", "hsl", "hs", "H", "HM", "HPO", "HP", "HQ", "HU", "HV", "ID", "lc", "ms", "pid", "rc", "rt",
		"r", "sc", "si", "sp", "sq", "sslc", "sslv", "s", "ST", "Ta", "Tc", "Td", "Th", "Ti", "Tl", "Tq", "TR",
		"Tr", "Ts", "Tt", "Tu", "Tw", "trg", "trl", "tr", "tsc", "ts", "t", "T", "U",
	}
}

// Compile returns a parser of lines written by the log-format string
// format, as written after `log-format` in haproxy.cfg (surrounding
// double quotes, `\ ` and `\"` as the configuration reads them; §2.2 and
// §8.2.6). Variables it knows set the entry: %ci/%cp the client, %tr %t
// %T %Tl %trg %trl the time, %b and %s the backend and server, %ST the
// status, %Tr the server's time, %tsc or %ts the termination state, %r
// (or %HM %HU) the request; others, and %[sample] expressions, are
// matched and ignored.
func Compile(format string) (logparse.Parser, error) {
	parts, err := splitFormat(format)
	if err != nil {
		return nil, err
	}
	t, err := logformat.Compile(parts)
	if err != nil {
		return nil, fmt.Errorf("haproxy log-format %q: %w", format, err)
	}
	return func(line []byte, e *logparse.Entry) error {
		*e = logparse.Entry{Kind: logparse.Request, TargetTime: -1}
		var buf [48][]byte
		vals, err := t.Match(line, buf[:0])
		if err != nil {
			return fmt.Errorf("haproxy log-format: %w", err)
		}
		var term []byte
		var port string
		for i, v := range vals {
			switch t.Vars[i] {
			case "ci:cp", "ci":
				e.Client = string(v)
			case "cp":
				port = string(v)
			case "tr", "t", "T", "Tl", "trg", "trl":
				tm, ok := ParseDate(bytes.Trim(v, "[]"))
				if !ok {
					return fmt.Errorf("haproxy log-format: %%%s %q is not a date", t.Vars[i], v)
				}
				e.Time = tm
			case "Ts":
				if n, err := strconv.ParseInt(string(v), 10, 64); err == nil && e.Time.IsZero() {
					e.Time = time.Unix(n, 0).UTC()
				}
			case "b":
				e.Group = logparse.Dash(v)
			case "s":
				e.Target = string(v)
				if e.Target == "<NOSRV>" || e.Target == "<STATS>" || e.Target == "<CACHE>" || e.Target == "-" {
					e.Target = ""
				}
			case "ST":
				if !number(v) {
					return fmt.Errorf("haproxy log-format: %%ST %q is not a status", v)
				}
				e.Status = logparse.Status(bytes.TrimPrefix(v, []byte("+")))
			case "Tr":
				if !number(v) {
					return fmt.Errorf("haproxy log-format: %%Tr %q is not a time", v)
				}
				e.TargetTime = logparse.Millis(v)
			case "tsc", "ts":
				if len(v) != 2 && len(v) != 4 {
					return fmt.Errorf("haproxy log-format: %%%s %q is not a termination state", t.Vars[i], v)
				}
				term = v
			case "r":
				e.Method, e.URL = logparse.SplitRequest(v)
			case "HM":
				e.Method = logparse.Dash(v)
			case "HU":
				e.URL = logparse.Dash(v)
			}
		}
		if port != "" && e.Client != "" {
			e.Client += ":" + port
		}
		if e.Status > 0 {
			e.TargetStatus = e.Status
		}
		if len(term) >= 2 {
			Attribute(term[0], term[1], e)
		} else if e.Status >= 500 {
			// No state logged: the status alone cannot say who failed.
			Attribute('-', '-', e)
		}
		return nil
	}, nil
}

// number reports whether b is an integer, signed or not ("-1", "+5").
func number(b []byte) bool {
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		b = b[1:]
	}
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// splitFormat splits a log-format string into literals and variables;
// "%{+Q}r" becomes the variable between two quotes, and "%ci:%cp" one
// address variable (an IPv6 client holds colons).
func splitFormat(format string) ([]logformat.Part, error) {
	f := strings.TrimSpace(format)
	if len(f) >= 2 && f[0] == '"' && f[len(f)-1] == '"' {
		f = f[1 : len(f)-1]
	}
	names := varNames()
	var parts []logformat.Part
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			parts = append(parts, logformat.Part{Literal: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(f); i++ {
		c := f[i]
		switch {
		case c == '\\' && i+1 < len(f):
			i++
			lit.WriteByte(f[i])
		case c == '%' && i+1 < len(f) && f[i+1] == '%':
			i++
			lit.WriteByte('%')
		case c == '%':
			i++
			quote := false
			if i < len(f) && f[i] == '{' {
				end := strings.IndexByte(f[i:], '}')
				if end < 0 {
					return nil, fmt.Errorf("haproxy log-format: %%{ not closed at byte %d", i)
				}
				quote = strings.Contains(f[i:i+end], "+Q")
				i += end + 1
			}
			var name string
			if i < len(f) && f[i] == '[' {
				end := strings.IndexByte(f[i:], ']')
				if end < 0 {
					return nil, fmt.Errorf("haproxy log-format: %%[ not closed at byte %d", i)
				}
				name = f[i : i+end+1]
			} else {
				for _, n := range names {
					if strings.HasPrefix(f[i:], n) && len(n) > len(name) {
						name = n
					}
				}
				if name == "" {
					return nil, fmt.Errorf("haproxy log-format: unknown variable at byte %d of %q", i-1, format)
				}
			}
			i += len(name) - 1
			if quote {
				lit.WriteByte('"')
			}
			flush()
			if name == "cp" && len(parts) >= 2 && parts[len(parts)-1].Literal == ":" && parts[len(parts)-2].Var == "ci" {
				parts = parts[:len(parts)-1]
				parts[len(parts)-1].Var = "ci:cp"
			} else {
				// Captures are left out, with their separator, when
				// none are configured (§8.8).
				capture := strings.HasPrefix(name, "hr") || strings.HasPrefix(name, "hs")
				spaces := capture || name == "T" || name == "Tl" || name == "trl" || name == "trg" || name == "r"
				parts = append(parts, logformat.Part{Var: name, Optional: capture, Spaces: spaces})
			}
			if quote {
				lit.WriteByte('"')
			}
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return parts, nil
}
