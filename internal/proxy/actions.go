package proxy

import (
	"net/http"
	"strconv"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/accesslog"
	"github.com/fulcrumlb/fulcrum/internal/config"
	"github.com/fulcrumlb/fulcrum/internal/rules"
	"github.com/fulcrumlb/fulcrum/internal/stickiness"
	"github.com/fulcrumlb/fulcrum/internal/target"
)

// routeState is what routing decided for one request.
type routeState struct {
	fw *forward
	// groupSticky is true when the AWSALBTG cookie chose the group.
	groupSticky bool
}

// routeRequest adds the trace and mTLS headers, matches the listener's
// rules and runs the action. For a forward action it sets q.group, taking
// the group from a valid AWSALBTG cookie when the action has target group
// stickiness, and returns true; a redirect or fixed_response is answered
// here and it returns false.
func (h *Handler) routeRequest(q *request, rt *routeTable) bool {
	r, rec := q.r, q.rec
	// fillRecord made the value from the header as it still is (trace.go).
	r.Header.Set(traceHeaderName, q.strs.trace)
	rec.AmznTraceID = q.strs.trace
	if q.strs.packed.Has&accesslog.PackedTrace != 0 {
		rec.Packed.Trace = q.strs.packed.Trace
		rec.Packed.Has |= accesslog.PackedTrace
	}
	clientCertHeaders(r, rt.mtls)
	act, fw := rt.route(r)
	rec.RulePriority = act.Priority
	if act.Kind != rules.Forward {
		h.respondAction(q, act)
		return false
	}
	q.route.fw = fw
	if fw.sticky > 0 && h.Sticky != nil {
		if c, ok := r.Header.Cookie(stickiness.GroupCookie); ok {
			if name, _, err := h.Sticky.Open(stickiness.GroupCookie, c, q.start); err == nil {
				if g := fw.byName(name); g != nil {
					q.group, q.route.groupSticky = g, true
				}
			}
		}
	}
	if q.group == nil {
		q.group = fw.pick()
	}
	rec.TargetGroup, rec.Forwarded = q.group.Name, true
	return true
}

// respondAction answers a redirect or fixed_response action: an ELB
// status with Server: fulcrum and the request id, logged with ALB's
// actions_executed and redirect_url and no target.
func (h *Handler) respondAction(q *request, a *rules.Action) {
	rec, r := q.rec, q.r
	hdr := q.w.Header()
	hdr["Server"] = []string{"fulcrum"}
	hdr["X-Request-Id"] = []string{q.id}
	rec.Action = a.Kind.LogName()
	status, body := 0, ""
	switch a.Kind {
	case rules.RedirectKind:
		proto, port := "http", h.Port
		if h.TLS {
			proto = "https"
		}
		if _, p, ok := splitPort(r.Host); ok {
			port = p
		}
		loc := a.Redirect.Location(rules.Original{Protocol: proto, Host: rules.HostOnly(r.Host), Port: port,
			Path: r.RawPath, Query: r.RawQuery})
		rec.RedirectURL = loc
		hdr["Location"] = []string{loc}
		status = a.Redirect.Status
		hdr["Content-Length"] = []string{"0"}
	case rules.FixedResponse:
		status, body = a.Fixed.Status, a.Fixed.Body
		hdr["Content-Type"] = []string{a.Fixed.ContentType}
		hdr["Content-Length"] = []string{strconv.Itoa(len(body))}
	}
	rec.RequestProcessing = time.Since(q.start)
	rec.ELBStatus, rec.TargetStatus = status, 0
	rec.ResponseProcessing = 0
	q.w.WriteHeader(status)
	if body != "" && r.Method != http.MethodHead {
		q.w.Write([]byte(body))
	}
	rec.SentBytes = int64(len(body)) + 150
}

func splitPort(hostport string) (string, string, bool) {
	host := rules.HostOnly(hostport)
	if len(host) < len(hostport) {
		rest := hostport[len(host):]
		if len(rest) > 1 && rest[0] == ']' {
			rest = rest[1:]
		}
		if len(rest) > 1 && rest[0] == ':' {
			return host, rest[1:], true
		}
	}
	return host, "", false
}

// stickyTarget returns the target the request's stickiness cookie names
// when the group has stickiness, the cookie is valid, and the target is
// still routable: not unhealthy, draining, ejected or already tried, and
// the group is not failing open. Otherwise it returns nil and the
// balancing algorithm picks; rec.Sticky says why the target was left.
func (h *Handler) stickyTarget(q *request, rs *target.RouteSet, tried []*target.Target) *target.Target {
	st := q.group.cfg.Stickiness
	if st == nil || !st.Enabled || h.Sticky == nil || len(tried) > 0 {
		return nil
	}
	name := stickyCookie(st)
	c, ok := q.r.Header.Cookie(name)
	if !ok {
		return nil
	}
	g, addr, err := h.Sticky.Open(name, c, q.start)
	if err != nil || g != q.group.Name {
		return nil
	}
	if rs.FailOpen {
		q.rec.Sticky = st.Type + ": sticky target " + "left: the group fails open"
		return nil
	}
	for _, t := range rs.Targets {
		if t.Address == addr {
			if t.Draining() || t.Outlier.Ejected() {
				break
			}
			q.rec.Sticky = st.Type
			return t
		}
	}
	q.rec.Sticky = st.Type + ": sticky target left: unhealthy, draining, ejected or deregistered"
	return nil
}

func stickyCookie(st *config.Stickiness) string {
	if st.Type == "app_cookie" {
		return stickiness.AppCookie
	}
	return stickiness.LBCookie
}

// stickyCookies adds the stickiness cookies to a forwarded response:
// AWSALBTG for target group stickiness, AWSALB for lb_cookie on every
// response, and AWSALBAPP-0 for app_cookie when the target set the
// application's cookie (AWS, "Sticky sessions for your Application Load
// Balancer").
func (h *Handler) stickyCookies(q *request, x *exchange, hdr http.Header) {
	if h.Sticky == nil {
		return
	}
	if fw := q.route.fw; fw != nil && fw.sticky > 0 {
		addCookie(hdr, stickiness.GroupCookie, h.Sticky.Seal(stickiness.GroupCookie, q.group.Name, "", time.Now().Add(fw.sticky)), fw.sticky)
	}
	st := q.group.cfg.Stickiness
	if st == nil || !st.Enabled || q.target == nil {
		return
	}
	now := time.Now()
	d := st.Duration.D()
	if st.Type == "app_cookie" {
		found := false
		resp := http.Response{Header: x.header()}
		for _, c := range resp.Cookies() {
			if c.Name == st.CookieName {
				found = true
			}
		}
		if !found {
			return
		}
	}
	name := stickyCookie(st)
	addCookie(hdr, name, h.Sticky.Seal(name, q.group.Name, q.target.Address, now.Add(d)), d)
}

func addCookie(hdr http.Header, name, value string, d time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: int(d / time.Second)}
	hdr.Add("Set-Cookie", c.String())
}
