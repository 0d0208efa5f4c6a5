package doctor

import (
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/failure"
)

// certExpiryWarning is how close to expiry a certificate draws a warning.
const certExpiryWarning = 14 * 24 * time.Hour

// slowCheckShare is the share of the health-check timeout beyond which a
// passing check's latency is a finding.
const slowCheckShare = 0.8

// finding builds a finding from the catalogue entry id. Without an
// explicit fix, the catalogue's fix is filled in for the target, "/" and
// the health path.
func finding(id string, sev Severity, ev *Evidence, evidence string, fixes ...string) Finding {
	c, _ := failure.LookupCause(id)
	fix := c.FixFor(ev.Target, "/", ev.Check.Path)
	if len(fixes) > 0 && fixes[0] != "" {
		fix = fixes[0]
	}
	return Finding{ID: id, Severity: sev, TargetGroup: ev.TargetGroup, Target: ev.Target, Summary: c.Summary, Evidence: evidence, Fix: fix}
}

func port(addr string) string {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return p
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

// timedOut reports a class that means the peer stayed silent.
func timedOut(c failure.Class) bool {
	return c.Type == failure.HTTPResponseTimeout || c.Type == failure.ConnectionTimeout
}

// Diagnose turns one target's evidence into findings. It is pure: the same
// evidence always gives the same findings, in a fixed order. Every probe
// that failed gives at least one finding.
func Diagnose(ev Evidence, now time.Time) []Finding {
	var out []Finding
	if ev.DNS.Done && !ev.DNS.OK() {
		out = append(out, finding(failure.CauseOf(ev.DNS.Class.Type, false), SeverityError, &ev,
			fmt.Sprintf("resolving %s failed after %s: %s", ev.Target, ms(ev.DNS.Duration), ev.DNS.Detail),
			fmt.Sprintf("dig +short %s; fix the record or register the target by IP", hostOf(ev.Target))))
		return out
	}
	tr, hp := ev.Traffic, ev.Health
	healthPasses := ev.Check.Done && ev.Check.OK
	switch cause := failure.CauseOf(tr.Class.Type, false); {
	case !tr.Done:
	case tr.OK():
		if ev.HealthPort && hp.Done && !hp.OK() {
			out = append(out, finding(failure.CauseHealthCheckPortMismatch, SeverityError, &ev,
				fmt.Sprintf("traffic port %s accepts connections, but the health-check port %s: %s (%s); the target will be marked unhealthy though it could serve",
					port(tr.Address), port(hp.Address), hp.Outcome, hp.Detail),
				fmt.Sprintf("Point health_check.port at the traffic port (traffic-port) or start the health endpoint on %s: ss -ltnp | grep :%s", hp.Address, port(hp.Address))))
		}
	case ev.HealthPort && (hp.OK() || healthPasses):
		out = append(out, finding(failure.CauseHealthCheckPortMismatch, SeverityError, &ev,
			fmt.Sprintf("health checks pass on port %s while the traffic port %s is %s (%s): the target looks healthy and fails every request",
				port(hp.Address), port(tr.Address), tr.Outcome, tr.Detail),
			fmt.Sprintf("Start the service on %s or register the right port: ss -ltnp | grep :%s", tr.Address, port(tr.Address))))
	case cause == failure.CauseTargetNotListening && tr.Class.Type == failure.ConnectionRefused:
		out = append(out, finding(cause, SeverityError, &ev,
			fmt.Sprintf("connect to %s refused in %s (TCP RST): %s", tr.Address, ms(tr.Duration), tr.Detail),
			fmt.Sprintf("On %s: ss -ltnp | grep :%s — start the service, or register the port it listens on.", hostOf(tr.Address), port(tr.Address))))
	case cause == failure.CauseTargetPortFiltered:
		out = append(out, finding(cause, SeverityError, &ev,
			fmt.Sprintf("connect to %s got no answer within %s: SYNs are dropped or the accept queue is full", tr.Address, ms(tr.Duration)),
			fmt.Sprintf("Check firewalls and security groups for port %s (iptables -L -n | grep %s), and the target's accept backlog (ss -ltn 'sport = :%s': Recv-Q vs Send-Q).", port(tr.Address), port(tr.Address), port(tr.Address))))
	case cause == failure.CauseTargetUnreachable:
		out = append(out, finding(cause, SeverityError, &ev, fmt.Sprintf("connect to %s: %s", tr.Address, tr.Detail), ""))
	default:
		out = append(out, finding(cause, SeverityError, &ev, fmt.Sprintf("connect to %s failed: %s", tr.Address, tr.Detail), ""))
	}
	if !tr.OK() {
		return sortFindings(append(out, liveFindings(ev)...))
	}

	if t := ev.TLS; t.Done {
		switch {
		case t.HandshakeClass.Type != failure.None:
			id := failure.CauseOf(t.HandshakeClass.Type, false)
			if id == failure.CauseLBError {
				id = failure.CauseTLSHandshakeFailed
			}
			out = append(out, finding(id, SeverityError, &ev,
				"TLS handshake with "+ev.Target+" failed: "+t.HandshakeErr,
				fmt.Sprintf("openssl s_client -connect %s -servername %s -alpn http/1.1; check protocols, ciphers, SNI and client certificates.", ev.Target, hostOf(ev.Target))))
		case t.VerifyErr != "" && !t.SkipVerify:
			out = append(out, finding(failure.CauseTLSCertificateInvalid, SeverityError, &ev,
				fmt.Sprintf("certificate %q does not verify: %s", t.Subject, t.VerifyErr),
				fmt.Sprintf("openssl s_client -connect %s -showcerts; install a certificate that chains to a trusted CA and names the target, or set tls.ca_file.", ev.Target)))
		case t.VerifyErr != "":
			out = append(out, finding(failure.CauseTLSCertificateInvalid, SeverityWarning, &ev,
				fmt.Sprintf("certificate %q does not verify (%s); tls.insecure_skip_verify hides it", t.Subject, t.VerifyErr), ""))
		case !t.NotAfter.IsZero() && t.NotAfter.Sub(now) < certExpiryWarning:
			out = append(out, finding(failure.CauseTLSCertificateInvalid, SeverityWarning, &ev,
				fmt.Sprintf("certificate %q expires %s (in %.1f days)", t.Subject, t.NotAfter.UTC().Format(time.RFC3339), t.NotAfter.Sub(now).Hours()/24), "Renew the certificate before it expires."))
		}
	}

	out = append(out, diagnoseH2(&ev)...)

	r := ev.Conformance
	// hung: the target accepts connections and answers nothing at all,
	// neither GET / nor the health path (HAProxy L7TOUT).
	hung := r.Done && !r.Answered && timedOut(r.Class) &&
		(!ev.Check.Done || (!ev.Check.OK && timedOut(ev.Check.Class) && !ev.Recheck.Answered))
	if hung {
		idle := ""
		if ev.ListenerIdle > 0 {
			idle = fmt.Sprintf("; clients get 504 after the listener's idle_timeout of %s", ev.ListenerIdle)
		}
		check := ""
		if ev.Check.Done {
			check = fmt.Sprintf(", nor the health check GET %s within %s", ev.Check.Path, max(ev.Check.Latency, ev.Recheck.Latency).Round(time.Millisecond))
		}
		out = append(out, finding(failure.CauseTargetHung, SeverityError, &ev,
			fmt.Sprintf("%s accepts connections (connect in %s) but sent no byte to GET / within %s%s%s",
				ev.Target, ms(tr.Duration), r.Latency.Round(time.Millisecond), check, idle),
			fmt.Sprintf("On %s: find the process on port %s (ss -ltnp | grep :%s) and look at it: top, a thread dump, kill -CONT if it was stopped; restart it if it is wedged.",
				hostOf(ev.Target), port(ev.Target), port(ev.Target))))
	}

	if c := ev.Check; c.Done && !c.OK {
		switch {
		case c.Status > 0:
			out = append(out, finding(failure.CauseHealthCheckStatus, SeverityError, &ev,
				fmt.Sprintf("health check of %s answered %d; the matcher accepts %s", c.Address, c.Status, c.Matcher),
				fmt.Sprintf("curl -i http://%s%s on the target; fix the endpoint, or health_check.matcher if %d is expected.", c.Address, c.Path, c.Status)))
		case timedOut(c.Class) && hung:
		case timedOut(c.Class) && ev.Recheck.Answered:
			out = append(out, finding(failure.CauseHealthCheckTimeout, SeverityError, &ev,
				fmt.Sprintf("health check of %s timed out after %s (timeout %s); asked again, GET %s answered in %s",
					c.Address, ms(c.Latency), c.Timeout, c.Path, ev.Recheck.Latency.Round(time.Millisecond)),
				fmt.Sprintf("Raise health_check.timeout above %s, or make GET %s on %s cheaper.", ev.Recheck.Latency.Round(time.Second)+time.Second, c.Path, c.Address)))
		case timedOut(c.Class):
			out = append(out, finding(failure.CauseTargetResponseTimeout, SeverityError, &ev,
				fmt.Sprintf("health check GET %s on %s got no answer within %s (timeout %s), while GET / answers", c.Path, c.Address, ms(max(c.Latency, ev.Recheck.Latency)), c.Timeout),
				fmt.Sprintf("curl -m 30 -i http://%s%s on the target: the health endpoint hangs.", c.Address, c.Path)))
		case !ev.HealthPort || hp.OK():
			out = append(out, finding(failure.CauseOf(c.Class.Type, false), SeverityError, &ev,
				fmt.Sprintf("health check of %s failed: %s", c.Address, c.Detail), ""))
		}
	} else if c.Done && c.Timeout > 0 && float64(c.Latency) > slowCheckShare*float64(c.Timeout) {
		out = append(out, finding(failure.CauseHealthCheckTimeout, SeverityWarning, &ev,
			fmt.Sprintf("health check of %s passed in %s, %.0f%% of its %s timeout", c.Address, ms(c.Latency), 100*float64(c.Latency)/float64(c.Timeout), c.Timeout),
			fmt.Sprintf("Raise health_check.timeout or make GET %s on %s cheaper before it starts failing.", c.Path, c.Address)))
	}

	switch {
	case !r.Done && r.Err != "":
		// The probe could not connect (TLS or a second connect failed).
		out = append(out, finding(failure.CauseOf(r.Class.Type, false), SeverityError, &ev,
			fmt.Sprintf("GET %s: %s", r.Path, r.Err), ""))
	case !r.Done || hung:
	case !r.Answered && timedOut(r.Class) && ev.ListenerIdle > 0 && r.Timeout >= ev.ListenerIdle:
		out = append(out, finding(failure.CauseTargetSlowerThanIdle, SeverityError, &ev,
			fmt.Sprintf("GET %s on %s sent no response within %s, longer than the listener's idle_timeout of %s: clients get 504, while the health check passes",
				r.Path, ev.Target, r.Latency.Round(time.Millisecond), ev.ListenerIdle),
			fmt.Sprintf("Make GET %s on %s answer faster, or raise listeners[].idle_timeout above its worst latency.", r.Path, ev.Target)))
	case !r.Answered && timedOut(r.Class):
		out = append(out, finding(failure.CauseTargetResponseTimeout, SeverityWarning, &ev,
			fmt.Sprintf("GET %s on %s sent no response within %s (the listener's idle_timeout is %s)", r.Path, ev.Target, r.Latency.Round(time.Millisecond), ev.ListenerIdle),
			fmt.Sprintf("curl -m 120 -o /dev/null -w '%%{time_starttransfer}\\n' http://%s%s shows how long it takes.", ev.Target, r.Path)))
	case !r.Answered:
		out = append(out, finding(failure.CauseOf(r.Class.Type, false), SeverityError, &ev,
			fmt.Sprintf("GET %s on %s: %s", r.Path, ev.Target, r.Err), ""))
	case len(r.Problems) > 0:
		out = append(out, finding(failure.CauseInvalidResponse, SeverityError, &ev,
			fmt.Sprintf("GET %s: %s", r.Path, strings.Join(r.Problems, "; ")),
			fmt.Sprintf("curl -v --raw http://%s%s on the target shows the bytes; fix the header the application writes.", ev.Target, r.Path)))
	case ev.ListenerIdle > 0 && r.Latency >= ev.ListenerIdle:
		out = append(out, finding(failure.CauseTargetSlowerThanIdle, SeverityError, &ev,
			fmt.Sprintf("GET %s on %s answered after %s, later than the listener's idle_timeout of %s: clients get 504", r.Path, ev.Target, r.Latency.Round(time.Millisecond), ev.ListenerIdle),
			fmt.Sprintf("Make GET %s on %s answer faster, or raise listeners[].idle_timeout above %s.", r.Path, ev.Target, r.Latency.Round(time.Second)+time.Second)))
	case r.Status >= 500:
		out = append(out, finding(failure.CauseTarget5xx, SeverityError, &ev,
			fmt.Sprintf("GET %s answered %q", r.Path, r.StatusLine),
			fmt.Sprintf("Read the application logs on %s for GET %s: the 5xx is its own.", ev.Target, r.Path)))
	}

	if k := ev.KeepAlive; k.Done && k.IdleClose > 0 {
		limit := ev.PoolIdle
		if ev.ListenerIdle > limit {
			limit = ev.ListenerIdle
		}
		if k.IdleClose < limit {
			clients := ""
			if ev.ListenerIdle > 0 {
				clients = fmt.Sprintf(" and clients up to %s (listener idle_timeout)", ev.ListenerIdle)
			}
			out = append(out, finding(failure.CauseKeepaliveRace, SeverityWarning, &ev,
				fmt.Sprintf("%s closes idle connections after %.1fs (%s); Fulcrum keeps pooled connections up to %s (keepalive_idle_timeout)%s",
					ev.Target, k.IdleClose.Seconds(), k.Source, ev.PoolIdle, clients),
				fmt.Sprintf("Raise the keep-alive timeout of %s above %s (nginx keepalive_timeout, Node server.keepAliveTimeout, gunicorn --keep-alive), or set keepalive_idle_timeout below %.0fs.", ev.Target, limit, k.IdleClose.Seconds())))
		}
	} else if !k.Done && k.Err != "" && r.Answered && len(r.Problems) == 0 {
		out = append(out, finding(failure.CauseOf(k.Class.Type, false), SeverityWarning, &ev,
			fmt.Sprintf("a keep-alive GET %s on %s failed: %s", r.Path, ev.Target, k.Err), ""))
	}
	return sortFindings(append(out, liveFindings(ev)...))
}

// liveFindings turns a running Fulcrum's counters into findings: error
// types of the last 5 minutes, and the target's own 5xx.
func liveFindings(ev Evidence) []Finding {
	l := ev.Live
	if l == nil {
		return nil
	}
	var out []Finding
	types := make([]string, 0, len(l.Errors5m))
	for t := range l.Errors5m {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		et, ok := failure.ParseErrorType(t)
		if !ok || l.Errors5m[t] == 0 {
			continue
		}
		id := failure.CauseOf(et, false)
		out = append(out, finding(id, SeverityWarning, &ev,
			fmt.Sprintf("live: %d %s in the last 5 minutes, %d answered requests", l.Errors5m[t], t, l.Requests5m), ""))
	}
	if l.Status5xx > 0 {
		out = append(out, finding(failure.CauseTarget5xx, SeverityWarning, &ev,
			fmt.Sprintf("live: the target answered %d requests with 5xx in the last 5 minutes (of %d)", l.Status5xx, l.Requests5m), ""))
	}
	if l.State == "draining" && l.Requests1m > 0 {
		out = append(out, finding(failure.CauseDrainingTarget, SeverityWarning, &ev,
			fmt.Sprintf("live: %d requests answered in the last minute while the target is draining (%s)", l.Requests1m, l.Reason), ""))
	}
	if overloaded(l) {
		out = append(out, finding(failure.CauseTargetOverloaded, SeverityWarning, &ev,
			fmt.Sprintf("live: last minute %d requests with %d errors (%.1f%%, p99 %s) against a 15-minute average of %.0f requests and %.1f%% errors per minute: errors rise with load",
				l.Requests1m, l.Errors1m, pct(l.Errors1m, l.Requests1m+l.Errors1m), l.P99, float64(l.Requests15m)/15, pct(l.Errors15m, l.Requests15m+l.Errors15m)), ""))
	}
	return out
}

// overloaded reports errors rising with load: in the last minute, the
// target got at least 1.5 times its 15-minute average of requests, and
// its error rate at least doubled, with 5 errors or more.
func overloaded(l *Live) bool {
	if l.Errors1m < 5 || l.Requests15m == 0 {
		return false
	}
	load1, load15 := float64(l.Requests1m+l.Errors1m), float64(l.Requests15m+l.Errors15m)/15
	rate1 := pct(l.Errors1m, l.Requests1m+l.Errors1m)
	rate15 := pct(l.Errors15m, l.Requests15m+l.Errors15m)
	return load1 >= 1.5*load15 && rate1 >= 2*rate15
}

func pct(n, of int64) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

func hostOf(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return h
}

// severityRank orders severities, worst first.
func severityRank(s Severity) int {
	switch s {
	case SeverityError:
		return 0
	case SeverityWarning:
		return 1
	}
	return 2
}

// sortFindings orders findings worst first and drops a repeat of the same
// finding for the same target (a bad certificate fails both the TLS probe
// and the health check).
func sortFindings(fs []Finding) []Finding {
	seen := map[[3]string]bool{}
	kept := fs[:0]
	for _, f := range fs {
		k := [3]string{f.ID, f.TargetGroup, f.Target}
		if seen[k] {
			continue
		}
		seen[k] = true
		kept = append(kept, f)
	}
	fs = kept
	sort.SliceStable(fs, func(i, j int) bool { return severityRank(fs[i].Severity) < severityRank(fs[j].Severity) })
	return fs
}

// SharedCause adds the group-level finding: when every target of a group
// with two or more fails the same way, the cause is probably shared (a
// security group, a subnet, a bad release) rather than per target.
func SharedCause(group string, targets int, perTarget [][]Finding) []Finding {
	if targets < 2 || len(perTarget) != targets {
		return nil
	}
	var common string
	for i, fs := range perTarget {
		id := ""
		for _, f := range fs {
			if f.Severity == SeverityError {
				id = f.ID
				break
			}
		}
		if id == "" || (i > 0 && id != common) {
			return nil
		}
		common = id
	}
	c, _ := failure.LookupCause(failure.CauseAllTargetsFailAlike)
	return []Finding{{ID: failure.CauseAllTargetsFailAlike, Severity: SeverityError, TargetGroup: group, Summary: c.Summary,
		Evidence: fmt.Sprintf("all %d targets: %s", targets, common), Fix: c.Fix}}
}

// DiagnoseGroup gives a group's own findings: no registered targets,
// every target draining, and, when the running Fulcrum answered recent
// requests of the group with 5xx of its own (ALB HTTPCode_ELB_5XX) that
// no finding in found explains, one finding per error type. It is pure.
func DiagnoseGroup(g GroupEvidence, found []Finding) []Finding {
	var out []Finding
	add := func(id string, sev Severity, evidence string) {
		c, _ := failure.LookupCause(id)
		out = append(out, Finding{ID: id, Severity: sev, TargetGroup: g.Name, Summary: c.Summary, Evidence: evidence, Fix: c.Fix})
	}
	lb := 0
	for _, n := range g.LB5xx {
		lb += n
	}
	live := ""
	if g.Live && lb > 0 {
		live = fmt.Sprintf("; %d of its last %d requests got a 5xx from Fulcrum", lb, g.Recent)
	}
	switch {
	case g.Targets == 0:
		sev := SeverityWarning
		if g.Routed || lb > 0 {
			sev = SeverityError
		}
		add(failure.CauseNoRegisteredTargets, sev, fmt.Sprintf("target group %s has no registered targets: every request routed to it gets 503%s", g.Name, live))
		return out
	case g.Live && g.States["draining"] == g.Targets:
		add(failure.CauseAllTargetsDraining, SeverityError, fmt.Sprintf("all %d targets of %s are draining: new requests get 503%s", g.Targets, g.Name, live))
		return out
	}
	if lb == 0 {
		return out
	}
	explained := map[string]bool{}
	for _, f := range found {
		if f.TargetGroup == g.Name {
			explained[f.ID] = true
		}
	}
	types := make([]string, 0, len(g.LB5xx))
	for t := range g.LB5xx {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		id := failure.CauseLBError
		if et, ok := failure.ParseErrorType(t); ok {
			id = failure.CauseOf(et, false)
		}
		if explained[id] {
			continue
		}
		add(id, SeverityError, fmt.Sprintf("live: Fulcrum answered %d of the last %d requests to %s with a 5xx of its own (%s)", g.LB5xx[t], g.Recent, g.Name, t))
	}
	return out
}
