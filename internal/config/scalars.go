package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written in YAML as a Go duration string such
// as "30s", "1m30s" or "250ms". Bare numbers are rejected: the unit must be
// explicit.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML parses a duration string. The error names the bad value.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("must be a duration such as \"30s\"")
	}
	v, err := parseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("%q is not a duration", n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes d as a duration string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// HealthPort is a health check port: "traffic-port" (stored as TrafficPort)
// or a port number 1..65535.
type HealthPort int

// UnmarshalYAML parses "traffic-port" or a port number.
func (p *HealthPort) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf(`must be "traffic-port" or a port number`)
	}
	if n.Value == "traffic-port" {
		*p = TrafficPort
		return nil
	}
	v, err := strconv.Atoi(n.Value)
	if err != nil || v < 1 || v > 65535 {
		return fmt.Errorf(`%q is not "traffic-port" or a port number 1..65535`, n.Value)
	}
	*p = HealthPort(v)
	return nil
}

// MarshalYAML writes the port back in its YAML form.
func (p HealthPort) MarshalYAML() (any, error) {
	if p == TrafficPort {
		return "traffic-port", nil
	}
	return int(p), nil
}

// Matcher is the set of HTTP status codes a health check accepts, written as
// ALB does: "200", "200,202" or "200-299". Codes must be 200..499 (ALB-HC).
type Matcher struct {
	text   string
	ranges [][2]int
	grpc   bool // gRPC status codes 0..99 (protocol.go)
}

// ParseMatcher parses a matcher string.
func ParseMatcher(s string) (Matcher, error) {
	m := Matcher{text: s}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, errA := strconv.Atoi(lo)
		b := a
		var errB error
		if isRange {
			b, errB = strconv.Atoi(hi)
		}
		if errA != nil || errB != nil || a < 200 || b > 499 || a > b {
			return Matcher{}, fmt.Errorf("%q is not a list of status codes or ranges within 200-499 (e.g. \"200,202\" or \"200-299\")", s)
		}
		m.ranges = append(m.ranges, [2]int{a, b})
	}
	return m, nil
}

// Match reports whether code is accepted.
func (m Matcher) Match(code int) bool {
	for _, r := range m.ranges {
		if code >= r[0] && code <= r[1] {
			return true
		}
	}
	return false
}

// String returns the matcher as written.
func (m Matcher) String() string { return m.text }

// UnmarshalYAML parses the matcher.
func (m *Matcher) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.MappingNode || n.Kind == yaml.ScalarNode && isGRPCCodes(n.Value) {
		return m.unmarshalCodes(n) // protocol.go
	}
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf(`must be a string such as "200" or "200-299"`)
	}
	v, err := ParseMatcher(n.Value)
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// MarshalYAML writes the matcher as written.
func (m Matcher) MarshalYAML() (any, error) {
	if m.grpc {
		return map[string]string{"grpc_code": m.text}, nil
	}
	return m.text, nil
}

// parseDuration is time.ParseDuration that also takes a leading whole
// number of days, as in "1d" or "1d12h" (stickiness durations run to 7d).
func parseDuration(s string) (time.Duration, error) {
	days, rest, ok := strings.Cut(s, "d")
	if !ok {
		return time.ParseDuration(s)
	}
	n, err := strconv.Atoi(days)
	if err != nil || n < 0 || n > 3650 {
		return 0, fmt.Errorf("bad days in %q", s)
	}
	v := time.Duration(n) * 24 * time.Hour
	if rest != "" {
		r, err := time.ParseDuration(rest)
		if err != nil {
			return 0, err
		}
		v += r
	}
	return v, nil
}
