package config

import (
	"crypto/x509"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ALB's limits on rules and actions (AWS, "Listener rules for your
// Application Load Balancer" and "Quotas for your Application Load
// Balancers").
const (
	maxConditionsPerRule = 5
	maxConditionValueLen = 128
	maxFixedBody         = 1024
	maxWeight            = 999
	maxStickiness        = 7 * 24 * time.Hour
	minStickyKey         = 32
)

var (
	hostPatternRe = regexp.MustCompile(`^[A-Za-z0-9.*?-]+$`)
	methodRe      = regexp.MustCompile(`^[A-Z_-]+$`)
	headerNameRe  = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
	fixedTypes    = []string{"text/plain", "text/css", "text/html", "application/javascript", "application/json"}
)

// listenerTLS checks an https listener's certificates, policy and mutual
// authentication, and that an http listener sets none of them.
func (s *schema) listenerTLS(p string, l *Listener) {
	if l.Protocol != "https" {
		if l.TLS != nil || len(l.Certificates) > 0 || l.TLSPolicy != nil || l.MutualAuthentication != nil {
			s.add(p+".tls", "tls, certificates, tls_policy and mutual_authentication are only used by https listeners")
		}
		return
	}
	certs := l.ListenerCertificates()
	if len(certs) == 0 {
		s.add(p+".certificates", "https listeners need at least one certificate (tls or certificates)")
	}
	for i, c := range certs {
		cp := fmt.Sprintf("%s.certificates[%d]", p, i-btoi(l.TLS != nil))
		if l.TLS != nil && i == 0 {
			cp = p + ".tls"
		}
		if c.CertFile == "" || c.KeyFile == "" {
			s.add(cp, "needs cert_file and key_file")
			continue
		}
		if _, err := LoadKeyPair(c.CertFile, c.KeyFile); err != nil {
			s.add(cp, "cannot load the certificate: %v", err)
		}
	}
	if _, _, err := l.TLSPolicy.Resolve(); err != nil {
		s.add(p+".tls_policy", "%v", err)
	}
	if m := l.MutualAuthentication; m != nil {
		mp := p + ".mutual_authentication"
		if m.Mode == "" {
			m.Mode = "off"
		}
		if s.oneOf(mp+".mode", m.Mode, "off", "passthrough", "verify") {
			switch {
			case m.Mode == "verify" && m.CAFile == "":
				s.add(mp+".ca_file", "is required when mode is verify")
			case m.Mode == "verify":
				if pem, err := ReadLimited(m.CAFile, MaxPEMFile); err != nil {
					s.add(mp+".ca_file", "%v", err)
				} else if !x509.NewCertPool().AppendCertsFromPEM(pem) {
					s.add(mp+".ca_file", "%q holds no PEM certificate", m.CAFile)
				}
			case m.CAFile != "":
				s.add(mp+".ca_file", "is only used when mode is verify")
			}
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// listenerRouting checks a listener's default action and rules.
func (s *schema) listenerRouting(p string, l *Listener, groups map[string]bool) {
	switch {
	case l.DefaultAction != nil && l.DefaultTargetGroup != "":
		s.add(p+".default_action", "set default_action or default_target_group, not both")
	case l.DefaultAction != nil:
		s.action(p+".default_action", l.DefaultAction, l, groups)
	case l.DefaultTargetGroup == "":
		s.add(p+".default_target_group", "is required (or a default_action)")
	case !groups[l.DefaultTargetGroup]:
		s.add(p+".default_target_group", "%q is not a target group", l.DefaultTargetGroup)
	}
	prios := map[int]bool{}
	for j := range l.Rules {
		r := &l.Rules[j]
		rp := fmt.Sprintf("%s.rules[%d]", p, j)
		if s.intRange(rp+".priority", r.Priority, 1, 50000) {
			if prios[r.Priority] {
				s.add(rp+".priority", "%d is used by another rule of this listener", r.Priority)
			}
			prios[r.Priority] = true
		}
		s.rule(rp, r)
		switch {
		case r.Action != nil && r.TargetGroup != "":
			s.add(rp+".action", "set action or target_group, not both")
		case r.Action != nil:
			s.action(rp+".action", r.Action, l, groups)
		case r.TargetGroup == "":
			s.add(rp+".target_group", "is required (or an action)")
		case !groups[r.TargetGroup]:
			s.add(rp+".target_group", "%q is not a target group", r.TargetGroup)
		}
	}
}

// rule checks a rule's conditions and its host and path shorthands.
func (s *schema) rule(rp string, r *Rule) {
	if r.Host == "" && r.Path == "" && len(r.Conditions) == 0 {
		s.add(rp, "needs at least one condition (conditions, host or path)")
	}
	if h := r.Host; h != "" && !hostPatternRe.MatchString(h) {
		s.add(rp+".host", "%q may hold only letters, digits, '-', '.', '*' and '?'", h)
	}
	if path := r.Path; path != "" && !strings.HasPrefix(path, "/") && !strings.HasPrefix(path, "*") {
		s.add(rp+".path", "%q must start with / or *", path)
	}
	if n := len(r.RuleConditions()); n > maxConditionsPerRule {
		s.add(rp+".conditions", "has %d conditions; a rule has at most %d (as on ALB)", n, maxConditionsPerRule)
	}
	once := map[string]bool{}
	for k := range r.Conditions {
		c := &r.Conditions[k]
		cp := fmt.Sprintf("%s.conditions[%d]", rp, k)
		if !s.oneOf(cp+".field", c.Field, "host_header", "path_pattern", "http_header", "http_request_method", "query_string", "source_ip") {
			continue
		}
		switch c.Field {
		case "host_header", "path_pattern", "http_request_method", "source_ip":
			if once[c.Field] || (c.Field == "host_header" && r.Host != "") || (c.Field == "path_pattern" && r.Path != "") {
				s.add(cp+".field", "a rule has at most one %s condition; list several values instead", c.Field)
			}
			once[c.Field] = true
		}
		if c.Field == "http_header" {
			switch {
			case c.Name == "":
				s.add(cp+".name", "is required for http_header")
			case !headerNameRe.MatchString(c.Name):
				s.add(cp+".name", "%q is not a header name", c.Name)
			case strings.EqualFold(c.Name, "host"):
				s.add(cp+".name", "use a host_header condition for the Host header")
			}
		} else if c.Name != "" {
			s.add(cp+".name", "is only used by http_header conditions")
		}
		if len(c.Values) == 0 {
			s.add(cp+".values", "at least one value is required")
		}
		for m, v := range c.Values {
			vp := fmt.Sprintf("%s.values[%d]", cp, m)
			if v.Pair != (c.Field == "query_string") {
				if v.Pair {
					s.add(vp, "only query_string values are {key, value} pairs")
				} else {
					s.add(vp, "query_string values are {key, value} pairs")
				}
				continue
			}
			if len(v.Value) > maxConditionValueLen || len(v.Key) > maxConditionValueLen {
				s.add(vp, "is longer than %d characters", maxConditionValueLen)
			}
			switch c.Field {
			case "host_header":
				if !hostPatternRe.MatchString(v.Value) {
					s.add(vp, "%q may hold only letters, digits, '-', '.', '*' and '?'", v.Value)
				}
			case "path_pattern":
				if !strings.HasPrefix(v.Value, "/") && !strings.HasPrefix(v.Value, "*") {
					s.add(vp, "%q must start with / or *", v.Value)
				}
			case "http_request_method":
				if !methodRe.MatchString(v.Value) {
					s.add(vp, "%q is not a method: upper-case letters, '-' and '_' (matching is case-sensitive)", v.Value)
				}
			case "source_ip":
				if _, err := netip.ParsePrefix(v.Value); err != nil {
					s.add(vp, "%q is not a CIDR such as 192.0.2.0/24 or 2001:db8::/32", v.Value)
				}
			case "query_string":
				if v.Value == "" {
					s.add(vp+".value", "is required")
				}
			default:
				if v.Value == "" {
					s.add(vp, "must not be empty")
				}
			}
		}
	}
}

// action checks a rule's or listener's action.
func (s *schema) action(ap string, a *Action, l *Listener, groups map[string]bool) {
	if !s.oneOf(ap+".type", a.Type, "forward", "redirect", "fixed_response") {
		return
	}
	if a.Type != "forward" && (a.TargetGroup != "" || len(a.TargetGroups) > 0 || a.Stickiness != nil) {
		s.add(ap, "target_group, target_groups and stickiness are only used by forward actions")
	}
	if a.Type != "redirect" && a.Redirect != nil {
		s.add(ap+".redirect", "is only used by redirect actions")
	}
	if a.Type != "fixed_response" && a.FixedResponse != nil {
		s.add(ap+".fixed_response", "is only used by fixed_response actions")
	}
	switch a.Type {
	case "forward":
		switch {
		case a.TargetGroup != "" && len(a.TargetGroups) > 0:
			s.add(ap, "set target_group or target_groups, not both")
		case a.TargetGroup != "":
			if !groups[a.TargetGroup] {
				s.add(ap+".target_group", "%q is not a target group", a.TargetGroup)
			}
		case len(a.TargetGroups) == 0:
			s.add(ap+".target_group", "a forward action needs target_group or target_groups")
		default:
			total, seen := 0, map[string]bool{}
			for i, w := range a.TargetGroups {
				wp := fmt.Sprintf("%s.target_groups[%d]", ap, i)
				switch {
				case w.Name == "":
					s.add(wp+".name", "is required")
				case !groups[w.Name]:
					s.add(wp+".name", "%q is not a target group", w.Name)
				case seen[w.Name]:
					s.add(wp+".name", "%q is listed twice", w.Name)
				}
				seen[w.Name] = true
				if s.intRange(wp+".weight", w.W(), 0, maxWeight) {
					total += w.W()
				}
			}
			if total == 0 {
				s.add(ap+".target_groups", "at least one weight must be above 0")
			}
		}
		if st := a.Stickiness; st != nil {
			if st.Duration == 0 {
				st.Duration = Duration(time.Hour)
			}
			s.durRange(ap+".stickiness.duration", st.Duration, time.Second, maxStickiness)
		}
	case "redirect":
		rd := a.Redirect
		if rd == nil {
			s.add(ap+".redirect", "is required for a redirect action")
			return
		}
		rp := ap + ".redirect"
		if rd.StatusCode != 301 && rd.StatusCode != 302 {
			s.add(rp+".status_code", "%d is not 301 or 302", rd.StatusCode)
		}
		proto := strings.ToLower(rd.Protocol)
		if rd.Protocol != "" && rd.Protocol != "#{protocol}" && proto != "http" && proto != "https" {
			s.add(rp+".protocol", "%q is not http, https or #{protocol}", rd.Protocol)
		}
		if proto == "http" && l.Protocol == "https" {
			s.add(rp+".protocol", "an https listener cannot redirect to http (as on ALB)")
		}
		if rd.Port != "" && rd.Port != "#{port}" {
			if n, err := strconv.Atoi(rd.Port); err != nil || n < 1 || n > 65535 {
				s.add(rp+".port", "%q is not a port 1..65535 or #{port}", rd.Port)
			}
		}
		if rd.Path != "" && !strings.HasPrefix(rd.Path, "/") {
			s.add(rp+".path", "%q must start with /", rd.Path)
		}
		if strings.HasPrefix(rd.Query, "?") {
			s.add(rp+".query", "%q must not start with ?", rd.Query)
		}
		if (rd.Protocol == "" || rd.Protocol == "#{protocol}" || proto == l.Protocol) && (rd.Host == "" || rd.Host == "#{host}") &&
			(rd.Port == "" || rd.Port == "#{port}") && (rd.Path == "" || rd.Path == "/#{path}") && (rd.Query == "" || rd.Query == "#{query}") {
			s.add(rp, "redirects to the same URL: change at least one of protocol, host, port, path or query (as on ALB)")
		}
	case "fixed_response":
		f := a.FixedResponse
		if f == nil {
			s.add(ap+".fixed_response", "is required for a fixed_response action")
			return
		}
		fp := ap + ".fixed_response"
		if c := f.StatusCode; c < 200 || c > 599 || (c >= 300 && c < 400) {
			s.add(fp+".status_code", "%d is not a 2XX, 4XX or 5XX code", c)
		}
		if f.ContentType != "" {
			s.oneOf(fp+".content_type", f.ContentType, fixedTypes...)
		}
		if len(f.MessageBody) > maxFixedBody {
			s.add(fp+".message_body", "is %d bytes; at most %d", len(f.MessageBody), maxFixedBody)
		}
	}
}

// stickiness checks and defaults a target group's stickiness attribute.
func (s *schema) stickiness(p string, tg *TargetGroup) {
	st := tg.Stickiness
	if st == nil {
		return
	}
	sp := p + ".stickiness"
	if st.Type == "" {
		st.Type = "lb_cookie"
	}
	if st.Duration == 0 {
		st.Duration = Duration(24 * time.Hour)
	}
	if s.oneOf(sp+".type", st.Type, "lb_cookie", "app_cookie") {
		switch {
		case st.Type == "app_cookie" && st.CookieName == "":
			s.add(sp+".cookie_name", "is required for app_cookie")
		case st.Type == "app_cookie" && (strings.HasPrefix(st.CookieName, "AWSALB") || !headerNameRe.MatchString(st.CookieName)):
			s.add(sp+".cookie_name", "%q is not a cookie name, or uses the reserved AWSALB prefix", st.CookieName)
		case st.Type == "lb_cookie" && st.CookieName != "":
			s.add(sp+".cookie_name", "is only used by app_cookie")
		}
	}
	s.durRange(sp+".duration", st.Duration, time.Second, maxStickiness)
}

// stickinessKey checks the stickiness key file.
func (s *schema) stickinessKey(c *Config) {
	if c.StickinessKeyFile == "" {
		return
	}
	b, err := ReadLimited(c.StickinessKeyFile, MaxPEMFile)
	switch {
	case err != nil:
		s.add("stickiness_key_file", "%v", err)
	case len(strings.TrimSpace(string(b))) < minStickyKey:
		s.add("stickiness_key_file", "holds %d bytes; the key needs at least %d", len(strings.TrimSpace(string(b))), minStickyKey)
	}
}
