package analyze

import (
	"github.com/fulcrumlb/fulcrum/internal/logparse"
	"github.com/fulcrumlb/fulcrum/internal/logparse/alb"
	"github.com/fulcrumlb/fulcrum/internal/logparse/elb"
	"github.com/fulcrumlb/fulcrum/internal/logparse/envoy"
	"github.com/fulcrumlb/fulcrum/internal/logparse/fulcrumhc"
	"github.com/fulcrumlb/fulcrum/internal/logparse/fulcrumjson"
	"github.com/fulcrumlb/fulcrum/internal/logparse/haproxy"
	"github.com/fulcrumlb/fulcrum/internal/logparse/nginx"
)

// format is one log format: how to recognise a line of it, and a parser.
type format struct {
	name  string
	sniff func([]byte) bool
	parse func() logparse.Parser
}

func static(p logparse.Parser) func() logparse.Parser { return func() logparse.Parser { return p } }

// formats lists the known formats in detection order: the most specific
// first.
func formats() []format {
	return []format{
		{"fulcrum-json", fulcrumjson.Sniff, static(fulcrumjson.Parse)},
		{"envoy-json", envoy.SniffJSON, static(envoy.ParseJSON)},
		// Before alb: a health check line starts like an access log line.
		{"fulcrum-health", fulcrumhc.Sniff, static(fulcrumhc.Parse)},
		{"alb", alb.Sniff, static(alb.Parse)},
		{"elb", elb.Sniff, static(elb.Parse)},
		{"envoy", envoy.SniffText, static(envoy.ParseText)},
		{"nginx-error", nginx.SniffError, static(nginx.ParseError)},
		{"haproxy", haproxy.Sniff, haproxy.New},
		{"nginx-access", nginx.SniffAccess, static(nginx.ParseAccess)},
	}
}

// FormatNames are the values --format accepts besides auto. "fulcrum"
// means Fulcrum's own logs: ALB format, JSON or the health check log,
// whichever the file holds.
func FormatNames() []string {
	return []string{"alb", "elb", "haproxy", "nginx-error", "nginx-access", "envoy", "fulcrum"}
}

// lookup returns the format for a --format value and a sample line; ok is
// false for an unknown name.
func lookup(name string, sample []byte) (format, bool) {
	all := formats()
	want := name
	switch name {
	case "fulcrum":
		want = "alb"
		switch {
		case fulcrumjson.Sniff(sample):
			want = "fulcrum-json"
		case fulcrumhc.Sniff(sample):
			want = "fulcrum-health"
		}
	case "envoy":
		if envoy.SniffJSON(sample) {
			want = "envoy-json"
		}
	}
	for _, f := range all {
		if f.name == want {
			return f, true
		}
	}
	return format{}, false
}

// detect returns the first format that recognises line.
func detect(line []byte) (format, bool) {
	for _, f := range formats() {
		if f.sniff(line) {
			return f, true
		}
	}
	return format{}, false
}
