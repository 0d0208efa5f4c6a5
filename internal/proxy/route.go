package proxy

import (
	"net"
	"slices"
	"strings"

	"github.com/fulcrumlb/fulcrum/internal/config"
)

// rule is a compiled listener rule (ALB host-header and path-pattern
// conditions, restricted to exact values, "*.suffix" hosts and trailing-*
// path prefixes).
type rule struct {
	priority int
	host     string // exact host, or ".suffix" when wildcard
	wildcard bool
	path     string
	prefix   bool
	group    *Group
}

func compileRules(rs []config.Rule, groups map[string]*Group) []rule {
	out := make([]rule, 0, len(rs))
	for _, r := range rs {
		cr := rule{priority: r.Priority, group: groups[r.TargetGroup]}
		if h, ok := strings.CutPrefix(strings.ToLower(r.Host), "*"); ok {
			cr.host, cr.wildcard = h, true
		} else {
			cr.host = strings.ToLower(r.Host)
		}
		if p, ok := strings.CutSuffix(r.Path, "*"); ok {
			cr.path, cr.prefix = p, true
		} else {
			cr.path = r.Path
		}
		out = append(out, cr)
	}
	slices.SortFunc(out, func(a, b rule) int { return a.priority - b.priority })
	return out
}

func (r *rule) match(host, path string) bool {
	switch {
	case r.host == "":
	case r.wildcard:
		if !strings.HasSuffix(host, r.host) || len(host) == len(r.host) {
			return false
		}
	case host != r.host:
		return false
	}
	switch {
	case r.path == "" && !r.prefix:
		return true
	case r.prefix:
		return strings.HasPrefix(path, r.path)
	}
	return path == r.path
}

// hostOnly returns the lower-cased host of a Host header, without port.
func hostOnly(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.HasSuffix(h, "]") {
		if host, _, err := net.SplitHostPort(h); err == nil {
			h = host
		}
	}
	return strings.ToLower(h)
}
