package nginx

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/logparse"
	"github.com/fulcrumlb/fulcrum/internal/logparse/logformat"
)

// Compile returns a parser of access log lines written by a log_format
// (https://nginx.org/en/docs/http/ngx_http_log_module.html#log_format),
// given as the directive ("log_format main '…' '…';", its strings joined
// as nginx joins them) or as the format string alone. Variables ($name or
// ${name}) it reads: $remote_addr, $time_local, $time_iso8601, $msec,
// $request (or $request_method with $request_uri or $uri), $status,
// $upstream_addr, $upstream_status, $upstream_response_time,
// $upstream_connect_time, $upstream_header_time and $proxy_host; lists
// of retries (", ") and internal redirects (" : ") count by their last
// element. Other variables are matched and ignored.
func Compile(format string) (logparse.Parser, error) {
	parts, err := splitFormat(format)
	if err != nil {
		return nil, err
	}
	t, err := logformat.Compile(parts)
	if err != nil {
		return nil, fmt.Errorf("nginx log_format %q: %w", format, err)
	}
	return func(line []byte, e *logparse.Entry) error {
		*e = logparse.Entry{Kind: logparse.Request, TargetTime: -1}
		var buf [48][]byte
		vals, err := t.Match(line, buf[:0])
		if err != nil {
			return fmt.Errorf("nginx log_format: %w", err)
		}
		var connect, header, upstreamStatus []byte
		status := false
		for i, v := range vals {
			switch t.Vars[i] {
			case "remote_addr":
				e.Client = string(v)
			case "time_local":
				tm, err := time.Parse("02/Jan/2006:15:04:05 -0700", string(v))
				if err != nil {
					return fmt.Errorf("nginx log_format: $time_local %q: %w", v, err)
				}
				e.Time = tm.UTC()
			case "time_iso8601":
				tm, err := time.Parse(time.RFC3339, string(v))
				if err != nil {
					return fmt.Errorf("nginx log_format: $time_iso8601 %q: %w", v, err)
				}
				e.Time = tm.UTC()
			case "msec":
				f, err := strconv.ParseFloat(string(v), 64)
				if err != nil {
					return fmt.Errorf("nginx log_format: $msec %q: %w", v, err)
				}
				e.Time = time.UnixMilli(int64(f * 1000)).UTC()
			case "request":
				e.Method, e.URL = logparse.SplitRequest(v)
			case "request_method":
				e.Method = logparse.Dash(v)
			case "request_uri", "uri":
				if e.URL == "" {
					e.URL = logparse.Dash(v)
				}
			case "status":
				if len(v) != 3 || logparse.Status(v) < 100 {
					return fmt.Errorf("nginx log_format: $status %q is not a status", v)
				}
				e.Status, status = logparse.Status(v), true
			case "upstream_addr":
				e.Target = logparse.Dash(lastUpstream(v))
			case "upstream_status":
				upstreamStatus = lastUpstream(v)
			case "upstream_response_time":
				e.TargetTime = logparse.Seconds(lastUpstream(v))
			case "upstream_connect_time":
				connect = lastUpstream(v)
			case "upstream_header_time":
				header = lastUpstream(v)
			case "proxy_host":
				e.Group = logparse.Dash(v)
			}
		}
		if !status {
			return fmt.Errorf("nginx log_format: no $status")
		}
		e.TargetStatus = logparse.Status(upstreamStatus)
		attributeAccess(e, connect, header)
		return nil
	}, nil
}

// splitFormat splits a log_format into literals and variables.
func splitFormat(format string) ([]logformat.Part, error) {
	f := strings.TrimSpace(format)
	if rest, ok := strings.CutPrefix(f, "log_format"); ok {
		f = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), ";"))
		// The name, then an optional escape= parameter.
		if i := strings.IndexAny(f, " \t"); i >= 0 {
			f = strings.TrimSpace(f[i:])
		}
		if strings.HasPrefix(f, "escape=") {
			if i := strings.IndexAny(f, " \t"); i >= 0 {
				f = strings.TrimSpace(f[i:])
			}
		}
		f = joinStrings(f)
	} else if len(f) >= 2 && (f[0] == '\'' || f[0] == '"') && f[len(f)-1] == f[0] {
		f = joinStrings(f)
	}
	var parts []logformat.Part
	for len(f) > 0 {
		i := strings.IndexByte(f, '$')
		if i < 0 {
			parts = append(parts, logformat.Part{Literal: f})
			break
		}
		if i > 0 {
			parts = append(parts, logformat.Part{Literal: f[:i]})
		}
		f = f[i+1:]
		var name string
		if strings.HasPrefix(f, "{") {
			end := strings.IndexByte(f, '}')
			if end < 0 {
				return nil, fmt.Errorf("nginx log_format: ${ not closed in %q", format)
			}
			name, f = f[1:end], f[end+1:]
		} else {
			n := 0
			for n < len(f) && (f[n] == '_' || f[n] >= 'a' && f[n] <= 'z' || f[n] >= 'A' && f[n] <= 'Z' || f[n] >= '0' && f[n] <= '9') {
				n++
			}
			if n == 0 {
				parts = append(parts, logformat.Part{Literal: "$"})
				continue
			}
			name, f = f[:n], f[n:]
		}
		// Dates with a zone and client-controlled text may hold spaces
		// even where the format does not quote them.
		spaces := name == "time_local" || name == "request" || strings.HasPrefix(name, "http_")
		parts = append(parts, logformat.Part{Var: name, Spaces: spaces})
	}
	return parts, nil
}

// joinStrings joins the quoted strings of a directive's arguments
// ('a' "b" → ab), as nginx concatenates log_format's strings.
func joinStrings(f string) string {
	var b bytes.Buffer
	for len(f) > 0 {
		f = strings.TrimLeft(f, " \t\n")
		if f == "" {
			break
		}
		q := f[0]
		if q != '\'' && q != '"' {
			i := strings.IndexAny(f, " \t\n")
			if i < 0 {
				i = len(f)
			}
			b.WriteString(f[:i])
			f = f[i:]
			continue
		}
		end := strings.IndexByte(f[1:], q)
		if end < 0 {
			b.WriteString(f[1:])
			break
		}
		b.WriteString(f[1 : end+1])
		f = f[end+2:]
	}
	return b.String()
}
