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

// finding builds a finding from the catalogue entry id.
func finding(id string, sev Severity, ev *Evidence, evidence string, fixes ...string) Finding {
	c, _ := failure.LookupCause(id)
	fix := c.Fix
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

// Diagnose turns one target's evidence into findings. It is pure: the same
// evidence always gives the same findings, in a fixed order.
func Diagnose(ev Evidence, now time.Time) []Finding {
	var out []Finding
	if ev.DNS.Done && ev.DNS.Outcome != "ok" {
		out = append(out, finding(failure.CauseDNSResolutionFailed, SeverityError, &ev,
			fmt.Sprintf("resolving %s failed after %s: %s", ev.Target, ms(ev.DNS.Duration), ev.DNS.Detail),
			fmt.Sprintf("dig +short %s; fix the record or register the target by IP", hostOf(ev.Target))))
		return out
	}
	tr, hp := ev.Traffic, ev.Health
	healthPasses := ev.Check.Done && ev.Check.OK
	switch {
	case !tr.Done:
	case tr.OK():
		if ev.HealthPort && hp.Done && !hp.OK() {
			out = append(out, finding(failure.CauseHealthCheckPortMismatch, SeverityError, &ev,
				fmt.Sprintf("traffic port %s accepts connections, but the health-check port %s: %s (%s); the target will be marked unhealthy though it could serve",
					port(tr.Address), port(hp.Address), hp.Outcome, hp.Detail),
				fmt.Sprintf("Point health_check.port at the traffic port (traffic-port) or start the health endpoint: ss -ltnp | grep :%s", port(hp.Address))))
		}
	case ev.HealthPort && (hp.OK() || healthPasses):
		out = append(out, finding(failure.CauseHealthCheckPortMismatch, SeverityError, &ev,
			fmt.Sprintf("health checks pass on port %s while the traffic port %s is %s (%s): the target looks healthy and fails every request",
				port(hp.Address), port(tr.Address), tr.Outcome, tr.Detail),
			fmt.Sprintf("Start the service on the traffic port or register the right port: ss -ltnp | grep :%s", port(tr.Address))))
	case tr.Outcome == "refused":
		out = append(out, finding(failure.CauseTargetNotListening, SeverityError, &ev,
			fmt.Sprintf("connect to %s refused in %s (TCP RST): %s", tr.Address, ms(tr.Duration), tr.Detail),
			fmt.Sprintf("On the target: ss -ltnp | grep :%s — start the service, or register the port it listens on.", port(tr.Address))))
	case tr.Outcome == "timeout":
		out = append(out, finding(failure.CauseTargetPortFiltered, SeverityError, &ev,
			fmt.Sprintf("connect to %s got no answer within %s: SYNs are dropped or the accept queue is full", tr.Address, ms(tr.Duration)),
			fmt.Sprintf("Check firewalls and security groups for port %s (iptables -L -n | grep %s), and the target's accept backlog (ss -ltn 'sport = :%s': Recv-Q vs Send-Q).", port(tr.Address), port(tr.Address), port(tr.Address))))
	case tr.Outcome == "unreachable":
		out = append(out, finding(failure.CauseTargetUnreachable, SeverityError, &ev,
			fmt.Sprintf("connect to %s: %s", tr.Address, tr.Detail), ""))
	default:
		out = append(out, finding(failure.CauseTargetNotListening, SeverityError, &ev,
			fmt.Sprintf("connect to %s failed: %s", tr.Address, tr.Detail), ""))
	}
	if !tr.OK() {
		return sortFindings(append(out, liveFindings(ev)...))
	}

	if t := ev.TLS; t.Done {
		switch {
		case t.HandshakeErr != "":
			out = append(out, finding(failure.CauseTLSHandshakeFailed, SeverityError, &ev,
				"TLS handshake with "+ev.Target+" failed: "+t.HandshakeErr,
				fmt.Sprintf("openssl s_client -connect %s -servername NAME -alpn http/1.1; check protocols, ciphers, SNI and client certificates.", ev.Target)))
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

	if c := ev.Check; c.Done && !c.OK {
		switch {
		case c.Status > 0:
			out = append(out, finding(failure.CauseHealthCheckStatus, SeverityError, &ev,
				fmt.Sprintf("health check of %s answered %d; the matcher accepts %s", c.Address, c.Status, c.Matcher),
				fmt.Sprintf("curl -i http://%s%s on the target; fix the endpoint, or health_check.matcher if %d is expected.", c.Address, c.Path, c.Status)))
		case c.Class.Type == failure.HTTPResponseTimeout || c.Class.Type == failure.ConnectionTimeout:
			out = append(out, finding(failure.CauseHealthCheckTimeout, SeverityError, &ev,
				fmt.Sprintf("health check of %s timed out after %s (timeout %s)", c.Address, ms(c.Latency), c.Timeout),
				"Raise health_check.timeout above the endpoint's worst latency, or make the health endpoint cheaper."))
		case !ev.HealthPort:
			out = append(out, finding(failure.CauseOf(c.Class.Type, false), SeverityError, &ev,
				fmt.Sprintf("health check of %s failed: %s", c.Address, c.Detail), ""))
		}
	} else if c.Done && c.Timeout > 0 && float64(c.Latency) > slowCheckShare*float64(c.Timeout) {
		out = append(out, finding(failure.CauseHealthCheckTimeout, SeverityWarning, &ev,
			fmt.Sprintf("health check of %s passed in %s, %.0f%% of its %s timeout", c.Address, ms(c.Latency), 100*float64(c.Latency)/float64(c.Timeout), c.Timeout),
			"Raise health_check.timeout or make the health endpoint cheaper before it starts failing."))
	}

	if r := ev.Conformance; r.Done {
		switch {
		case len(r.Problems) > 0:
			out = append(out, finding(failure.CauseInvalidResponse, SeverityError, &ev,
				fmt.Sprintf("GET %s: %s", r.Path, strings.Join(r.Problems, "; ")),
				fmt.Sprintf("curl -v --raw http://%s%s on the target shows the bytes; fix the header the application writes.", ev.Target, r.Path)))
		case r.Status >= 500:
			out = append(out, finding(failure.CauseTarget5xx, SeverityError, &ev,
				fmt.Sprintf("GET %s answered %q", r.Path, r.StatusLine),
				"Read the target's application logs for this request: the 5xx is its own."))
		}
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
				fmt.Sprintf("%s closes idle connections after %.1fs; Fulcrum keeps pooled connections up to %s (keepalive_idle_timeout)%s",
					ev.Target, k.IdleClose.Seconds(), ev.PoolIdle, clients),
				fmt.Sprintf("Raise the target's keep-alive timeout above %s (nginx keepalive_timeout, Node server.keepAliveTimeout, gunicorn --keep-alive), or set keepalive_idle_timeout below %.0fs.", limit, k.IdleClose.Seconds())))
		}
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

// SharedCause returns the group-level finding (all-targets-fail-alike, or nil): when every target of a group with
// two or more fails the same way, the cause is probably shared (a
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
