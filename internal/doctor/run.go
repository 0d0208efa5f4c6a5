package doctor

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/admin"
	"github.com/fulcrumlb/fulcrum/internal/config"
	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/health"
	"github.com/fulcrumlb/fulcrum/internal/target"
)

// Options tune a doctor run.
type Options struct {
	// TargetGroup, when set, limits probing to that group.
	TargetGroup string
	// Admin is a running Fulcrum's admin URL; "" means try the config's
	// admin.address and go on without live data if nothing answers.
	Admin string
	// Token is the admin bearer token, if any.
	Token string
	// KeepAliveLimit bounds the keep-alive probe (default 75s).
	KeepAliveLimit time.Duration
	// ProbeTimeout bounds each connect, TLS and conformance probe
	// (default 5s).
	ProbeTimeout time.Duration
	// Parallel bounds targets probed at once (default 16).
	Parallel int
	// Now is the clock for certificate expiry; nil means time.Now.
	Now func() time.Time
}

// Report is a doctor run's outcome: findings worst first, and every
// probe.
type Report struct {
	Findings []Finding `json:"findings"`
	Probes   []Probe   `json:"probes"`
	// Live is true when a running Fulcrum's admin API was read.
	Live bool `json:"live"`
}

// Errors counts error-severity findings.
func (r *Report) Errors() int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == SeverityError {
			n++
		}
	}
	return n
}

// Run probes every listener and target of cfg and diagnoses them.
func Run(ctx context.Context, cfg *config.Config, o Options) (*Report, error) {
	if o.KeepAliveLimit <= 0 {
		o.KeepAliveLimit = 75 * time.Second
	}
	if o.ProbeTimeout <= 0 {
		o.ProbeTimeout = 5 * time.Second
	}
	if o.Parallel <= 0 {
		o.Parallel = 16
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	rep := &Report{Findings: []Finding{}, Probes: []Probe{}}
	var mu sync.Mutex
	addProbe := func(p Probe) { mu.Lock(); rep.Probes = append(rep.Probes, p); mu.Unlock() }

	found := false
	for _, tc := range cfg.TargetGroups {
		if o.TargetGroup == "" || tc.Name == o.TargetGroup {
			found = true
		}
	}
	if o.TargetGroup != "" && !found {
		return nil, fmt.Errorf("--target-group %q is not in the configuration", o.TargetGroup)
	}

	live := readLive(ctx, cfg, o)
	rep.Live = live != nil

	for _, l := range cfg.Listeners {
		if f := probeListener(ctx, l, o.ProbeTimeout, addProbe); f != nil {
			rep.Findings = append(rep.Findings, *f)
		}
	}

	sem := make(chan struct{}, o.Parallel)
	var wg sync.WaitGroup
	type groupResult struct {
		name    string
		targets int
		per     [][]Finding
	}
	var groups []groupResult
	for _, tc := range cfg.TargetGroups {
		if o.TargetGroup != "" && tc.Name != o.TargetGroup {
			continue
		}
		tlsCfg, err := target.ClientTLS(tc)
		if err != nil {
			return nil, fmt.Errorf("target group %s: %w", tc.Name, err)
		}
		listenerIdle := time.Duration(0)
		for _, l := range cfg.Listeners {
			if routesTo(l, tc.Name) && (listenerIdle == 0 || l.IdleTimeout.D() < listenerIdle) {
				listenerIdle = l.IdleTimeout.D()
			}
		}
		per := make([][]Finding, len(tc.Targets))
		for ti, t := range tc.Targets {
			wg.Go(func() {
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					return
				}
				defer func() { <-sem }()
				ev := probeTarget(ctx, tc, t.Address, tlsCfg, o, addProbe)
				ev.ListenerIdle = listenerIdle
				if live != nil {
					ev.Live = live[tc.Name+"/"+t.Address]
				}
				per[ti] = Diagnose(ev, now())
			})
		}
		groups = append(groups, groupResult{tc.Name, len(tc.Targets), per})
	}
	wg.Wait()
	for _, g := range groups {
		for _, fs := range g.per {
			rep.Findings = append(rep.Findings, fs...)
		}
		rep.Findings = append(rep.Findings, SharedCause(g.name, g.targets, g.per)...)
	}
	rep.Findings = sortFindings(rep.Findings)
	return rep, ctx.Err()
}

func routesTo(l config.Listener, group string) bool {
	if l.DefaultTargetGroup == group {
		return true
	}
	for _, r := range l.Rules {
		if r.TargetGroup == group {
			return true
		}
	}
	return false
}

// probeTarget gathers one target's evidence.
func probeTarget(ctx context.Context, tc config.TargetGroup, addr string, tlsCfg *tls.Config, o Options, addProbe func(Probe)) Evidence {
	ev := Evidence{TargetGroup: tc.Name, Target: addr, HTTPS: tc.Protocol == "https",
		PoolIdle: tc.KeepaliveIdleTimeout.D()}
	record := func(kind, address string, c Connect) {
		addProbe(Probe{Kind: kind, TargetGroup: tc.Name, Target: addr, Address: address, Outcome: c.Outcome,
			Millis: float64(c.Duration) / float64(time.Millisecond), Detail: c.Detail})
	}
	if ev.DNS = probeDNS(ctx, addr, o.ProbeTimeout); ev.DNS.Done {
		record("dns", ev.DNS.Address, ev.DNS)
		if ev.DNS.Outcome != "ok" {
			return ev
		}
	}
	timeout := min(o.ProbeTimeout, tc.ConnectTimeout.D())
	ev.Traffic = probeConnect(ctx, addr, timeout)
	record("connect", addr, ev.Traffic)
	hc := tc.HealthCheck
	if hc.Enabled && hc.Port != config.TrafficPort {
		ev.HealthPort = true
		hp := net.JoinHostPort(hostOf(addr), fmt.Sprint(int(hc.Port)))
		ev.Health = probeConnect(ctx, hp, timeout)
		record("connect-health-port", hp, ev.Health)
	}
	if hc.Enabled {
		r := health.ProberFor(tc, tlsCfg).Probe(ctx, addr)
		ev.Check = HealthCheck{Done: true, Address: r.Address, Path: hc.Path, OK: r.OK, Status: r.Status, Class: r.Class, Latency: r.Latency,
			Timeout: hc.Timeout.D(), Matcher: hc.Matcher.String(), Detail: r.Description}
		outcome := "pass"
		if !r.OK {
			outcome = "fail"
		}
		addProbe(Probe{Kind: "health-check", TargetGroup: tc.Name, Target: addr, Address: r.Address, Outcome: outcome,
			Millis: float64(r.Latency) / float64(time.Millisecond), Detail: r.Description})
	}
	if !ev.Traffic.OK() {
		return ev
	}
	if tlsCfg != nil {
		ev.TLS = probeTLS(ctx, addr, tlsCfg, o.ProbeTimeout)
		detail := ev.TLS.Version + " " + ev.TLS.Cipher + " alpn=" + ev.TLS.ALPN + " cert " + ev.TLS.Subject + " expires " + ev.TLS.NotAfter.UTC().Format(time.RFC3339)
		outcome := "ok"
		if ev.TLS.HandshakeErr != "" {
			outcome, detail = "handshake-failed", ev.TLS.HandshakeErr
		} else if ev.TLS.VerifyErr != "" {
			outcome, detail = "verify-failed", ev.TLS.VerifyErr
		}
		addProbe(Probe{Kind: "tls", TargetGroup: tc.Name, Target: addr, Address: addr, Outcome: outcome, Detail: detail})
		if ev.TLS.HandshakeErr != "" {
			return ev
		}
	}
	ev.Conformance = probeConformance(ctx, addr, "/", tlsCfg, o.ProbeTimeout)
	outcome := "ok"
	if len(ev.Conformance.Problems) > 0 {
		outcome = "invalid"
	}
	if ev.Conformance.Err != "" {
		outcome = "error"
	}
	addProbe(Probe{Kind: "conformance", TargetGroup: tc.Name, Target: addr, Address: addr, Outcome: outcome,
		Detail: strings.TrimSpace(ev.Conformance.StatusLine + " framing=" + ev.Conformance.Framing + " " + ev.Conformance.Err)})
	if ev.Conformance.Err == "" && len(ev.Conformance.Problems) == 0 {
		ev.KeepAlive = probeKeepAlive(ctx, addr, "/", tlsCfg, o.KeepAliveLimit)
		detail := fmt.Sprintf("still open after %s", ev.KeepAlive.Limit)
		if ev.KeepAlive.IdleClose > 0 {
			detail = fmt.Sprintf("closed after %.2fs idle", ev.KeepAlive.IdleClose.Seconds())
		}
		if ev.KeepAlive.Err != "" {
			detail = ev.KeepAlive.Err
		}
		addProbe(Probe{Kind: "keepalive", TargetGroup: tc.Name, Target: addr, Address: addr, Outcome: "ok", Detail: detail})
	}
	return ev
}

// probeListener connects to a listener and sends one request through it,
// which tells the frontend leg from the backend leg.
func probeListener(ctx context.Context, l config.Listener, timeout time.Duration, addProbe func(Probe)) *Finding {
	host, port, _ := net.SplitHostPort(l.Address)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	if port == "0" {
		return nil
	}
	addr := net.JoinHostPort(host, port)
	c := probeConnect(ctx, addr, timeout)
	addProbe(Probe{Kind: "listener", Target: l.Name, Address: addr, Outcome: c.Outcome, Millis: float64(c.Duration) / float64(time.Millisecond), Detail: c.Detail})
	if !c.OK() {
		cause, _ := failure.LookupCause(failure.CauseListenerUnreachable)
		return &Finding{ID: cause.ID, Severity: SeverityWarning, Target: l.Name, Summary: cause.Summary,
			Evidence: fmt.Sprintf("listener %s at %s: %s (%s); is fulcrum serve running?", l.Name, addr, c.Outcome, c.Detail),
			Fix:      fmt.Sprintf("Start fulcrum serve, or check what holds the port: ss -ltnp | grep :%s", port)}
	}
	scheme := "http"
	if l.Protocol == "https" {
		scheme = "https"
	}
	client := &http.Client{Timeout: timeout, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	defer client.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(ctx, "GET", scheme+"://"+addr+"/", nil)
	req.Header.Set("User-Agent", "fulcrum-doctor")
	resp, err := client.Do(req)
	if err != nil {
		addProbe(Probe{Kind: "listener-request", Target: l.Name, Address: addr, Outcome: "error", Detail: err.Error()})
		return nil
	}
	resp.Body.Close()
	detail := resp.Status
	if ps := resp.Header.Get("Proxy-Status"); ps != "" {
		detail += "; the backend leg failed: " + ps
	}
	addProbe(Probe{Kind: "listener-request", Target: l.Name, Address: addr, Outcome: fmt.Sprint(resp.StatusCode), Detail: detail})
	return nil
}

// readLive reads a running Fulcrum's target groups from its admin API:
// errors per type and 5xx over the last 5 minutes, keyed "group/target".
// It returns nil when nothing answers.
func readLive(ctx context.Context, cfg *config.Config, o Options) map[string]*Live {
	base := o.Admin
	if base == "" {
		host, port, _ := net.SplitHostPort(cfg.Admin.Address)
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		if port == "0" {
			return nil
		}
		base = "http://" + net.JoinHostPort(host, port)
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimSuffix(base, "/")+"/api/v1/target-groups", nil)
	if err != nil {
		return nil
	}
	if o.Token != "" {
		req.Header.Set("Authorization", "Bearer "+o.Token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil
	}
	var body struct {
		TargetGroups []admin.TargetGroupView `json:"target_groups"`
	}
	if json.NewDecoder(resp.Body).Decode(&body) != nil {
		return nil
	}
	out := map[string]*Live{}
	for _, g := range body.TargetGroups {
		for _, t := range g.Targets {
			l := &Live{State: t.State, Reason: t.Reason, Requests5m: t.Requests.M5, Status5xx: t.Status5xx.M5, Errors5m: map[string]int64{},
				Requests1m: t.Requests.M1, Requests15m: t.Requests.M15, P99: time.Duration(t.ResponseTime.P99 * float64(time.Second))}
			for et, w := range t.Errors {
				l.Errors5m[et] = w.M5
				l.Errors1m += w.M1
				l.Errors15m += w.M15
			}
			out[g.Name+"/"+t.Address] = l
		}
	}
	return out
}
