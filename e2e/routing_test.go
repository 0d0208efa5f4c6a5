package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// ALB field indexes for the routing fields (zero-based; see harness_test.go).
const (
	fRulePriority = 20
	fActions      = 22
	fRedirectURL  = 23
)

// TestRoutingActionsThroughTheBinary runs every rule action and condition
// type through the binary with real nginx targets, and checks the client's
// answer and ALB's routing fields in the access log (matched_rule_priority,
// actions_executed, redirect_url), as "Listener rules for your Application
// Load Balancer" describes them
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/listener-rules.html).
func TestRoutingActionsThroughTheBinary(t *testing.T) {
	v2, v3 := startNginx(t, "v2"), startNginx(t, "v3")
	f := startFulcrum(t, fmt.Sprintf(`
access_log: {path: "-"}
listeners:
  - name: web
    address: "127.0.0.1:0"
    default_action: {type: forward, target_group: v2}
    rules:
      - priority: 10
        conditions:
          - {field: host_header, values: ["api.example.com", "*.api.example.com"]}
          - {field: http_header, name: X-Canary, values: ["1"]}
        action:
          type: forward
          target_groups: [{name: v2, weight: 50}, {name: v3, weight: 50}]
      - priority: 20
        conditions: [{field: path_pattern, values: ["/old/*"]}]
        action: {type: redirect, redirect: {path: "/new/#{path}", status_code: 301}}
      - priority: 30
        conditions: [{field: http_request_method, values: [DELETE]}]
        action: {type: fixed_response, fixed_response: {status_code: 403, content_type: text/plain, message_body: "no"}}
      - priority: 40
        conditions: [{field: query_string, values: [{key: version, value: "3"}]}]
        action: {type: forward, target_group: v3}
      - priority: 50
        conditions:
          - {field: source_ip, values: ["127.0.0.0/8"]}
          - {field: path_pattern, values: ["/from-loopback"]}
        action: {type: forward, target_group: v3}
target_groups:
  - {name: v2, health_check: {enabled: false}, targets: [{address: %q}]}
  - {name: v3, health_check: {enabled: false}, targets: [{address: %q}]}
`, v2.addr, v3.addr))
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path, host, id string, hdr map[string]string) (*http.Response, string, []string) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+f.addr+path, nil)
		req.Host = host
		req.Header.Set("X-Request-Id", id)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, strings.TrimSpace(string(body)), f.accessLine(id)
	}

	// Weighted target groups: both groups get a share, and the log names
	// the rule and "forward".
	counts := map[string]int{}
	for i := range 200 {
		resp, body, line := do("GET", "/", "x.api.example.com", fmt.Sprintf("canary-%d", i), map[string]string{"X-Canary": "1"})
		if resp.StatusCode != 200 || line[fRulePriority] != "10" || line[fActions] != "forward" {
			t.Fatalf("canary %d: %d %q, log priority %s actions %s", i, resp.StatusCode, body, line[fRulePriority], line[fActions])
		}
		counts[body]++
	}
	if counts["v2"] < 60 || counts["v3"] < 60 {
		t.Errorf("50/50 weighted forward split %v over 200 requests", counts)
	}
	// Without the header the rule does not match: the default action.
	if resp, body, line := do("GET", "/", "api.example.com", "no-canary", nil); resp.StatusCode != 200 || body != "v2" || line[fRulePriority] != "0" {
		t.Errorf("without X-Canary: %d %q priority %s, want the default action (v2, priority 0)", resp.StatusCode, body, line[fRulePriority])
	}

	// Redirect with the #{path} placeholder.
	resp, _, line := do("GET", "/old/page?q=1", "www.example.com", "redirect-1", nil)
	if resp.StatusCode != 301 || resp.Header.Get("Location") != "http://www.example.com:"+portOf(f.addr)+"/new/old/page?q=1" {
		t.Errorf("redirect: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if line[fActions] != "redirect" || line[fRedirectURL] != resp.Header.Get("Location") || line[fTargetStatus] != "-" || line[fELBStatus] != "301" {
		t.Errorf("redirect log: actions %q redirect_url %q elb %s target %s", line[fActions], line[fRedirectURL], line[fELBStatus], line[fTargetStatus])
	}

	// Fixed response: an ELB status, no target, no error reason.
	resp, body, line := do("DELETE", "/anything", "www.example.com", "fixed-1", nil)
	if resp.StatusCode != 403 || body != "no" || resp.Header.Get("Content-Type") != "text/plain" {
		t.Errorf("fixed_response: %d %q %q", resp.StatusCode, body, resp.Header.Get("Content-Type"))
	}
	if line[fActions] != "fixed-response" || line[fTarget] != "-" || line[fErrorReason] != "-" || line[fRulePriority] != "30" {
		t.Errorf("fixed_response log: actions %q target %q error %q priority %s", line[fActions], line[fTarget], line[fErrorReason], line[fRulePriority])
	}

	// Query string and source IP conditions.
	if resp, body, line := do("GET", "/?version=3", "www.example.com", "query-1", nil); resp.StatusCode != 200 || body != "v3" || line[fRulePriority] != "40" {
		t.Errorf("query_string rule: %d %q priority %s", resp.StatusCode, body, line[fRulePriority])
	}
	if resp, body, line := do("GET", "/?version=2", "www.example.com", "query-2", nil); body != "v2" || line[fRulePriority] != "0" {
		t.Errorf("query_string mismatch: %d %q priority %s, want the default", resp.StatusCode, body, line[fRulePriority])
	}
	if resp, body, line := do("GET", "/from-loopback", "www.example.com", "source-1", nil); resp.StatusCode != 200 || body != "v3" || line[fRulePriority] != "50" {
		t.Errorf("source_ip rule: %d %q priority %s", resp.StatusCode, body, line[fRulePriority])
	}
}

// TestStickinessAcrossTargetFailure: an lb_cookie keeps a client on one
// target; when that target dies, the next request with the cookie is
// served by another target with a new cookie, and the request's story says
// why the sticky target was left (ALB: "Sticky sessions for your
// Application Load Balancer",
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/sticky-sessions.html).
func TestStickinessAcrossTargetFailure(t *testing.T) {
	one, two := startNginx(t, "one"), startNginx(t, "two")
	f := startFulcrum(t, fmt.Sprintf(`
access_log: {path: "-"}
listeners:
  - {name: web, address: "127.0.0.1:0", default_target_group: app}
target_groups:
  - name: app
    stickiness: {enabled: true, type: lb_cookie, duration: 1h}
    health_check: {interval: 1s, timeout: 500ms, healthy_threshold: 1, unhealthy_threshold: 1}
    targets: [{address: %q}, {address: %q}]
`, one.addr, two.addr))
	f.healthIs(one.addr, "healthy")
	f.healthIs(two.addr, "healthy")
	client := &http.Client{}
	send := func(id string, cookie *http.Cookie) (string, *http.Cookie) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+f.addr+"/", nil)
		req.Header.Set("X-Request-Id", id)
		if cookie != nil {
			req.AddCookie(cookie)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d", id, resp.StatusCode)
		}
		for _, c := range resp.Cookies() {
			if c.Name == "AWSALB" {
				return strings.TrimSpace(string(body)), c
			}
		}
		return strings.TrimSpace(string(body)), nil
	}
	first, cookie := send("sticky-0", nil)
	if cookie == nil {
		t.Fatal("no AWSALB cookie on the first response")
	}
	for i := 1; i <= 20; i++ {
		if got, _ := send(fmt.Sprintf("sticky-%d", i), cookie); got != first {
			t.Fatalf("request %d with the cookie went to %q, want %q", i, got, first)
		}
	}
	dead, other := one, "two"
	if first == "two" {
		dead, other = two, "one"
	}
	dead.kill()
	f.healthIs(dead.addr, "unhealthy")
	got, fresh := send("sticky-after", cookie)
	if got != other {
		t.Fatalf("after %s died, the sticky request went to %q", first, got)
	}
	if fresh == nil || fresh.Value == cookie.Value {
		t.Errorf("the request that left the dead sticky target got no new AWSALB cookie")
	}
	var story struct {
		Stickiness string `json:"stickiness"`
	}
	json.Unmarshal([]byte(adminGet(t, f.admin+"/api/v1/requests/sticky-after", 200)), &story)
	if !strings.Contains(story.Stickiness, "left") {
		t.Errorf("story stickiness = %q, want it to say the sticky target was left", story.Stickiness)
	}
	for i := range 10 {
		if got, _ := send(fmt.Sprintf("sticky-new-%d", i), fresh); got != other {
			t.Fatalf("with the new cookie, request %d went to %q", i, got)
		}
	}
}

func portOf(addr string) string {
	return addr[strings.LastIndexByte(addr, ':')+1:]
}
