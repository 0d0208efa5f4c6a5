package config

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// Condition is one listener rule condition, named as ALB's rule condition
// types (AWS, "Listener rules for your Application Load Balancer"):
// host_header, path_pattern, http_header, http_request_method,
// query_string or source_ip. It matches when any of its values matches.
type Condition struct {
	// Field is the condition type.
	Field string `yaml:"field"`
	// Name is the header name of an http_header condition.
	Name string `yaml:"name"`
	// Values are the values to match: strings with '*' and '?'
	// wildcards, HTTP methods, CIDRs, or {key, value} pairs for
	// query_string.
	Values []ConditionValue `yaml:"values"`
}

// ConditionValue is one condition value: a string, or for query_string a
// {key, value} mapping whose key may be left out.
type ConditionValue struct {
	// Key is a query_string pair's key; empty matches any key.
	Key string
	// Value is the string, or a query_string pair's value.
	Value string
	// Pair is true when the value was written as a {key, value} mapping.
	Pair bool
}

// UnmarshalYAML accepts a scalar or a mapping with only "key" and "value".
func (v *ConditionValue) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*v = ConditionValue{Value: n.Value}
		return nil
	case yaml.MappingNode:
		*v = ConditionValue{Pair: true}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if val.Kind != yaml.ScalarNode {
				return fmt.Errorf("%s must be a single value", k.Value)
			}
			switch k.Value {
			case "key":
				v.Key = val.Value
			case "value":
				v.Value = val.Value
			default:
				return fmt.Errorf("unknown key %q (a query_string value has key and value)", k.Value)
			}
		}
		return nil
	}
	return fmt.Errorf("must be a string or a {key, value} mapping")
}

// MarshalYAML writes a value back as a string or a {key, value} mapping.
func (v ConditionValue) MarshalYAML() (any, error) {
	if !v.Pair {
		return v.Value, nil
	}
	m := map[string]string{"value": v.Value}
	if v.Key != "" {
		m["key"] = v.Key
	}
	return m, nil
}

// Action is what a rule, or a listener's default, does with a request
// (ALB's rule action types): forward, redirect or fixed_response.
type Action struct {
	// Type is forward, redirect or fixed_response.
	Type string `yaml:"type"`
	// TargetGroup is a forward action's single target group.
	TargetGroup string `yaml:"target_group"`
	// TargetGroups are a forward action's weighted target groups (ALB's
	// ForwardConfig.TargetGroups): each request goes to one of them in
	// proportion to the weights.
	TargetGroups []WeightedTargetGroup `yaml:"target_groups"`
	// Stickiness keeps a client on the target group it was first sent
	// to (ALB's TargetGroupStickinessConfig).
	Stickiness *GroupStickiness `yaml:"stickiness"`
	// Redirect configures a redirect action.
	Redirect *Redirect `yaml:"redirect"`
	// FixedResponse configures a fixed_response action.
	FixedResponse *FixedResponse `yaml:"fixed_response"`
}

// WeightedTargetGroup is one target group of a weighted forward action.
type WeightedTargetGroup struct {
	// Name is the target group's name.
	Name string `yaml:"name"`
	// Weight is the group's share, 0..999 (0 sends it nothing). Default 1.
	Weight *int `yaml:"weight"`
}

// W returns the weight, 1 when unset.
func (w WeightedTargetGroup) W() int {
	if w.Weight == nil {
		return 1
	}
	return *w.Weight
}

// GroupStickiness is target group stickiness of a weighted forward action.
type GroupStickiness struct {
	// Enabled turns it on. Default false.
	Enabled bool `yaml:"enabled"`
	// Duration is how long the client stays, 1s..7d. Default 1h.
	Duration Duration `yaml:"duration"`
}

// Redirect is a redirect action (ALB's RedirectActionConfig). Each
// component may use the placeholders #{protocol}, #{host}, #{port},
// #{path} (the original path without its leading "/") and #{query}; an
// unset component keeps the original's.
type Redirect struct {
	// Protocol is http, https or #{protocol}. Default #{protocol}.
	Protocol string `yaml:"protocol"`
	// Host is the host name. Default #{host}.
	Host string `yaml:"host"`
	// Port is 1..65535 or #{port}. Default #{port}.
	Port string `yaml:"port"`
	// Path starts with "/". Default /#{path}.
	Path string `yaml:"path"`
	// Query is the query without its "?". Default #{query}.
	Query string `yaml:"query"`
	// StatusCode is 301 (permanent) or 302 (found). Required.
	StatusCode int `yaml:"status_code"`
}

// FixedResponse is a fixed_response action (ALB's
// FixedResponseActionConfig).
type FixedResponse struct {
	// StatusCode is a 2XX, 4XX or 5XX code. Required.
	StatusCode int `yaml:"status_code"`
	// ContentType is text/plain, text/css, text/html,
	// application/javascript or application/json. Default text/plain.
	ContentType string `yaml:"content_type"`
	// MessageBody is the body, at most 1024 bytes.
	MessageBody string `yaml:"message_body"`
}

// Stickiness is a target group's stickiness attribute (ALB's
// stickiness.type, stickiness.lb_cookie.duration_seconds,
// stickiness.app_cookie.cookie_name and duration_seconds).
type Stickiness struct {
	// Enabled turns stickiness on. Default false.
	Enabled bool `yaml:"enabled"`
	// Type is lb_cookie (Fulcrum's own AWSALB cookie) or app_cookie
	// (follows the application's cookie). Default lb_cookie.
	Type string `yaml:"type"`
	// CookieName is the application's cookie, for app_cookie.
	CookieName string `yaml:"cookie_name"`
	// Duration is how long a client stays on its target, 1s..7d.
	// Default 1d (ALB's 86400 seconds).
	Duration Duration `yaml:"duration"`
}

// Certificate is one PEM certificate and key of an https listener.
type Certificate struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// TLSPolicy is an https listener's TLS versions and cipher suites.
type TLSPolicy struct {
	// Name is an ALB security policy name, such as
	// ELBSecurityPolicy-TLS13-1-2-2021-06, that sets min_version and
	// ciphers.
	Name string `yaml:"name"`
	// MinVersion is "1.0", "1.1", "1.2" or "1.3". Default "1.2".
	MinVersion string `yaml:"min_version"`
	// Ciphers are TLS 1.0-1.2 cipher suites by IANA name
	// (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256) or OpenSSL name
	// (ECDHE-RSA-AES128-GCM-SHA256). TLS 1.3 suites are not
	// configurable. Default Go's secure list.
	Ciphers []string `yaml:"ciphers"`
}

// MutualAuthentication is an https listener's client certificate mode
// (ALB's MutualAuthenticationAttributes).
type MutualAuthentication struct {
	// Mode is off, passthrough (the client's certificate is sent to the
	// target in X-Amzn-Mtls-Clientcert, unverified) or verify (the
	// certificate must chain to ca_file). Default off.
	Mode string `yaml:"mode"`
	// CAFile is the PEM bundle of trusted client CAs, for verify.
	CAFile string `yaml:"ca_file"`
}

// ListenerAction returns the listener's default action: default_action,
// or a forward to default_target_group.
func (l *Listener) ListenerAction() Action {
	if l.DefaultAction != nil {
		return *l.DefaultAction
	}
	return Action{Type: "forward", TargetGroup: l.DefaultTargetGroup}
}

// RuleConditions returns the rule's conditions, with the host and path
// shorthands as host_header and path_pattern conditions.
func (r *Rule) RuleConditions() []Condition {
	cs := make([]Condition, 0, len(r.Conditions)+2)
	if r.Host != "" {
		cs = append(cs, Condition{Field: "host_header", Values: []ConditionValue{{Value: r.Host}}})
	}
	if r.Path != "" {
		cs = append(cs, Condition{Field: "path_pattern", Values: []ConditionValue{{Value: r.Path}}})
	}
	return append(cs, r.Conditions...)
}

// RuleAction returns the rule's action: action, or a forward to
// target_group.
func (r *Rule) RuleAction() Action {
	if r.Action != nil {
		return *r.Action
	}
	return Action{Type: "forward", TargetGroup: r.TargetGroup}
}

// ListenerCertificates returns the https listener's certificates, the
// default first: tls, then certificates.
func (l *Listener) ListenerCertificates() []Certificate {
	var cs []Certificate
	if l.TLS != nil {
		cs = append(cs, Certificate{CertFile: l.TLS.CertFile, KeyFile: l.TLS.KeyFile})
	}
	return append(cs, l.Certificates...)
}

// Forwards returns the action's target groups and weights: target_group
// as one group of weight 1, or target_groups.
func (a *Action) Forwards() []WeightedTargetGroup {
	if a.TargetGroup != "" {
		one := 1
		return []WeightedTargetGroup{{Name: a.TargetGroup, Weight: &one}}
	}
	return a.TargetGroups
}
