package config

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// validate checks values and cross-references, adding every problem.
func (s *schema) validate(c *Config) {
	if c.AccessLog != nil {
		a := c.AccessLog
		if a.Path == "" {
			s.add("access_log.path", `is required ("-" for standard output)`)
		}
		s.oneOf("access_log.format", a.Format, "alb", "json")
		s.intRange("access_log.buffer_lines", a.BufferLines, 1, 1<<20)
	}
	if s.hostPort("admin.address", c.Admin.Address, true) && c.Admin.TokenFile == "" && !Loopback(c.Admin.Address) {
		s.add("admin.token_file", "is required because admin.address %q is not a loopback address", c.Admin.Address)
	}
	s.intRange("admin.request_history", c.Admin.RequestHistory, 1, 1000000)
	s.intRange("admin.request_history_failures", c.Admin.RequestHistoryFailures, 1, 1000000)
	s.resources(c)
	if c.HealthCheckLog != nil && c.HealthCheckLog.Path == "" {
		s.add("health_check_log.path", `is required ("-" for standard output)`)
	}
	s.durRange("shutdown_grace", c.ShutdownGrace, 0, time.Hour)
	s.stickinessKey(c) // validate_rules.go
	s.fleet(c)         // discovery.go

	groups := map[string]bool{}
	for i, tg := range c.TargetGroups {
		p := fmt.Sprintf("target_groups[%d]", i)
		s.targetGroup(p, &tg)
		if tg.Name != "" {
			if groups[tg.Name] {
				s.add(p+".name", "%q is used by another target group", tg.Name)
			}
			groups[tg.Name] = true
		}
	}

	if len(c.Listeners) == 0 {
		s.add("listeners", "at least one listener is required")
	}
	names, addrs := map[string]bool{}, map[string]bool{}
	for i, l := range c.Listeners {
		p := fmt.Sprintf("listeners[%d]", i)
		s.listener(p, &l, groups)
		if l.Name != "" {
			if names[l.Name] {
				s.add(p+".name", "%q is used by another listener", l.Name)
			}
			names[l.Name] = true
		}
		if l.Address != "" && !strings.HasSuffix(l.Address, ":0") {
			if addrs[l.Address] {
				s.add(p+".address", "%q is used by another listener", l.Address)
			}
			addrs[l.Address] = true
		}
	}
}

func (s *schema) listener(p string, l *Listener, groups map[string]bool) {
	if l.Name == "" {
		s.add(p+".name", "is required")
	}
	if l.Address == "" {
		s.add(p+".address", "is required, as host:port")
	} else {
		s.hostPort(p+".address", l.Address, true)
	}
	if s.oneOf(p+".protocol", l.Protocol, "http", "https") {
		s.listenerTLS(p, l) // validate_rules.go
	}
	s.durRange(p+".idle_timeout", l.IdleTimeout, time.Second, 4000*time.Second)
	s.intRange(p+".max_connections", l.MaxConnections, 0, 10000000)
	s.oneOf(p+".desync_mitigation_mode", l.DesyncMitigationMode, "monitor", "defensive", "strictest")
	s.durRange(p+".request_header_timeout", l.RequestHeaderTimeout, time.Second, 4000*time.Second)
	s.intRange(p+".max_header_bytes", l.MaxHeaderBytes, 1024, 1<<20)
	s.intRange(p+".max_headers", l.MaxHeaders, 1, DefaultMaxHeaders)
	s.intRange(p+".max_uri_bytes", l.MaxURIBytes, 256, 1<<20)
	if l.MaxRequestBodyBytes < 0 {
		s.add(p+".max_request_body_bytes", "must be 0 (unlimited) or more, got %d", l.MaxRequestBodyBytes)
	}
	s.listenerRouting(p, l, groups) // validate_rules.go
}

func (s *schema) targetGroup(p string, tg *TargetGroup) {
	if tg.Name == "" {
		s.add(p+".name", "is required")
	}
	s.oneOf(p+".protocol", tg.Protocol, "http", "https")
	if tg.TLS.CAFile != "" {
		if _, err := os.Stat(tg.TLS.CAFile); err != nil {
			s.add(p+".tls.ca_file", "%v", err)
		}
	}
	s.stickiness(p, tg) // validate_rules.go
	s.oneOf(p+".algorithm", tg.Algorithm, "round_robin", "least_outstanding_requests", "weighted_random")
	s.durRange(p+".connect_timeout", tg.ConnectTimeout, time.Millisecond, 600*time.Second)
	s.durRange(p+".deregistration_delay", tg.DeregistrationDelay, 0, 3600*time.Second)
	s.durRange(p+".keepalive_idle_timeout", tg.KeepaliveIdleTimeout, time.Second, 4000*time.Second)
	s.intRange(p+".max_idle_per_target", tg.MaxIdlePerTarget, 0, 65536)
	s.intRange(p+".retries.max_attempts", tg.Retries.MaxAttempts, 1, 10)
	s.intRange(p+".retries.budget_percent", tg.Retries.BudgetPercent, 0, 100)
	if ss := tg.SlowStart.D(); ss != 0 {
		if ss < 30*time.Second || ss > 900*time.Second {
			s.add(p+".slow_start", "%s is out of range: 0s (off) or 30s..15m0s", tg.SlowStart)
		} else if tg.Algorithm != "round_robin" {
			s.add(p+".slow_start", "works with round_robin only, not %s (as on ALB)", tg.Algorithm)
		}
	}
	s.intRange(p+".queue_size", tg.QueueSize, 0, 1<<20)
	s.durRange(p+".queue_timeout", tg.QueueTimeout, time.Millisecond, 600*time.Second)
	od, op := &tg.OutlierDetection, p+".outlier_detection"
	s.intRange(op+".consecutive_connection_errors", od.ConsecutiveConnectionErrors, 0, 1000)
	s.intRange(op+".consecutive_5xx", od.Consecutive5xx, 0, 1000)
	s.durRange(op+".base_ejection_time", od.BaseEjectionTime, time.Second, time.Hour)
	s.durRange(op+".max_ejection_time", od.MaxEjectionTime, time.Second, time.Hour)
	s.intRange(op+".max_ejection_percent", od.MaxEjectionPercent, 0, 100)

	hc, hp := &tg.HealthCheck, p+".health_check"
	if hc.Protocol != "" {
		s.oneOf(hp+".protocol", hc.Protocol, "http", "https", "tcp", "grpc")
	}
	s.protocolVersion(p, tg) // protocol.go
	if !strings.HasPrefix(hc.Path, "/") {
		s.add(hp+".path", "%q must start with /", hc.Path)
	}
	s.durRange(hp+".interval", hc.Interval, time.Second, 300*time.Second)
	if s.durRange(hp+".timeout", hc.Timeout, 10*time.Millisecond, 120*time.Second) && hc.Timeout >= hc.Interval {
		s.add(hp+".timeout", "%s must be shorter than the interval (%s)", hc.Timeout, hc.Interval)
	}
	s.intRange(hp+".healthy_threshold", hc.HealthyThreshold, 1, 10)
	s.intRange(hp+".unhealthy_threshold", hc.UnhealthyThreshold, 1, 10)

	seen := map[string]bool{}
	for j, t := range tg.Targets {
		tp := fmt.Sprintf("%s.targets[%d]", p, j)
		if t.Address == "" {
			s.add(tp+".address", "is required, as host:port")
		} else if s.hostPort(tp+".address", t.Address, false) {
			if seen[t.Address] {
				s.add(tp+".address", "%q is registered twice in this group", t.Address)
			}
			seen[t.Address] = true
		}
		s.intRange(tp+".weight", t.Weight, 1, 1000)
		s.intRange(tp+".max_connections", t.MaxConnections, 0, 1000000)
	}
}

func (s *schema) oneOf(path, v string, allowed ...string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	s.add(path, "%q is not one of %s", v, strings.Join(allowed, ", "))
	return false
}

func (s *schema) intRange(path string, v, lo, hi int) bool {
	if v < lo || v > hi {
		s.add(path, "%d is out of range %d..%d", v, lo, hi)
		return false
	}
	return true
}

func (s *schema) durRange(path string, v Duration, lo, hi time.Duration) bool {
	if v.D() < lo || v.D() > hi {
		s.add(path, "%s is out of range %s..%s", v, lo, hi)
		return false
	}
	return true
}

// hostPort checks "host:port"; listeners may use port 0 and an empty host.
func (s *schema) hostPort(path, v string, listen bool) bool {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		s.add(path, "%q is not host:port", v)
		return false
	}
	n, err := strconv.Atoi(port)
	lo := 1
	if listen {
		lo = 0
	}
	if err != nil || n < lo || n > 65535 {
		s.add(path, "%q has no valid port", v)
		return false
	}
	if host == "" && !listen {
		s.add(path, "%q has no host", v)
		return false
	}
	return true
}

// Loopback reports whether a host:port's host is a loopback address or
// "localhost". An empty host (all interfaces) is not loopback.
func Loopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
