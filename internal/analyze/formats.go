package analyze

import (
	"errors"
	"strings"

	"github.com/fulcrumlb/fulcrum/internal/logparse"
	"github.com/fulcrumlb/fulcrum/internal/logparse/alb"
	"github.com/fulcrumlb/fulcrum/internal/logparse/caddy"
	"github.com/fulcrumlb/fulcrum/internal/logparse/elb"
	"github.com/fulcrumlb/fulcrum/internal/logparse/envelope"
	"github.com/fulcrumlb/fulcrum/internal/logparse/envoy"
	"github.com/fulcrumlb/fulcrum/internal/logparse/fulcrumhc"
	"github.com/fulcrumlb/fulcrum/internal/logparse/fulcrumjson"
	"github.com/fulcrumlb/fulcrum/internal/logparse/haproxy"
	"github.com/fulcrumlb/fulcrum/internal/logparse/nginx"
	"github.com/fulcrumlb/fulcrum/internal/logparse/traefik"
)

// format is one log format: how to recognise a line of it, and a parser.
type format struct {
	name string
	// sniff is nil for a format given as a format string: its parser
	// is what recognises its lines.
	sniff func([]byte) bool
	parse func() logparse.Parser
}

func static(p logparse.Parser) func() logparse.Parser { return func() logparse.Parser { return p } }

// formats lists the known formats in detection order: the formats given
// as format strings first (a line that matches one is surely of it),
// then the most specific built-in ones. It fails when a format string
// does not compile.
func formats(o Options) ([]format, error) {
	var custom []format
	for _, c := range []struct {
		name, format string
		compile      func(string) (logparse.Parser, error)
	}{
		{"haproxy-log-format", o.HAProxyLogFormat, haproxy.Compile},
		{"nginx-log-format", o.NginxLogFormat, nginx.Compile},
		{"envoy-log-format", o.EnvoyLogFormat, envoy.Compile},
	} {
		if c.format == "" {
			continue
		}
		p, err := c.compile(c.format)
		if err != nil {
			return nil, err
		}
		custom = append(custom, format{name: c.name, parse: static(p)})
	}
	return append(custom, builtin()...), nil
}

// builtin lists the built-in formats in detection order: the most
// specific first.
func builtin() []format {
	return []format{
		{"fulcrum-json", fulcrumjson.Sniff, static(fulcrumjson.Parse)},
		{"envoy-json", envoy.SniffJSON, static(envoy.ParseJSON)},
		{"traefik-json", traefik.SniffJSON, static(traefik.ParseJSON)},
		{"caddy", caddy.Sniff, static(caddy.Parse)},
		{"caddy-v1", caddy.SniffV1, static(caddy.ParseV1)},
		{"traefik-log", traefik.SniffLog, static(traefik.ParseLog)},
		// Before alb: a health check line starts like an access log line.
		{"fulcrum-health", fulcrumhc.Sniff, static(fulcrumhc.Parse)},
		{"alb", alb.Sniff, static(alb.Parse)},
		{"alb-connection", alb.SniffConnection, static(alb.ParseConnection)},
		{"elb", elb.Sniff, static(elb.Parse)},
		{"envoy", envoy.SniffText, static(envoy.ParseText)},
		{"nginx-error", nginx.SniffError, static(nginx.ParseError)},
		// Before haproxy and nginx-access: a combined line ending in
		// Traefik's duration.
		{"traefik-clf", traefik.SniffCLF, static(traefik.ParseCLF)},
		{"haproxy", haproxy.Sniff, haproxy.New},
		{"nginx-access", nginx.SniffAccess, static(nginx.ParseAccess)},
	}
}

// FormatNames are the values --format accepts besides auto. "fulcrum"
// means Fulcrum's own logs: ALB format, JSON or the health check log,
// whichever each line is; "envoy" takes text or JSON.
func FormatNames() []string {
	return []string{"alb", "elb", "haproxy", "nginx-error", "nginx-access", "envoy", "traefik", "caddy", "fulcrum"}
}

// group returns the formats a --format value allows; ok is false for an
// unknown name.
func group(name string, all []format) ([]format, bool) {
	if name == "auto" {
		return all, true
	}
	// A name takes its variants: "envoy" envoy-json and
	// envoy-log-format, "traefik" traefik-clf, traefik-json and
	// traefik-log.
	in := func(f string) bool { return f == name || strings.HasPrefix(f, name+"-") }
	switch name {
	case "fulcrum":
		in = func(f string) bool { return f == "alb" || strings.HasPrefix(f, "fulcrum-") }
	case "nginx-access":
		in = func(f string) bool { return f == name || f == "nginx-log-format" }
	}
	var out []format
	for _, f := range all {
		if in(f.name) {
			out = append(out, f)
		}
	}
	return out, len(out) > 0
}

// detector finds each line's format: the format of the last line that
// parsed first, then every format that recognises the line. It holds one
// parser per format, made when first needed; one detector per input.
type detector struct {
	formats []format
	// forced is set by --format: every allowed format is tried, whether
	// it recognises the line or not.
	forced  bool
	parsers []logparse.Parser
	cur     int
}

// newDetector returns the detector of o's formats; fs is formats(o).
func newDetector(o Options, fs []format) *detector {
	fs, _ = group(o.Format, fs)
	return &detector{formats: fs, forced: o.Format != "auto", parsers: make([]logparse.Parser, len(fs)), cur: -1}
}

func (d *detector) parser(i int) logparse.Parser {
	if d.parsers[i] == nil {
		d.parsers[i] = d.formats[i].parse()
	}
	return d.parsers[i]
}

// try parses the layers with format i, innermost first; err is the
// innermost layer's error when none parses.
func (d *detector) try(i int, layers []envelope.Unwrapped, e *logparse.Entry) (envelope.Unwrapped, error) {
	p := d.parser(i)
	var first error
	for k := len(layers) - 1; k >= 0; k-- {
		err := p(layers[k].Line, e)
		if err == nil {
			return layers[k], nil
		}
		if first == nil {
			first = err
		}
	}
	return envelope.Unwrapped{}, first
}

// parse parses one line given as its envelope layers (envelope.Layers)
// into e and returns its format's name and the layer that parsed.
func (d *detector) parse(layers []envelope.Unwrapped, e *logparse.Entry) (string, envelope.Unwrapped, error) {
	var first error
	if d.cur >= 0 {
		got, err := d.try(d.cur, layers, e)
		if err == nil {
			return d.formats[d.cur].name, got, nil
		}
		// The last format's complaint is worth showing only for a line
		// that looks like it.
		if d.forced || sniffAny(d.formats[d.cur], layers) {
			first = err
		}
	}
	for i, f := range d.formats {
		if i == d.cur {
			continue
		}
		if !d.forced && !sniffAny(f, layers) {
			continue
		}
		got, err := d.try(i, layers, e)
		if err == nil {
			d.cur = i
			return f.name, got, nil
		}
		if first == nil {
			first = err
		}
	}
	if first == nil {
		first = errNotRecognised
	}
	return "", envelope.Unwrapped{}, first
}

// errNotRecognised is the error of a line no format recognises.
var errNotRecognised = errors.New("format not recognised")

// sniffAny reports whether f recognises any layer of the line.
func sniffAny(f format, layers []envelope.Unwrapped) bool {
	if f.sniff == nil {
		return true // a format string: matching is recognising
	}
	for k := len(layers) - 1; k >= 0; k-- {
		if f.sniff(layers[k].Line) {
			return true
		}
	}
	return false
}
