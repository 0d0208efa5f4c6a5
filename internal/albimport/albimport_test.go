package albimport

import (
	"strings"
	"testing"

	"github.com/fulcrumlb/fulcrum/internal/config"
)

// JSON shaped as the Elastic Load Balancing API Reference documents
// DescribeListeners, DescribeRules, DescribeTargetGroups and
// DescribeTargetHealth output.
const (
	listenersJSON = `{"Listeners": [
 {"ListenerArn": "arn:aws:elasticloadbalancing:us-west-2:123456789012:listener/app/my-lb/50dc6c495c0c9188/f2f7dc8efc522ab2",
  "LoadBalancerArn": "arn:aws:elasticloadbalancing:us-west-2:123456789012:loadbalancer/app/my-lb/50dc6c495c0c9188",
  "Port": 80, "Protocol": "HTTP",
  "DefaultActions": [{"Type": "forward", "TargetGroupArn": "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/web/73e2d6bc24d8a067", "Order": 1}]}]}`
	rulesJSON = `{"Rules": [
 {"RuleArn": "arn:aws:elasticloadbalancing:us-west-2:123456789012:listener-rule/app/my-lb/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee",
  "Priority": "10",
  "Conditions": [
   {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/img/*"]}, "Values": ["/img/*"]},
   {"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "X-Canary", "Values": ["1"]}},
   {"Field": "query-string", "QueryStringConfig": {"Values": [{"Key": "v", "Value": "2"}, {"Value": "x*"}]}}],
  "Actions": [{"Type": "forward", "Order": 1, "ForwardConfig": {"TargetGroups": [
     {"TargetGroupArn": "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/web/73e2d6bc24d8a067", "Weight": 90},
     {"TargetGroupArn": "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/canary/1234", "Weight": 10}],
    "TargetGroupStickinessConfig": {"Enabled": true, "DurationSeconds": 3600}}}],
  "IsDefault": false},
 {"RuleArn": "arn:aws:elasticloadbalancing:us-west-2:123456789012:listener-rule/app/my-lb/50dc6c495c0c9188/f2f7dc8efc522ab2/1111",
  "Priority": "20",
  "Conditions": [{"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["DELETE"]}},
   {"Field": "source-ip", "SourceIpConfig": {"Values": ["10.0.0.0/8"]}}],
  "Actions": [{"Type": "authenticate-oidc", "Order": 1}, {"Type": "fixed-response", "Order": 2,
    "FixedResponseConfig": {"StatusCode": "403", "ContentType": "text/plain", "MessageBody": "no"}}],
  "IsDefault": false},
 {"RuleArn": "arn:aws:elasticloadbalancing:us-west-2:123456789012:listener-rule/app/my-lb/50dc6c495c0c9188/f2f7dc8efc522ab2/2222",
  "Priority": "30",
  "Conditions": [{"Field": "host-header", "HostHeaderConfig": {"Values": ["old.example.com"]}}],
  "Actions": [{"Type": "redirect", "Order": 1, "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "Host": "#{host}", "Path": "/#{path}", "Query": "#{query}", "StatusCode": "HTTP_301"}}],
  "IsDefault": false},
 {"RuleArn": "arn:aws:elasticloadbalancing:us-west-2:123456789012:listener-rule/app/my-lb/50dc6c495c0c9188/f2f7dc8efc522ab2/3333",
  "Priority": "default", "Conditions": [], "Actions": [], "IsDefault": true}]}`
	groupsJSON = `{"TargetGroups": [
 {"TargetGroupArn": "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/web/73e2d6bc24d8a067", "TargetGroupName": "web",
  "Protocol": "HTTP", "Port": 80, "HealthCheckProtocol": "HTTP", "HealthCheckPort": "traffic-port", "HealthCheckEnabled": true,
  "HealthCheckIntervalSeconds": 30, "HealthCheckTimeoutSeconds": 5, "HealthyThresholdCount": 5, "UnhealthyThresholdCount": 2,
  "HealthCheckPath": "/health", "Matcher": {"HttpCode": "200-299"}, "TargetType": "ip"},
 {"TargetGroupArn": "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/canary/1234", "TargetGroupName": "canary",
  "Protocol": "HTTP", "Port": 80, "HealthCheckPath": "/", "TargetType": "ip"}]}`
	healthJSON = `{"TargetHealthDescriptions": [{"Target": {"Id": "10.0.1.5", "Port": 80}, "TargetHealth": {"State": "healthy"}},
  {"Target": {"Id": "10.0.1.6", "Port": 80}, "TargetHealth": {"State": "unhealthy", "Reason": "Target.Timeout"}}]}
{"TargetHealthDescriptions": [{"Target": {"Id": "10.0.2.5", "Port": 8080}, "TargetHealth": {"State": "healthy"}}]}`
)

func TestConvertLoads(t *testing.T) {
	out, err := Convert(Input{Listeners: []byte(listenersJSON), Rules: []byte(rulesJSON), TargetGroups: []byte(groupsJSON), Health: []byte(healthJSON)})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load([]byte(out))
	if err != nil {
		t.Fatalf("imported config does not load: %v\n%s", err, out)
	}
	l := cfg.Listeners[0]
	if l.Address != "0.0.0.0:80" || l.DefaultAction.TargetGroup != "web" || len(l.Rules) != 3 {
		t.Fatalf("listener = %+v\n%s", l, out)
	}
	r := l.Rules[0]
	if len(r.Conditions) != 3 || r.Action.TargetGroups[1].Name != "canary" || *r.Action.TargetGroups[1].Weight != 10 || r.Action.Stickiness.Duration.D().Hours() != 1 {
		t.Errorf("weighted rule = %+v", r)
	}
	if f := l.Rules[1].Action.FixedResponse; f == nil || f.StatusCode != 403 || f.MessageBody != "no" {
		t.Errorf("fixed-response rule = %+v", l.Rules[1].Action)
	}
	if rd := l.Rules[2].Action.Redirect; rd == nil || rd.Protocol != "https" || rd.StatusCode != 301 {
		t.Errorf("redirect rule = %+v", l.Rules[2].Action)
	}
	if tg := cfg.TargetGroups[0]; len(tg.Targets) != 2 || tg.Targets[0].Address != "10.0.1.5:80" || tg.HealthCheck.Path != "/health" {
		t.Errorf("target group = %+v", tg)
	}
	if cfg.TargetGroups[1].Targets[0].Address != "10.0.2.5:8080" {
		t.Errorf("canary targets = %+v", cfg.TargetGroups[1].Targets)
	}
	if !strings.Contains(out, "# action authenticate-oidc is not carried over") {
		t.Errorf("no comment for the action Fulcrum cannot run:\n%s", out)
	}
}

func TestConvertHTTPSComments(t *testing.T) {
	out, err := Convert(Input{Listeners: []byte(`{"Listeners": [{"ListenerArn": "arn:l", "Port": 443, "Protocol": "HTTPS",
  "SslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06", "Certificates": [{"CertificateArn": "arn:aws:acm:us-west-2:123456789012:certificate/abc"}],
  "DefaultActions": [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}]}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"protocol: https", "ACM/IAM certificates cannot be exported", "arn:aws:acm:us-west-2:123456789012:certificate/abc",
		`tls_policy: {name: "ELBSecurityPolicy-TLS13-1-2-2021-06"}`, "default_action: {type: fixed_response, fixed_response: {status_code: 404}}"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, err := Convert(Input{Listeners: []byte(`{"Listeners": [`)}); err == nil || !strings.Contains(err.Error(), "describe-listeners") {
		t.Errorf("bad JSON: err = %v", err)
	}
}

// TestConvertProtocolVersion: ProtocolVersion and a GrpcCode matcher
// become protocol_version and {grpc_code: ...}, and the configuration
// loads as a gRPC health check; an HTTP2 group keeps its HttpCode.
func TestConvertProtocolVersion(t *testing.T) {
	groups := `{"TargetGroups": [
 {"TargetGroupArn": "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/greeter/0123456789abcdef", "TargetGroupName": "greeter",
  "Protocol": "HTTPS", "Port": 50051, "VpcId": "vpc-0123456789abcdef0", "HealthCheckProtocol": "HTTPS", "HealthCheckPort": "traffic-port",
  "HealthCheckEnabled": true, "HealthCheckIntervalSeconds": 10, "HealthCheckTimeoutSeconds": 5, "HealthyThresholdCount": 3,
  "UnhealthyThresholdCount": 2, "HealthCheckPath": "/grpc.health.v1.Health/Check", "Matcher": {"GrpcCode": "0"},
  "LoadBalancerArns": [], "TargetType": "ip", "ProtocolVersion": "GRPC", "IpAddressType": "ipv4"},
 {"TargetGroupArn": "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/h2/fedcba9876543210", "TargetGroupName": "h2",
  "Protocol": "HTTP", "Port": 8080, "HealthCheckProtocol": "HTTP", "HealthCheckPath": "/healthz", "Matcher": {"HttpCode": "200,204"},
  "TargetType": "instance", "ProtocolVersion": "HTTP2"},
 {"TargetGroupArn": "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/plain/1", "TargetGroupName": "plain",
  "Protocol": "HTTP", "Port": 80, "HealthCheckPath": "/", "Matcher": {"HttpCode": "200"}, "ProtocolVersion": "HTTP1"}]}`
	listeners := `{"Listeners": [{"ListenerArn": "arn:aws:elasticloadbalancing:us-west-2:123456789012:listener/app/my-lb/50dc6c495c0c9188/f2f7dc8efc522ab3",
  "Port": 80, "Protocol": "HTTP", "DefaultActions": [{"Type": "forward", "TargetGroupArn": "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/greeter/0123456789abcdef"}]}]}`
	out, err := Convert(Input{Listeners: []byte(listeners), TargetGroups: []byte(groups)})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"protocol_version: GRPC", `matcher: {grpc_code: "0"}`, "protocol_version: HTTP2", `matcher: "200,204"`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	cfg, err := config.Load([]byte(out))
	if err != nil {
		t.Fatalf("imported config does not load: %v\n%s", err, out)
	}
	byName := map[string]config.TargetGroup{}
	for _, tg := range cfg.TargetGroups {
		byName[tg.Name] = tg
	}
	g := byName["greeter"]
	if g.Version() != config.ProtocolGRPC || !g.GRPCHealthCheck() || !g.GRPCMatcher().Match(0) || g.GRPCMatcher().Match(12) || g.GRPCHealthPath() != "/grpc.health.v1.Health/Check" {
		t.Errorf("greeter = %+v", g)
	}
	h := byName["h2"]
	if h.Version() != config.ProtocolHTTP2 || h.GRPCHealthCheck() || !h.HealthCheck.Matcher.Match(204) || h.HealthCheck.Matcher.Match(200+1) {
		t.Errorf("h2 = %+v", h)
	}
	if p := byName["plain"]; p.Version() != config.ProtocolHTTP1 {
		t.Errorf("plain = %+v", p)
	}
}
