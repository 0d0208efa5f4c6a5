package rules

import (
	"fmt"
	"strings"

	"github.com/fulcrumlb/fulcrum/internal/config"
)

// Redirect is a compiled redirect action (ALB's RedirectActionConfig).
type Redirect struct {
	Protocol, Host, Port, Path, Query string
	// Status is 301 or 302.
	Status int
}

// NewRedirect fills the unset components of c with ALB's defaults:
// #{protocol}, #{host}, #{port}, /#{path} and #{query}.
func NewRedirect(c config.Redirect) *Redirect {
	d := func(v, def string) string {
		if v == "" {
			return def
		}
		return v
	}
	proto := d(c.Protocol, "#{protocol}")
	if proto != "#{protocol}" {
		proto = strings.ToLower(proto)
	}
	return &Redirect{Protocol: proto, Host: d(c.Host, "#{host}"), Port: d(c.Port, "#{port}"),
		Path: d(c.Path, "/#{path}"), Query: d(c.Query, "#{query}"), Status: c.StatusCode}
}

// Original is the request URL's components that placeholders refer to.
type Original struct {
	// Protocol is http or https.
	Protocol string
	// Host is the Host header's host, without port.
	Host string
	// Port is the Host header's port, or the listener's.
	Port string
	// Path is the escaped path, with its leading "/".
	Path string
	// Query is the raw query, without "?".
	Query string
}

// Location returns the redirect's target URL for the original request o:
// every placeholder replaced, the port left out when it is the protocol's
// default, and no "?" when the query is empty.
func (rd *Redirect) Location(o Original) string {
	expand := func(s string) string {
		if strings.IndexByte(s, '#') < 0 {
			return s
		}
		return strings.NewReplacer(
			"#{protocol}", o.Protocol, "#{host}", o.Host, "#{port}", o.Port,
			"#{path}", strings.TrimPrefix(o.Path, "/"), "#{query}", o.Query,
		).Replace(s)
	}
	proto := expand(rd.Protocol)
	host, port, p, q := expand(rd.Host), expand(rd.Port), expand(rd.Path), expand(rd.Query)
	var b strings.Builder
	b.WriteString(proto)
	b.WriteString("://")
	if strings.IndexByte(host, ':') >= 0 {
		b.WriteString("[" + host + "]")
	} else {
		b.WriteString(host)
	}
	if port != "" && !(proto == "http" && port == "80") && !(proto == "https" && port == "443") {
		b.WriteString(":" + port)
	}
	if !strings.HasPrefix(p, "/") {
		b.WriteByte('/')
	}
	b.WriteString(p)
	if q != "" {
		b.WriteString("?" + q)
	}
	return b.String()
}

// Fixed is a compiled fixed_response action.
type Fixed struct {
	Status      int
	ContentType string
	Body        string
}

// Kind is an action type.
type Kind uint8

// The action types.
const (
	Forward Kind = iota
	RedirectKind
	FixedResponse
)

// LogName is the action's name in ALB's actions_executed log field.
func (k Kind) LogName() string {
	switch k {
	case RedirectKind:
		return "redirect"
	case FixedResponse:
		return "fixed-response"
	}
	return "forward"
}

// Action is a compiled action. Forward actions name their target groups;
// the caller resolves them.
type Action struct {
	Kind     Kind
	Groups   []config.WeightedTargetGroup
	Sticky   *config.GroupStickiness
	Redirect *Redirect
	Fixed    *Fixed
	// Priority is the rule's priority, 0 for the default action (ALB's
	// matched_rule_priority).
	Priority int
}

// NewAction compiles a validated config action.
func NewAction(a config.Action, priority int) Action {
	out := Action{Priority: priority}
	switch a.Type {
	case "redirect":
		out.Kind, out.Redirect = RedirectKind, NewRedirect(*a.Redirect)
	case "fixed_response":
		f := a.FixedResponse
		ct := f.ContentType
		if ct == "" {
			ct = "text/plain"
		}
		out.Kind, out.Fixed = FixedResponse, &Fixed{Status: f.StatusCode, ContentType: ct, Body: f.MessageBody}
	default:
		out.Groups = a.Forwards()
		if a.Stickiness != nil && a.Stickiness.Enabled {
			out.Sticky = a.Stickiness
		}
	}
	return out
}

// Compile builds a validated listener's rule table and actions: the
// action of rule i is actions[Rule.Action], and the default action is the
// last one.
func Compile(l config.Listener) (*Table, []Action, error) {
	rs := make([]Rule, 0, len(l.Rules))
	acts := make([]Action, 0, len(l.Rules)+1)
	for i := range l.Rules {
		r := &l.Rules[i]
		cr := Rule{Priority: r.Priority, Action: len(acts)}
		for _, c := range r.RuleConditions() {
			cc, err := CompileCondition(c)
			if err != nil {
				return nil, nil, fmt.Errorf("rule %d: %w", r.Priority, err)
			}
			cr.Conditions = append(cr.Conditions, cc)
		}
		rs = append(rs, cr)
		acts = append(acts, NewAction(r.RuleAction(), r.Priority))
	}
	acts = append(acts, NewAction(l.ListenerAction(), 0))
	return NewTable(rs), acts, nil
}

// CompileCondition compiles one config condition.
func CompileCondition(c config.Condition) (Condition, error) {
	f, ok := ParseField(c.Field)
	if !ok {
		return Condition{}, fmt.Errorf("unknown condition field %q", c.Field)
	}
	if f == QueryString {
		ps := make([]QueryPair, len(c.Values))
		for i, v := range c.Values {
			ps[i] = QueryPair{Key: v.Key, Value: v.Value}
		}
		return NewQueryCondition(ps), nil
	}
	vs := make([]string, len(c.Values))
	for i, v := range c.Values {
		vs[i] = v.Value
	}
	return NewCondition(f, c.Name, vs)
}
