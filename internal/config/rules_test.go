package config

import (
	"errors"
	"strings"
	"testing"
)

// TestRoutingKeys loads the shape of ALB's rules, actions and
// stickiness, and reports every problem of a bad one with its path.
func TestRoutingKeys(t *testing.T) {
	good := `
listeners:
  - name: web
    address: 127.0.0.1:0
    default_action: {type: forward, target_group: v2}
    rules:
      - priority: 10
        conditions:
          - {field: host_header, values: ["api.example.com", "*.api.example.com"]}
          - {field: http_header, name: X-Canary, values: ["1"]}
          - {field: query_string, values: [{key: v, value: "2"}, {value: "x*"}]}
          - {field: source_ip, values: ["10.0.0.0/8", "2001:db8::/32"]}
        action:
          type: forward
          target_groups: [{name: v2, weight: 90}, {name: v3, weight: 10}]
          stickiness: {enabled: true}
      - priority: 20
        conditions: [{field: path_pattern, values: ["/old/*"]}]
        action: {type: redirect, redirect: {path: "/new/#{path}", status_code: 301}}
      - priority: 30
        conditions: [{field: http_request_method, values: [DELETE]}]
        action: {type: fixed_response, fixed_response: {status_code: 403, content_type: text/plain, message_body: "no"}}
      - {priority: 40, host: "*.example.com", path: /api/*, target_group: v3}
target_groups:
  - {name: v2, stickiness: {enabled: true, type: lb_cookie, duration: 1d}}
  - {name: v3, stickiness: {enabled: true, type: app_cookie, cookie_name: SESSION, duration: 2h}}
`
	c, err := Load([]byte(good))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	r := c.Listeners[0].Rules
	if v := r[0].Conditions[2].Values; !v[0].Pair || v[0].Key != "v" || v[1].Key != "" || v[1].Value != "x*" {
		t.Errorf("query_string values = %+v", v)
	}
	if d := r[0].Action.Stickiness.Duration.D().String(); d != "1h0m0s" {
		t.Errorf("group stickiness default duration = %s, want 1h", d)
	}
	if st := c.TargetGroups[0].Stickiness; st.Duration.D().Hours() != 24 {
		t.Errorf("lb_cookie default duration = %s, want 24h", st.Duration)
	}

	bad := `
listeners:
  - name: web
    address: 127.0.0.1:0
    protocol: https
    default_action: {type: redirect, redirect: {status_code: 301}}
    rules:
      - priority: 10
        conditions:
          - {field: host_headers, values: [a]}
          - {field: source_ip, values: ["10.0.0.300/8"]}
          - {field: query_string, values: ["plain"]}
        action: {type: forward, target_groups: [{name: nope, weight: 1000}]}
      - priority: 20
        conditions: [{field: path_pattern, values: ["/x"]}]
        action: {type: redirect, redirect: {protocol: http, status_code: 307}}
      - priority: 30
        conditions: [{field: http_request_method, values: [get]}]
        action: {type: fixed_response, fixed_response: {status_code: 302, content_type: image/png}}
target_groups:
  - {name: app, stickiness: {enabled: true, type: app_cookie, duration: 8d}}
`
	_, err = Load([]byte(bad))
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("Load(bad) = %v, want *Error", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"listeners[0].certificates",
		"listeners[0].default_action.redirect",
		`listeners[0].rules[0].conditions[0].field (line 10): "host_headers" is not one of`,
		"listeners[0].rules[0].conditions[1].values[0] (line 11)",
		"listeners[0].rules[0].conditions[2].values[0] (line 12): query_string values are {key, value} pairs",
		`listeners[0].rules[0].action.target_groups[0].name (line 13): "nope" is not a target group`,
		"listeners[0].rules[0].action.target_groups[0].weight (line 13): 1000 is out of range 0..999",
		"listeners[0].rules[1].action.redirect.status_code (line 16): 307 is not 301 or 302",
		"listeners[0].rules[1].action.redirect.protocol (line 16): an https listener cannot redirect to http",
		`listeners[0].rules[2].conditions[0].values[0] (line 18): "get" is not a method`,
		"listeners[0].rules[2].action.fixed_response.status_code (line 19): 302 is not a 2XX, 4XX or 5XX code",
		`listeners[0].rules[2].action.fixed_response.content_type (line 19): "image/png" is not one of`,
		"target_groups[0].stickiness.cookie_name (line 21): is required for app_cookie",
		"target_groups[0].stickiness.duration (line 21): 192h0m0s is out of range 1s..168h0m0s",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("problems lack %q; got:\n%s", want, msg)
		}
	}
}

// TestHTTPSRedirectExample is the documented one-rule HTTP to HTTPS
// redirect, with the port written as a number too.
func TestHTTPSRedirectExample(t *testing.T) {
	for _, port := range []string{`"443"`, `443`} {
		c, err := Load([]byte(`
listeners:
  - name: http
    address: 0.0.0.0:80
    default_action:
      type: redirect
      redirect: {protocol: https, port: ` + port + `, status_code: 301}
`))
		if err != nil {
			t.Fatalf("port %s: %v", port, err)
		}
		if rd := c.Listeners[0].DefaultAction.Redirect; rd.Port != "443" || rd.Protocol != "https" {
			t.Fatalf("redirect = %+v", rd)
		}
	}
}
