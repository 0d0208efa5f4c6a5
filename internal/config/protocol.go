package config

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Target group protocol versions, as ALB names them
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-target-groups.html#target-group-protocol-version).
const (
	// ProtocolHTTP1 sends requests to the targets over HTTP/1.1 (the
	// default).
	ProtocolHTTP1 = "HTTP1"
	// ProtocolHTTP2 sends requests to the targets over HTTP/2 (RFC
	// 9113): negotiated with ALPN "h2" on https target groups, h2c with
	// prior knowledge (RFC 9113 §3.3) on http ones.
	ProtocolHTTP2 = "HTTP2"
	// ProtocolGRPC is HTTP2 for gRPC services: Fulcrum's own failures
	// are answered as gRPC statuses and health checks call a gRPC method.
	ProtocolGRPC = "GRPC"
)

// DefaultGRPCMatcher is the gRPC codes a gRPC health check accepts by
// default: 12 (UNIMPLEMENTED), what a gRPC server answers for ALB's
// default path /AWS.ALB/healthcheck.
const DefaultGRPCMatcher = "12"

// DefaultGRPCHealthPath is the path a gRPC health check calls when
// health_check.path is left at "/": ALB's default.
const DefaultGRPCHealthPath = "/AWS.ALB/healthcheck"

// Version returns the group's protocol version: ProtocolVersion, or
// ProtocolHTTP1 when it is empty.
func (tg *TargetGroup) Version() string {
	if tg.ProtocolVersion == "" {
		return ProtocolHTTP1
	}
	return tg.ProtocolVersion
}

// HTTP2 reports whether requests to the group's targets travel over
// HTTP/2 (protocol_version HTTP2 or GRPC).
func (tg *TargetGroup) HTTP2() bool {
	v := tg.Version()
	return v == ProtocolHTTP2 || v == ProtocolGRPC
}

// GRPCHealthCheck reports whether the group's health check is a gRPC
// call: health_check.protocol grpc, or a GRPC group whose check protocol
// is not tcp (ALB checks gRPC target groups with gRPC).
func (tg *TargetGroup) GRPCHealthCheck() bool {
	p := tg.HealthCheck.Protocol
	return p == "grpc" || tg.Version() == ProtocolGRPC && p != "tcp"
}

// GRPCMatcher returns the gRPC codes the group's gRPC health check
// accepts: health_check.matcher when it is written as gRPC codes, else
// DefaultGRPCMatcher.
func (tg *TargetGroup) GRPCMatcher() Matcher {
	if tg.HealthCheck.Matcher.grpc {
		return tg.HealthCheck.Matcher
	}
	m, _ := parseCodes(DefaultGRPCMatcher, 0, 99)
	m.grpc = true
	return m
}

// GRPCHealthPath returns the gRPC method path the group's gRPC health
// check calls: health_check.path, or DefaultGRPCHealthPath for "/".
func (tg *TargetGroup) GRPCHealthPath() string {
	if p := tg.HealthCheck.Path; p != "" && p != "/" {
		return p
	}
	return DefaultGRPCHealthPath
}

// GRPC reports whether m holds gRPC status codes rather than HTTP ones.
func (m Matcher) GRPC() bool { return m.grpc }

// protocolVersion checks protocol_version and that the health check's
// matcher is of the right kind for the check.
func (s *schema) protocolVersion(p string, tg *TargetGroup) {
	if tg.ProtocolVersion != "" {
		s.oneOf(p+".protocol_version", tg.ProtocolVersion, ProtocolHTTP1, ProtocolHTTP2, ProtocolGRPC)
	}
	hp := p + ".health_check"
	m := tg.HealthCheck.Matcher
	if tg.HealthCheck.Protocol == "grpc" && tg.Version() != ProtocolGRPC {
		s.add(hp+".protocol", "grpc needs protocol_version GRPC, not %s", tg.Version())
	}
	grpcCheck := tg.GRPCHealthCheck()
	switch {
	case grpcCheck && !m.grpc && m.text != DefaultMatcher:
		s.add(hp+".matcher", "%q are HTTP codes; a gRPC health check takes gRPC codes 0..99 (matcher: {grpc_code: %q})", m.text, DefaultGRPCMatcher)
	case !grpcCheck && m.grpc && tg.HealthCheck.Protocol != "tcp":
		s.add(hp+".matcher", "grpc_code %q needs a gRPC health check (protocol_version GRPC); HTTP checks take codes 200..499", m.text)
	}
}

// isGRPCCodes reports whether a scalar matcher lists only codes 0..99:
// gRPC codes (HTTP codes start at 200).
func isGRPCCodes(s string) bool {
	_, err := parseCodes(s, 0, 99)
	return err == nil
}

// unmarshalCodes decodes a matcher of gRPC codes: a scalar such as "12"
// or "0-99", or ALB's mapping form {grpc_code: "12"} or
// {http_code: "200-299"}
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_Matcher.html).
func (m *Matcher) unmarshalCodes(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		v, err := parseCodes(n.Value, 0, 99)
		if err != nil {
			return err
		}
		v.grpc = true
		*m = v
		return nil
	}
	var codes struct {
		HTTPCode *string `yaml:"http_code"`
		GRPCCode *string `yaml:"grpc_code"`
	}
	if err := n.Decode(&codes); err != nil {
		return err
	}
	switch {
	case (codes.HTTPCode == nil) == (codes.GRPCCode == nil):
		return fmt.Errorf("must have exactly one of http_code and grpc_code")
	case codes.HTTPCode != nil:
		v, err := ParseMatcher(*codes.HTTPCode)
		if err != nil {
			return err
		}
		*m = v
	default:
		v, err := parseCodes(*codes.GRPCCode, 0, 99)
		if err != nil {
			return err
		}
		v.grpc = true
		*m = v
	}
	return nil
}

// parseCodes parses "12", "0,12" or "0-99" with every code in lo..hi.
func parseCodes(s string, lo, hi int) (Matcher, error) {
	m := Matcher{text: s}
	for part := range strings.SplitSeq(s, ",") {
		a, b, isRange := strings.Cut(strings.TrimSpace(part), "-")
		x, errA := strconv.Atoi(a)
		y, errB := x, error(nil)
		if isRange {
			y, errB = strconv.Atoi(b)
		}
		if errA != nil || errB != nil || x < lo || y > hi || x > y {
			return Matcher{}, fmt.Errorf("%q is not a list of gRPC codes or ranges within %d-%d (e.g. \"0\" or \"0-99\")", s, lo, hi)
		}
		m.ranges = append(m.ranges, [2]int{x, y})
	}
	return m, nil
}
