package envelope_test

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fulcrumlb/fulcrum/internal/logparse"
	"github.com/fulcrumlb/fulcrum/internal/logparse/alb"
	"github.com/fulcrumlb/fulcrum/internal/logparse/caddy"
	"github.com/fulcrumlb/fulcrum/internal/logparse/elb"
	"github.com/fulcrumlb/fulcrum/internal/logparse/envelope"
	"github.com/fulcrumlb/fulcrum/internal/logparse/envoy"
	"github.com/fulcrumlb/fulcrum/internal/logparse/haproxy"
	"github.com/fulcrumlb/fulcrum/internal/logparse/logparsetest"
	"github.com/fulcrumlb/fulcrum/internal/logparse/nginx"
	"github.com/fulcrumlb/fulcrum/internal/logparse/traefik"
)

// wrappers put a line in each envelope, the way the tool named would.
func wrappers() map[string]func(string) string {
	prefix := func(p string) func(string) string { return func(s string) string { return p + s } }
	js := func(pre, post string) func(string) string {
		return func(s string) string {
			q, _ := json.Marshal(s)
			return pre + string(q) + post
		}
	}
	return map[string]func(string) string{
		"rfc3164":            prefix("<134>Oct 11 22:14:15 lb1 haproxy[123]: "),
		"rfc3164-nohost":     prefix("<134>Oct  1 22:14:15 haproxy[123]: "),
		"rfc5424":            prefix("<165>1 2003-10-11T22:14:15.003Z lb1 haproxy 123 - - "),
		"rfc5424-sd":         prefix(`<165>1 2003-10-11T22:14:15.003Z lb1 haproxy - ID47 [exampleSDID@32473 iut="3"] `),
		"journald-short":     prefix("Oct 11 22:14:15 lb1 haproxy[123]: "),
		"journald-short-iso": prefix("2024-10-11T22:14:15+0000 lb1 haproxy[123]: "),
		"rsyslog":            prefix("2024-10-11T22:14:15.123456+00:00 lb1 nginx: "),
		"journald-json":      js(`{"__REALTIME_TIMESTAMP":"1728684855003000","SYSLOG_IDENTIFIER":"haproxy","MESSAGE":`, `}`),
		"docker-timestamps":  prefix("2024-01-02T03:04:05.123456789Z "),
		"docker-compose":     prefix("envoy-1  | "),
		"kubectl-prefix":     prefix("[pod/web-7d9c4/envoy] "),
		"kubectl-both":       prefix("[pod/web-7d9c4/envoy] 2024-01-02T03:04:05.1Z "),
		"aws-logs-tail":      prefix("2024-01-02T03:04:05.123000+00:00 ecs/envoy/0a1b2c "),
		"logstash":           js(`{"@timestamp":"2024-01-02T03:04:05.123Z","message":`, `}`),
		"docker-json-file":   js(`{"stream":"stdout","time":"2024-01-02T03:04:05.1Z","log":`, `}`),
		"cloudwatch-export":  js(`{"timestamp":1704164645123,"message":`, `}`),
		"compose+syslog":     func(s string) string { return "lb-1  | <134>Oct 11 22:14:15 haproxy[1]: " + s },
		"compose+timestamps": prefix("envoy-1  | 2024-01-02T03:04:05.123456789Z "),
		"journald+compose":   prefix("Apr 03 23:40:56 host sh[22948]: caddy      | "),
	}
}

// parseLayers parses the innermost layer that parses, as analyze does.
func parseLayers(p logparse.Parser, line []byte) (logparse.Entry, string, error) {
	var buf [8]envelope.Unwrapped
	l := envelope.Layers(line, buf[:0])
	var err error
	for i := len(l) - 1; i >= 0; i-- {
		var e logparse.Entry
		if err = p(l[i].Line, &e); err == nil {
			return e, l[i].Envelope, nil
		}
	}
	return logparse.Entry{}, "", err
}

// TestEveryLineInEveryEnvelope wraps every line of the parsers' testdata
// in every envelope and checks it parses to the entry the bare line does.
func TestEveryLineInEveryEnvelope(t *testing.T) {
	for _, tc := range []struct {
		glob  string
		parse func() logparse.Parser
	}{
		{"../alb/testdata/[^c]*.log", func() logparse.Parser { return alb.Parse }},
		{"../alb/testdata/connection.log", func() logparse.Parser { return alb.ParseConnection }},
		{"../envoy/testdata/variants.log", func() logparse.Parser { return envoy.ParseText }},
		{"../traefik/testdata/clf.log", func() logparse.Parser { return traefik.ParseCLF }},
		{"../traefik/testdata/json.log", func() logparse.Parser { return traefik.ParseJSON }},
		{"../traefik/testdata/traefik.log", func() logparse.Parser { return traefik.ParseLog }},
		{"../caddy/testdata/caddy.log", func() logparse.Parser { return caddy.Parse }},
		{"../caddy/testdata/v1.log", func() logparse.Parser { return caddy.ParseV1 }},
		{"../elb/testdata/*.log", func() logparse.Parser { return elb.Parse }},
		{"../envoy/testdata/text.log", func() logparse.Parser { return envoy.ParseText }},
		{"../envoy/testdata/json.log", func() logparse.Parser { return envoy.ParseJSON }},
		{"../haproxy/testdata/*.log", haproxy.New},
		{"../nginx/testdata/access.log", func() logparse.Parser { return nginx.ParseAccess }},
		{"../nginx/testdata/error.log", func() logparse.Parser { return nginx.ParseError }},
	} {
		files, err := filepath.Glob(tc.glob)
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no testdata (%v)", tc.glob, err)
		}
		for _, file := range files {
			p := tc.parse()
			checked := 0
			for n, line := range logparsetest.Lines(t, file) {
				var want logparse.Entry
				if err := p(line, &want); err != nil {
					if !errors.Is(err, logparse.ErrSkip) {
						t.Logf("%s:%d: bare line does not parse (%v); skipped", file, n+1, err)
					}
					continue
				}
				checked++
				for name, wrap := range wrappers() {
					w := wrap(string(line))
					got, env, err := parseLayers(p, []byte(w))
					if err != nil {
						t.Errorf("%s:%d in %s: %v\n%s", file, n+1, name, err, w)
						continue
					}
					if env == "" {
						t.Errorf("%s:%d in %s: no envelope peeled\n%s", file, n+1, name, w)
					}
					if d := cmp.Diff(want, got); d != "" {
						t.Errorf("%s:%d in %s (peeled %s): entry differs (-bare +wrapped):\n%s", file, n+1, name, env, d)
					}
				}
			}
			if checked == 0 {
				t.Errorf("%s: no line parsed bare", file)
			}
		}
	}
}
