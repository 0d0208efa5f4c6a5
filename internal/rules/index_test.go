package rules

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/fulcrumlb/fulcrum/internal/httpmsg"
)

// linearMatch is the reference: every rule in priority order, no index.
func linearMatch(t *Table, r *httpmsg.Request) *Rule {
	in := input{r: r}
	for i := range t.rules {
		if in.matches(&t.rules[i]) {
			return &t.rules[i]
		}
	}
	return nil
}

func priorityOf(r *Rule) int {
	if r == nil {
		return -1
	}
	return r.Priority
}

// TestIndexKeepsPriority: the index only skips rules, so a wildcard or
// unindexed rule with a lower priority number still wins over an exact
// host rule, and the reverse.
func TestIndexKeepsPriority(t *testing.T) {
	const remote = "192.0.2.1:1"
	tab := NewTable([]Rule{
		{Priority: 10, Conditions: []Condition{cond(t, HostHeader, "", "api.example.com")}},
		{Priority: 5, Conditions: []Condition{cond(t, HostHeader, "", "*.example.com")}},
		{Priority: 20, Conditions: []Condition{cond(t, HostHeader, "", "www.example.org")}},
		{Priority: 15, Conditions: []Condition{cond(t, HostHeader, "", "*"), cond(t, PathPattern, "", "/org/*")}},
		{Priority: 30, Conditions: []Condition{cond(t, HostHeader, "", "W?W.example.org")}},
		{Priority: 40, Conditions: []Condition{cond(t, PathPattern, "", "*.png")}},
	})
	for _, tt := range []struct {
		target string
		want   int
	}{
		{"http://API.example.com/", 5},
		{"http://other.example.com:8080/", 5},
		{"http://www.example.org/", 20},
		{"http://www.example.org/org/x", 15},
		{"http://wxw.EXAMPLE.org/", 30},
		{"http://nodots/a.png", 40},
		{"http://nodots/", -1},
	} {
		r := req("GET", tt.target, remote)
		if got := priorityOf(tab.Match(r)); got != tt.want {
			t.Errorf("%s: matched priority %d, want %d", tt.target, got, tt.want)
		}
	}
}

// TestIndexMatchesLinearScan compares the indexed match with a plain scan
// of every rule on random tables and requests built from edge cases of
// each condition type.
func TestIndexMatchesLinearScan(t *testing.T) {
	hosts := [][]string{{"api.example.com"}, {"API.Example.COM", "b.example.org"}, {"*.example.com"}, {"*"}, {"api?.example.com"},
		{"*.example.c?m"}, {`a\*.example.com`}, {"localhost"}, {"*.EXAMPLE.org", "x.net"}, {"::1"}}
	paths := [][]string{{"/"}, {"/a"}, {"/a/*"}, {"*.png"}, {"/*"}, {"/v?/x"}, {"/A/*"}, {`/a\*b`}, {"x"}, {"/api/*", "/b"}}
	methods := [][]string{{"GET"}, {"POST", "PUT"}, {"get"}, {"PURGE"}}
	headers := [][]string{{"1"}, {"ON", "yes"}, {"*x*"}, {"tenant-a"}}
	queries := [][]QueryPair{{{"v", "1"}}, {{"V", "A b"}}, {{"", "*x*"}}, {{"k", "v*"}}, {{"a", "1"}, {"b", "2"}}}
	sources := [][]string{{"192.0.2.0/24"}, {"10.0.0.0/8"}, {"0.0.0.0/0"}, {"128.0.0.0/2"}, {"2001:db8::/32"}, {"::ffff:192.0.2.0/120"}, {"::/0"}}
	targets := []string{"http://api.example.com/", "http://API.EXAMPLE.com:81/a", "http://api1.example.com/a/b", "http://b.example.org/x.png",
		"http://a*.example.com/A/x", "http://localhost/v1/x", "http://[::1]:80/a*b", "http://x.net//a/../api/y", "http://c.example.cam/b",
		"http://api.example.com/?v=1", "http://h/?V=a%20b&k=vv", "http://h/?a=1&b=2", "http://h/?zz=axb", "http://h/?" + manyPairs(20) + "&v=1",
		"http://sub.EXAMPLE.org./", "http://h/"}
	remotes := []string{"192.0.2.9:1", "10.1.2.3:1", "[2001:db8::1]:1", "[::ffff:192.0.2.7]:1", "200.0.0.1:1", "bogus", "01.2.3.4:1", "1::2:80", "256.1.1.1:1", "10.1.2.3", "[10.1.2.3]:1", "1.2.3.4:x", ""}
	hdrs := [][]string{nil, {"X-Flag", "1"}, {"X-Flag", "on"}, {"x-flag", "zz", "X-Flag", "YES"}, {"X-Tenant", "Tenant-A"}, {"X-Flag", "axb"}}
	rnd := rand.New(rand.NewPCG(1, 2))
	pick := func(n int) int { return rnd.IntN(n) }
	for round := range 300 {
		var rs []Rule
		for i := range 1 + pick(40) {
			var cs []Condition
			for range 1 + pick(3) {
				switch pick(6) {
				case 0:
					cs = append(cs, cond(t, HostHeader, "", hosts[pick(len(hosts))]...))
				case 1:
					cs = append(cs, cond(t, PathPattern, "", paths[pick(len(paths))]...))
				case 2:
					cs = append(cs, cond(t, HTTPRequestMethod, "", methods[pick(len(methods))]...))
				case 3:
					cs = append(cs, cond(t, HTTPHeader, []string{"X-Flag", "X-Tenant"}[pick(2)], headers[pick(len(headers))]...))
				case 4:
					cs = append(cs, NewQueryCondition(queries[pick(len(queries))]))
				case 5:
					cs = append(cs, cond(t, SourceIP, "", sources[pick(len(sources))]...))
				}
			}
			rs = append(rs, Rule{Priority: pick(50), Action: i, Conditions: cs})
		}
		tab := NewTable(rs)
		if tab.index == nil {
			t.Fatal("table not indexed")
		}
		for _, target := range targets {
			for range 3 {
				r := req([]string{"GET", "POST", "PURGE", "get"}[pick(4)], target, remotes[pick(len(remotes))], hdrs[pick(len(hdrs))]...)
				if got, want := tab.Match(r), linearMatch(tab, r); got != want {
					t.Fatalf("round %d %s %s %s %v: index matched %v, scan matched %v", round, r.Method, target, r.RemoteAddr, r.Header, got, want)
				}
			}
		}
	}
}

func manyPairs(n int) string {
	s := "p0=0"
	for i := 1; i < n; i++ {
		s += fmt.Sprintf("&p%d=%d", i, i)
	}
	return s
}

// TestLargeTableScansInOrder: past the index's 1024 rules the table is
// scanned in order, with the same result.
func TestLargeTableScansInOrder(t *testing.T) {
	var rs []Rule
	for i := range 1100 {
		rs = append(rs, Rule{Priority: i + 1, Action: i, Conditions: []Condition{cond(t, HostHeader, "", fmt.Sprintf("h%d.example.com", i))}})
	}
	tab := NewTable(rs)
	if tab.index != nil {
		t.Fatal("a 1100-rule table was indexed")
	}
	if m := tab.Match(req("GET", "http://H1099.example.com/", "192.0.2.1:1")); m == nil || m.Action != 1099 {
		t.Fatalf("matched %v, want action 1099", m)
	}
}
