package config

import (
	"fmt"
	"strings"
	"testing"
)

// TestGRPCMatcherConfig: gRPC matchers need a gRPC check and HTTP ones
// an HTTP check, with the field path in the error.
func TestGRPCMatcherConfig(t *testing.T) {
	for _, tc := range []struct{ group, want string }{
		{`{name: g, health_check: {matcher: "12"}}`, `target_groups[0].health_check.matcher (line 3): grpc_code "12" needs a gRPC health check`},
		{`{name: g, protocol_version: GRPC, health_check: {matcher: "200-299"}}`, `target_groups[0].health_check.matcher (line 3): "200-299" are HTTP codes`},
		{`{name: g, health_check: {protocol: grpc}}`, `target_groups[0].health_check.protocol (line 3): grpc needs protocol_version GRPC`},
		{`{name: g, protocol_version: HTTP3}`, `target_groups[0].protocol_version (line 3): "HTTP3" is not one of HTTP1, HTTP2, GRPC`},
		{`{name: g, protocol_version: GRPC, health_check: {matcher: {grpc_code: "100"}}}`, `is not a list of gRPC codes`},
	} {
		_, err := Load(fmt.Appendf(nil, `
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: g}]
target_groups: [%s]
`, tc.group))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.group, err, tc.want)
		}
	}
}

// TestGRPCMatcherForms: "0", "0-99" and {grpc_code: "0"} are gRPC codes;
// a GRPC group left at the default matcher checks for 12.
func TestGRPCMatcherForms(t *testing.T) {
	for _, m := range []string{`"0"`, `"0-99"`, `{grpc_code: "0"}`, `"0,12"`} {
		c, err := Load(fmt.Appendf(nil, `
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: g}]
target_groups: [{name: g, protocol_version: GRPC, health_check: {matcher: %s}}]
`, m))
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		g := c.TargetGroups[0]
		if !g.GRPCHealthCheck() || !g.GRPCMatcher().GRPC() || !g.GRPCMatcher().Match(0) {
			t.Errorf("%s: matcher %v", m, g.GRPCMatcher())
		}
	}
	c, err := Load([]byte(`
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: g}]
target_groups: [{name: g, protocol_version: GRPC}]
`))
	if err != nil {
		t.Fatal(err)
	}
	g := c.TargetGroups[0]
	if m := g.GRPCMatcher(); !m.Match(12) || m.Match(0) || g.GRPCHealthPath() != "/AWS.ALB/healthcheck" || !g.HTTP2() {
		t.Errorf("GRPC defaults: matcher %v path %s", m, g.GRPCHealthPath())
	}
}
