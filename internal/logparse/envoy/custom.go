package envoy

import (
	"fmt"
	"strings"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/logparse"
	"github.com/fulcrumlb/fulcrum/internal/logparse/logformat"
)

// Compile returns a parser of lines written by an Envoy text format
// string (access_log's format, "Command operators",
// https://www.envoyproxy.io/docs/envoy/latest/configuration/observability/access_log/usage):
// %OPERATOR%, %OPERATOR(arg)% and %OPERATOR(arg):N% are variables, the
// rest literals; a trailing "\n" is dropped. The operators read are
// %START_TIME% (RFC 3339; a START_TIME with a strftime argument other
// than that leaves the line without a time), %REQ(:METHOD)%,
// %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% or %REQ(:PATH)%, %RESPONSE_CODE%,
// %RESPONSE_FLAGS% or %RESPONSE_FLAGS_LONG%, %RESPONSE_CODE_DETAILS%,
// %UPSTREAM_TRANSPORT_FAILURE_REASON%, %UPSTREAM_HOST%,
// %UPSTREAM_CLUSTER%, %DOWNSTREAM_REMOTE_ADDRESS% and
// %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%; others are matched and ignored.
func Compile(format string) (logparse.Parser, error) {
	parts, err := splitFormat(format)
	if err != nil {
		return nil, err
	}
	t, err := logformat.Compile(parts)
	if err != nil {
		return nil, fmt.Errorf("envoy format %q: %w", format, err)
	}
	return func(line []byte, e *logparse.Entry) error {
		*e = logparse.Entry{Kind: logparse.Request, TargetTime: -1}
		var buf [48][]byte
		vals, err := t.Match(line, buf[:0])
		if err != nil {
			return fmt.Errorf("envoy format: %w", err)
		}
		var flags, details, transport string
		for i, v := range vals {
			name, arg := t.Vars[i], ""
			if j := strings.IndexByte(name, '('); j >= 0 {
				name, arg = name[:j], strings.TrimSuffix(name[j+1:], ")")
			}
			switch {
			case name == "START_TIME":
				if tm, err := time.Parse(time.RFC3339Nano, string(v)); err == nil {
					e.Time = tm
				} else if arg == "" {
					return fmt.Errorf("envoy format: START_TIME %q: %w", v, err)
				}
			case name == "REQ" && arg == ":METHOD":
				e.Method = logparse.Dash(v)
			case name == "REQ" && strings.HasSuffix(arg, ":PATH"):
				e.URL = logparse.Dash(v)
			case name == "RESPONSE_CODE":
				if !isNumber(v) {
					return fmt.Errorf("envoy format: RESPONSE_CODE %q is not a status", v)
				}
				e.Status = logparse.Status(v)
			case name == "RESPONSE_FLAGS" || name == "RESPONSE_FLAGS_LONG":
				flags = string(v)
			case name == "RESPONSE_CODE_DETAILS":
				details = logparse.Dash(v)
			case name == "UPSTREAM_TRANSPORT_FAILURE_REASON":
				transport = logparse.Dash(v)
			case name == "UPSTREAM_HOST":
				e.Target = hostOf(string(v))
			case name == "UPSTREAM_CLUSTER":
				e.Group = logparse.Dash(v)
			case name == "DOWNSTREAM_REMOTE_ADDRESS":
				e.Client = logparse.Dash(v)
			case name == "RESP" && strings.EqualFold(arg, "X-ENVOY-UPSTREAM-SERVICE-TIME"):
				e.TargetTime = logparse.Millis(v)
			}
		}
		Attribute(flags, details, transport, e)
		return nil
	}, nil
}

// splitFormat splits an Envoy format string into literals and operators.
func splitFormat(format string) ([]logformat.Part, error) {
	f := strings.TrimSuffix(strings.TrimSuffix(format, "\n"), `\n`)
	var parts []logformat.Part
	for len(f) > 0 {
		i := strings.IndexByte(f, '%')
		if i < 0 {
			parts = append(parts, logformat.Part{Literal: f})
			break
		}
		if i > 0 {
			parts = append(parts, logformat.Part{Literal: f[:i]})
		}
		f = f[i+1:]
		// The operator runs to the next '%' outside parentheses.
		depth, end := 0, -1
		for k := 0; k < len(f) && end < 0; k++ {
			switch f[k] {
			case '(':
				depth++
			case ')':
				depth--
			case '%':
				if depth <= 0 {
					end = k
				}
			}
		}
		if end < 0 {
			return nil, fmt.Errorf("envoy format: %% not closed in %q", format)
		}
		op := f[:end]
		f = f[end+1:]
		if op == "" {
			parts = append(parts, logformat.Part{Literal: "%"})
			continue
		}
		// Drop a ":N" length limit after the operator.
		if j := strings.LastIndexByte(op, ':'); j > strings.LastIndexByte(op, ')') {
			op = op[:j]
		}
		// Headers and a formatted START_TIME may hold spaces.
		spaces := strings.HasPrefix(op, "REQ(") || strings.HasPrefix(op, "RESP(") || strings.HasPrefix(op, "TRAILER(") || strings.HasPrefix(op, "START_TIME(")
		parts = append(parts, logformat.Part{Var: op, Spaces: spaces})
	}
	return parts, nil
}
