package rules

import (
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/fulcrumlb/fulcrum/internal/config"
	"github.com/fulcrumlb/fulcrum/internal/httpmsg"
)

// req builds a request; header pairs are name, value.
func req(method, target, remote string, header ...string) *httpmsg.Request {
	hr := httptest.NewRequest(method, target, nil)
	hr.RemoteAddr = remote
	for i := 0; i+1 < len(header); i += 2 {
		hr.Header.Add(header[i], header[i+1])
	}
	r := new(httpmsg.Request)
	httpmsg.FromHTTP(r, hr)
	return r
}

func cond(t *testing.T, f Field, name string, values ...string) Condition {
	t.Helper()
	c, err := NewCondition(f, name, values)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestConditionSemantics checks each condition type against ALB's
// documented matching (AWS, "Listener rules for your Application Load
// Balancer", condition types).
func TestConditionSemantics(t *testing.T) {
	const remote = "192.0.2.10:5555"
	tests := []struct {
		name string
		c    Condition
		r    *httpmsg.Request
		want bool
	}{
		// host-header: case-insensitive, wildcards, no port.
		{"host exact", cond(t, HostHeader, "", "api.example.com"), req("GET", "http://api.example.com/", remote), true},
		{"host case-insensitive", cond(t, HostHeader, "", "API.Example.com"), req("GET", "http://api.EXAMPLE.com/", remote), true},
		{"host port ignored", cond(t, HostHeader, "", "api.example.com"), req("GET", "http://api.example.com:8080/", remote), true},
		{"host wildcard star", cond(t, HostHeader, "", "*.example.com"), req("GET", "http://a.b.example.com/", remote), true},
		{"host wildcard needs a label", cond(t, HostHeader, "", "*.example.com"), req("GET", "http://example.com/", remote), false},
		{"host question mark one char", cond(t, HostHeader, "", "api?.example.com"), req("GET", "http://api1.example.com/", remote), true},
		{"host question mark not zero", cond(t, HostHeader, "", "api?.example.com"), req("GET", "http://api.example.com/", remote), false},
		{"host any of values", cond(t, HostHeader, "", "a.example.com", "b.example.com"), req("GET", "http://b.example.com/", remote), true},
		{"host other", cond(t, HostHeader, "", "a.example.com"), req("GET", "http://c.example.com/", remote), false},
		{"host ipv6 literal", cond(t, HostHeader, "", "::1"), req("GET", "http://[::1]:80/", remote), true},
		// path-pattern: case-sensitive, wildcards, path only.
		{"path exact", cond(t, PathPattern, "", "/img/logo.png"), req("GET", "/img/logo.png", remote), true},
		{"path case-sensitive", cond(t, PathPattern, "", "/img/*"), req("GET", "/IMG/logo.png", remote), false},
		{"path prefix star", cond(t, PathPattern, "", "/img/*"), req("GET", "/img/a/b.png", remote), true},
		{"path inner star", cond(t, PathPattern, "", "/api/*/orders"), req("GET", "/api/v2/orders", remote), true},
		{"path inner star no match", cond(t, PathPattern, "", "/api/*/orders"), req("GET", "/api/v2/users", remote), false},
		{"path suffix", cond(t, PathPattern, "", "*.png"), req("GET", "/a/b.png", remote), true},
		{"path question", cond(t, PathPattern, "", "/v?/x"), req("GET", "/v1/x", remote), true},
		{"path ignores query", cond(t, PathPattern, "", "/search"), req("GET", "/search?q=1", remote), true},
		{"path query not matched", cond(t, PathPattern, "", "*q=1*"), req("GET", "/search?q=1", remote), false},
		{"path normalized dotdot", cond(t, PathPattern, "", "/admin/*"), req("GET", "/public/../admin/x", remote), true},
		{"path normalized slashes", cond(t, PathPattern, "", "/admin/x"), req("GET", "//admin//x", remote), true},
		{"path escaped star literal", cond(t, PathPattern, "", `/a\*b`), req("GET", "/a*b", remote), true},
		{"path escaped star not wildcard", cond(t, PathPattern, "", `/a\*b`), req("GET", "/axxb", remote), false},
		// http-header: name case-insensitive, values case-insensitive wildcards.
		{"header exact", cond(t, HTTPHeader, "X-Canary", "1"), req("GET", "/", remote, "x-canary", "1"), true},
		{"header value case", cond(t, HTTPHeader, "User-Agent", "*mobile*"), req("GET", "/", remote, "User-Agent", "Foo Mobile Safari"), true},
		{"header second value", cond(t, HTTPHeader, "X-Env", "prod"), req("GET", "/", remote, "X-Env", "dev", "X-Env", "PROD"), true},
		{"header absent", cond(t, HTTPHeader, "X-Canary", "*"), req("GET", "/", remote), false},
		{"header other value", cond(t, HTTPHeader, "X-Canary", "1"), req("GET", "/", remote, "X-Canary", "0"), false},
		// http-request-method: exact and case-sensitive.
		{"method", cond(t, HTTPRequestMethod, "", "GET", "HEAD"), req("HEAD", "/", remote), true},
		{"method other", cond(t, HTTPRequestMethod, "", "GET"), req("POST", "/", remote), false},
		{"method case-sensitive", cond(t, HTTPRequestMethod, "", "get"), req("GET", "/", remote), false},
		// query-string: key optional, case-insensitive wildcards, decoded.
		{"query pair", NewQueryCondition([]QueryPair{{"version", "v1"}}), req("GET", "/?a=b&version=v1", remote), true},
		{"query case", NewQueryCondition([]QueryPair{{"Version", "V*"}}), req("GET", "/?version=v1", remote), true},
		{"query value only", NewQueryCondition([]QueryPair{{"", "*example*"}}), req("GET", "/?x=an+example+here", remote), true},
		{"query decoded", NewQueryCondition([]QueryPair{{"q", "a b"}}), req("GET", "/?q=a%20b", remote), true},
		{"query other value", NewQueryCondition([]QueryPair{{"version", "v1"}}), req("GET", "/?version=v2", remote), false},
		{"query key mismatch", NewQueryCondition([]QueryPair{{"version", "v1"}}), req("GET", "/?ver=v1", remote), false},
		{"query none", NewQueryCondition([]QueryPair{{"", "*"}}), req("GET", "/", remote), false},
		// source-ip: CIDR against the client address, not X-Forwarded-For.
		{"source v4", cond(t, SourceIP, "", "192.0.2.0/24"), req("GET", "/", remote), true},
		{"source v4 outside", cond(t, SourceIP, "", "198.51.100.0/24"), req("GET", "/", remote), false},
		{"source ignores XFF", cond(t, SourceIP, "", "198.51.100.0/24"), req("GET", "/", remote, "X-Forwarded-For", "198.51.100.7"), false},
		{"source v6", cond(t, SourceIP, "", "2001:db8::/32"), req("GET", "/", "[2001:db8::5]:443"), true},
		{"source v4-mapped", cond(t, SourceIP, "", "192.0.2.0/24"), req("GET", "/", "[::ffff:192.0.2.10]:443"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := NewTable([]Rule{{Priority: 1, Conditions: []Condition{tt.c}}})
			if got := tab.Match(tt.r) != nil; got != tt.want {
				t.Fatalf("match = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestRuleOrderAndConjunction: all conditions of a rule must match, and
// the lowest priority number that matches wins.
func TestRuleOrderAndConjunction(t *testing.T) {
	tab := NewTable([]Rule{
		{Priority: 30, Action: 2, Conditions: []Condition{cond(t, PathPattern, "", "/*")}},
		{Priority: 10, Action: 0, Conditions: []Condition{cond(t, HostHeader, "", "api.example.com"), cond(t, HTTPHeader, "X-Canary", "1")}},
		{Priority: 20, Action: 1, Conditions: []Condition{cond(t, HostHeader, "", "api.example.com")}},
	})
	for _, tt := range []struct {
		r    *httpmsg.Request
		want int
	}{
		{req("GET", "http://api.example.com/x", "192.0.2.1:1", "X-Canary", "1"), 10},
		{req("GET", "http://api.example.com/x", "192.0.2.1:1"), 20},
		{req("GET", "http://www.example.com/x", "192.0.2.1:1", "X-Canary", "1"), 30},
	} {
		if m := tab.Match(tt.r); m == nil || m.Priority != tt.want {
			t.Errorf("%s %v: matched %v, want priority %d", tt.r.Host, tt.r.Header, m, tt.want)
		}
	}
	if NewTable(nil).Match(req("GET", "/", "192.0.2.1:1")) != nil {
		t.Fatal("an empty table matched")
	}
}

func TestRedirectLocation(t *testing.T) {
	o := Original{Protocol: "http", Host: "example.com", Port: "80", Path: "/old/page", Query: "a=1"}
	for _, tt := range []struct {
		c    config.Redirect
		want string
	}{
		{config.Redirect{Protocol: "HTTPS", Port: "443", StatusCode: 301}, "https://example.com/old/page?a=1"},
		{config.Redirect{Path: "/new/#{path}", StatusCode: 301}, "http://example.com/new/old/page?a=1"},
		{config.Redirect{Host: "www.#{host}", Port: "8080", Query: "", StatusCode: 302}, "http://www.example.com:8080/old/page?a=1"},
		{config.Redirect{Query: "from=#{host}&#{query}", StatusCode: 302}, "http://example.com/old/page?from=example.com&a=1"},
	} {
		if got := NewRedirect(tt.c).Location(o); got != tt.want {
			t.Errorf("%+v: Location = %q, want %q", tt.c, got, tt.want)
		}
	}
	if got := NewRedirect(config.Redirect{Protocol: "https"}).Location(Original{Protocol: "http", Host: "h", Port: "80", Path: "/"}); got != "https://h:80/" {
		t.Errorf("port kept when the protocol changes: %q", got)
	}
}

func TestCompileShorthands(t *testing.T) {
	l := config.Listener{DefaultTargetGroup: "app", Rules: []config.Rule{
		{Priority: 5, Host: "*.example.com", Path: "/api/*", TargetGroup: "api"},
		{Priority: 7, Conditions: []config.Condition{{Field: "query_string", Values: []config.ConditionValue{{Key: "v", Value: "2", Pair: true}}}},
			Action: &config.Action{Type: "fixed_response", FixedResponse: &config.FixedResponse{StatusCode: 403, MessageBody: "no"}}},
	}}
	tab, acts, err := Compile(l)
	if err != nil {
		t.Fatal(err)
	}
	if m := tab.Match(req("GET", "http://shop.example.com/api/cart", "192.0.2.1:1")); m == nil || acts[m.Action].Groups[0].Name != "api" {
		t.Fatalf("shorthand rule: matched %v", m)
	}
	if m := tab.Match(req("GET", "http://x.org/?v=2", "192.0.2.1:1")); m == nil || acts[m.Action].Kind != FixedResponse || acts[m.Action].Fixed.ContentType != "text/plain" {
		t.Fatalf("fixed_response rule: matched %v", m)
	}
	if d := acts[len(acts)-1]; d.Kind != Forward || d.Groups[0].Name != "app" || d.Priority != 0 {
		t.Fatalf("default action = %+v", d)
	}
}

// BenchmarkMatch100 evaluates 100 rules of mixed conditions and matches
// the last one: the target is 0 allocations and under 1µs.
//
// Measured on the project's shared 2-core AMD EPYC machine, back to back
// under the same load: a plain scan of every rule took 5.2–11.4µs/op;
// with the rule index (index.go) it takes 0.75–0.91µs/op, 0 allocs/op.
func BenchmarkMatch100(b *testing.B) {
	var rs []Rule
	for i := range 99 {
		var cs []Condition
		switch i % 5 {
		case 0:
			c, _ := NewCondition(HostHeader, "", []string{fmt.Sprintf("svc%d.example.com", i), fmt.Sprintf("*.svc%d.example.org", i)})
			cs = append(cs, c)
		case 1:
			c, _ := NewCondition(PathPattern, "", []string{fmt.Sprintf("/svc%d/*", i), fmt.Sprintf("/v?/svc%d/*/x", i)})
			cs = append(cs, c)
		case 2:
			c, _ := NewCondition(HTTPHeader, "X-Tenant", []string{fmt.Sprintf("tenant-%d", i)})
			m, _ := NewCondition(HTTPRequestMethod, "", []string{"GET", "POST"})
			cs = append(cs, m, c)
		case 3:
			cs = append(cs, NewQueryCondition([]QueryPair{{"svc", fmt.Sprint(i)}}))
		case 4:
			c, _ := NewCondition(SourceIP, "", []string{fmt.Sprintf("10.%d.0.0/16", i)})
			cs = append(cs, c)
		}
		rs = append(rs, Rule{Priority: i + 1, Action: i, Conditions: cs})
	}
	h, _ := NewCondition(HostHeader, "", []string{"*.example.com"})
	p, _ := NewCondition(PathPattern, "", []string{"/api/*"})
	rs = append(rs, Rule{Priority: 1000, Action: 99, Conditions: []Condition{h, p}})
	tab := NewTable(rs)
	r := req("GET", "http://shop.example.com/api/cart?id=1&svc=x", "192.0.2.7:40000", "X-Tenant", "other", "User-Agent", "bench")
	b.ReportAllocs()
	for b.Loop() {
		if m := tab.Match(r); m == nil || m.Action != 99 {
			b.Fatal(m)
		}
	}
}
