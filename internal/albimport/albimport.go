// Package albimport turns the JSON of `aws elbv2 describe-listeners`,
// `describe-rules`, `describe-target-groups` and `describe-target-health`
// into a Fulcrum configuration (AWS, Elastic Load Balancing API
// Reference: Listener, Rule, RuleCondition, Action, TargetGroup,
// TargetHealthDescription). What Fulcrum cannot carry over is written as
// a YAML comment next to where it would go.
package albimport

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Input is the four documents' JSON; Rules and Health may hold several
// documents concatenated (one describe-rules per listener, one
// describe-target-health per target group, in TargetGroups order).
type Input struct {
	Listeners, Rules, TargetGroups, Health []byte
}

type action struct {
	Type           string
	TargetGroupArn string
	Order          int
	ForwardConfig  *struct {
		TargetGroups []struct {
			TargetGroupArn string
			Weight         *int
		}
		TargetGroupStickinessConfig *struct {
			Enabled         bool
			DurationSeconds int
		}
	}
	RedirectConfig *struct {
		Protocol, Host, Port, Path, Query, StatusCode string
	}
	FixedResponseConfig *struct {
		StatusCode, ContentType, MessageBody string
	}
}

type listener struct {
	ListenerArn  string
	Port         int
	Protocol     string
	SslPolicy    string
	Certificates []struct {
		CertificateArn string
		IsDefault      bool
	}
	DefaultActions       []action
	MutualAuthentication *struct{ Mode string }
}

type condition struct {
	Field             string
	Values            []string
	HostHeaderConfig  *struct{ Values []string }
	PathPatternConfig *struct{ Values []string }
	HttpHeaderConfig  *struct {
		HttpHeaderName string
		Values         []string
	}
	HttpRequestMethodConfig *struct{ Values []string }
	QueryStringConfig       *struct{ Values []struct{ Key, Value string } }
	SourceIpConfig          *struct{ Values []string }
}

type rule struct {
	RuleArn    string
	Priority   string
	Conditions []condition
	Actions    []action
	IsDefault  bool
}

type targetGroup struct {
	TargetGroupArn             string
	TargetGroupName            string
	Protocol                   string
	ProtocolVersion            string
	HealthCheckProtocol        string
	HealthCheckPort            string
	HealthCheckPath            string
	HealthCheckIntervalSeconds int
	HealthCheckTimeoutSeconds  int
	HealthyThresholdCount      int
	UnhealthyThresholdCount    int
	HealthCheckEnabled         *bool
	Matcher                    *struct{ HttpCode, GrpcCode string }
	TargetType                 string
}

type health struct {
	TargetHealthDescriptions []struct {
		Target struct {
			Id   string
			Port int
		}
	}
}

// decodeAll decodes every JSON document in b into a new T.
func decodeAll[T any](b []byte, what string) ([]T, error) {
	var out []T
	d := json.NewDecoder(strings.NewReader(string(b)))
	for d.More() {
		var v T
		if err := d.Decode(&v); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// Convert returns the Fulcrum YAML for in. Errors name the document that
// does not parse.
func Convert(in Input) (string, error) {
	lds, err := decodeAll[struct{ Listeners []listener }](in.Listeners, "describe-listeners")
	if err != nil {
		return "", err
	}
	rds, err := decodeAll[struct{ Rules []rule }](in.Rules, "describe-rules")
	if err != nil {
		return "", err
	}
	tds, err := decodeAll[struct{ TargetGroups []targetGroup }](in.TargetGroups, "describe-target-groups")
	if err != nil {
		return "", err
	}
	hds, err := decodeAll[health](in.Health, "describe-target-health")
	if err != nil {
		return "", err
	}
	names := map[string]string{}
	var tgs []targetGroup
	for _, d := range tds {
		for _, tg := range d.TargetGroups {
			names[tg.TargetGroupArn] = tg.TargetGroupName
			tgs = append(tgs, tg)
		}
	}
	rulesByListener := map[string][]rule{}
	for _, d := range rds {
		for _, r := range d.Rules {
			arn := r.RuleArn
			if i := strings.Index(arn, ":listener-rule/"); i >= 0 {
				parts := strings.Split(arn[i+len(":listener-rule/"):], "/")
				if len(parts) >= 5 {
					arn = arn[:i] + ":listener/" + strings.Join(parts[:4], "/")
				}
			}
			rulesByListener[arn] = append(rulesByListener[arn], r)
		}
	}
	w := &writer{names: names}
	w.line(0, "# Imported from aws elbv2 describe-* output by fulcrum import alb.")
	w.line(0, "listeners:")
	for _, d := range lds {
		for _, l := range d.Listeners {
			w.listener(l, rulesByListener[l.ListenerArn])
		}
	}
	w.line(0, "target_groups:")
	for i, tg := range tgs {
		var h *health
		if i < len(hds) {
			h = &hds[i]
		}
		w.targetGroup(tg, h)
	}
	return w.b.String(), nil
}

type writer struct {
	b     strings.Builder
	names map[string]string
}

func (w *writer) line(indent int, format string, args ...any) {
	w.b.WriteString(strings.Repeat("  ", indent))
	fmt.Fprintf(&w.b, format, args...)
	w.b.WriteByte('\n')
}

func q(s string) string { return strconv.Quote(s) }

func (w *writer) listener(l listener, rs []rule) {
	proto := strings.ToLower(l.Protocol)
	w.line(1, "- name: %s", q(fmt.Sprintf("%s-%d", proto, l.Port)))
	w.line(2, "address: %s", q(fmt.Sprintf("0.0.0.0:%d", l.Port)))
	if proto != "http" && proto != "https" {
		w.line(2, "# protocol %s is not carried over: Fulcrum listeners are http or https.", l.Protocol)
		proto = "http"
	}
	w.line(2, "protocol: %s", proto)
	if proto == "https" {
		w.line(2, "certificates:  # ACM/IAM certificates cannot be exported: put each one's PEM files here")
		for _, c := range l.Certificates {
			w.line(3, "- {cert_file: CHANGE-ME.pem, key_file: CHANGE-ME.key}  # %s", c.CertificateArn)
		}
		if len(l.Certificates) == 0 {
			w.line(3, "- {cert_file: CHANGE-ME.pem, key_file: CHANGE-ME.key}")
		}
		if l.SslPolicy != "" {
			w.line(2, "tls_policy: {name: %s}", q(l.SslPolicy))
		}
		if m := l.MutualAuthentication; m != nil && m.Mode != "" && m.Mode != "off" {
			w.line(2, "mutual_authentication: {mode: %s}  # trust stores are not exported: add ca_file for verify", m.Mode)
		}
	}
	w.action(2, "default_action", l.DefaultActions)
	sort.SliceStable(rs, func(i, j int) bool {
		a, _ := strconv.Atoi(rs[i].Priority)
		b, _ := strconv.Atoi(rs[j].Priority)
		return a < b
	})
	first := true
	for _, r := range rs {
		if r.IsDefault || r.Priority == "default" {
			continue
		}
		if first {
			w.line(2, "rules:")
			first = false
		}
		w.line(3, "- priority: %s", r.Priority)
		w.line(4, "conditions:")
		for _, c := range r.Conditions {
			w.condition(5, c)
		}
		w.action(4, "action", r.Actions)
	}
}

func values(vs []string) string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = q(v)
	}
	return "[" + strings.Join(out, ", ") + "]"
}

func (w *writer) condition(n int, c condition) {
	field := strings.ReplaceAll(c.Field, "-", "_")
	switch {
	case c.HostHeaderConfig != nil:
		w.line(n, "- {field: host_header, values: %s}", values(c.HostHeaderConfig.Values))
	case c.PathPatternConfig != nil:
		w.line(n, "- {field: path_pattern, values: %s}", values(c.PathPatternConfig.Values))
	case c.HttpHeaderConfig != nil:
		w.line(n, "- {field: http_header, name: %s, values: %s}", q(c.HttpHeaderConfig.HttpHeaderName), values(c.HttpHeaderConfig.Values))
	case c.HttpRequestMethodConfig != nil:
		w.line(n, "- {field: http_request_method, values: %s}", values(c.HttpRequestMethodConfig.Values))
	case c.SourceIpConfig != nil:
		w.line(n, "- {field: source_ip, values: %s}", values(c.SourceIpConfig.Values))
	case c.QueryStringConfig != nil:
		var ps []string
		for _, kv := range c.QueryStringConfig.Values {
			if kv.Key == "" {
				ps = append(ps, "{value: "+q(kv.Value)+"}")
			} else {
				ps = append(ps, "{key: "+q(kv.Key)+", value: "+q(kv.Value)+"}")
			}
		}
		w.line(n, "- {field: query_string, values: [%s]}", strings.Join(ps, ", "))
	case len(c.Values) > 0 && (field == "host_header" || field == "path_pattern"):
		w.line(n, "- {field: %s, values: %s}", field, values(c.Values))
	default:
		w.line(n, "# condition %s is not carried over", c.Field)
	}
}

func (w *writer) action(n int, key string, as []action) {
	sort.SliceStable(as, func(i, j int) bool { return as[i].Order < as[j].Order })
	var last *action
	for i := range as {
		switch as[i].Type {
		case "forward", "redirect", "fixed-response":
			last = &as[i]
		default:
			w.line(n, "# action %s is not carried over (Fulcrum runs forward, redirect and fixed_response)", as[i].Type)
		}
	}
	if last == nil {
		w.line(n, "%s: {type: fixed_response, fixed_response: {status_code: 503}}  # no action Fulcrum can run", key)
		return
	}
	a := last
	switch a.Type {
	case "forward":
		if fc := a.ForwardConfig; fc != nil && len(fc.TargetGroups) > 1 {
			w.line(n, "%s:", key)
			w.line(n+1, "type: forward")
			w.line(n+1, "target_groups:")
			for _, g := range fc.TargetGroups {
				wt := 1
				if g.Weight != nil {
					wt = *g.Weight
				}
				w.line(n+2, "- {name: %s, weight: %d}", q(w.names[g.TargetGroupArn]), wt)
			}
			if s := fc.TargetGroupStickinessConfig; s != nil && s.Enabled {
				w.line(n+1, "stickiness: {enabled: true, duration: %ds}", s.DurationSeconds)
			}
			return
		}
		arn := a.TargetGroupArn
		if arn == "" && a.ForwardConfig != nil && len(a.ForwardConfig.TargetGroups) == 1 {
			arn = a.ForwardConfig.TargetGroups[0].TargetGroupArn
		}
		w.line(n, "%s: {type: forward, target_group: %s}", key, q(w.names[arn]))
	case "redirect":
		rc := a.RedirectConfig
		if rc == nil {
			return
		}
		code := strings.TrimPrefix(rc.StatusCode, "HTTP_")
		var parts []string
		for _, kv := range [][2]string{{"protocol", rc.Protocol}, {"host", rc.Host}, {"port", rc.Port}, {"path", rc.Path}, {"query", rc.Query}} {
			if kv[1] != "" {
				v := kv[1]
				if kv[0] == "protocol" && v != "#{protocol}" {
					v = strings.ToLower(v)
				}
				parts = append(parts, kv[0]+": "+q(v))
			}
		}
		parts = append(parts, "status_code: "+code)
		w.line(n, "%s: {type: redirect, redirect: {%s}}", key, strings.Join(parts, ", "))
	case "fixed-response":
		fc := a.FixedResponseConfig
		if fc == nil {
			return
		}
		parts := []string{"status_code: " + fc.StatusCode}
		if fc.ContentType != "" {
			parts = append(parts, "content_type: "+q(fc.ContentType))
		}
		if fc.MessageBody != "" {
			parts = append(parts, "message_body: "+q(fc.MessageBody))
		}
		w.line(n, "%s: {type: fixed_response, fixed_response: {%s}}", key, strings.Join(parts, ", "))
	}
}

func (w *writer) targetGroup(tg targetGroup, h *health) {
	w.line(1, "- name: %s", q(tg.TargetGroupName))
	p := strings.ToLower(tg.Protocol)
	if p != "http" && p != "https" {
		w.line(2, "# protocol %s is not carried over", tg.Protocol)
		p = "http"
	}
	w.line(2, "protocol: %s", p)
	switch v := strings.ToUpper(tg.ProtocolVersion); v {
	case "":
	case "HTTP1", "HTTP2", "GRPC":
		w.line(2, "protocol_version: %s", v)
	default:
		w.line(2, "# protocol version %s is not carried over", tg.ProtocolVersion)
	}
	if tg.TargetType == "lambda" {
		w.line(2, "# target type lambda is not carried over")
	}
	w.line(2, "health_check:")
	if tg.HealthCheckEnabled != nil && !*tg.HealthCheckEnabled {
		w.line(3, "enabled: false")
	}
	if tg.HealthCheckProtocol != "" {
		w.line(3, "protocol: %s", strings.ToLower(tg.HealthCheckProtocol))
	}
	if tg.HealthCheckPort != "" {
		w.line(3, "port: %s", q(tg.HealthCheckPort))
	}
	if tg.HealthCheckPath != "" {
		w.line(3, "path: %s", q(tg.HealthCheckPath))
	}
	if tg.HealthCheckIntervalSeconds > 0 {
		w.line(3, "interval: %ds", tg.HealthCheckIntervalSeconds)
	}
	if tg.HealthCheckTimeoutSeconds > 0 {
		w.line(3, "timeout: %ds", tg.HealthCheckTimeoutSeconds)
	}
	if tg.HealthyThresholdCount > 0 {
		w.line(3, "healthy_threshold: %d", tg.HealthyThresholdCount)
	}
	if tg.UnhealthyThresholdCount > 0 {
		w.line(3, "unhealthy_threshold: %d", tg.UnhealthyThresholdCount)
	}
	w.matcher(tg.Matcher)
	w.line(2, "# target group attributes (describe-target-group-attributes) such as stickiness are not in these documents")
	if h == nil || len(h.TargetHealthDescriptions) == 0 {
		w.line(2, "targets: []")
		return
	}
	w.line(2, "targets:")
	for _, d := range h.TargetHealthDescriptions {
		w.line(3, "- {address: %s}", q(fmt.Sprintf("%s:%d", d.Target.Id, d.Target.Port)))
	}
}

// matcher writes ALB's Matcher: GrpcCode (gRPC codes of a GRPC group's
// health check) as {grpc_code: ...}, HttpCode as a plain list of HTTP
// codes (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_Matcher.html).
func (w *writer) matcher(m *struct{ HttpCode, GrpcCode string }) {
	switch {
	case m == nil:
	case m.GrpcCode != "":
		w.line(3, "matcher: {grpc_code: %s}", q(m.GrpcCode))
	case m.HttpCode != "":
		w.line(3, "matcher: %s", q(m.HttpCode))
	}
}
