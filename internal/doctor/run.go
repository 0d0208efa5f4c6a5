package doctor

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/admin"
	"github.com/fulcrumlb/fulcrum/internal/cluster"
	"github.com/fulcrumlb/fulcrum/internal/config"
	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/health"
	"github.com/fulcrumlb/fulcrum/internal/target"
)

// Options tune a doctor run.
type Options struct {
	// TargetGroup, when set, limits probing to that group.
	TargetGroup string
	// Live is what a running Fulcrum's admin API reported; nil means none
	// answered and doctor works from its probes alone. Doctor makes no
	// admin API calls itself: the caller (the CLI) fetches this.
	Live *LiveData
	// KeepAliveLimit bounds the keep-alive probe's wait when neither a
	// Keep-Alive header nor the live data tells the target's idle-close
	// time (default 5s).
	KeepAliveLimit time.Duration
	// ProbeTimeout bounds each connect, TLS and conformance probe
	// (default 5s).
	ProbeTimeout time.Duration
	// Parallel bounds targets probed at once (default 16).
	Parallel int
	// Now is the clock for certificate expiry; nil means time.Now.
	Now func() time.Time
	// Progress, when set, is told each target group's size before its
	// targets are probed (Start) and each target when it is done (Done).
	// It must be safe for concurrent use.
	Progress Progress
}

// Progress follows a run, for a progress bar on a terminal.
type Progress interface {
	Start(group string, targets int)
	Done(group, target string)
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
		o.KeepAliveLimit = 5 * time.Second
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

	live, groupsLive := liveByTarget(o.Live)
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
	var gevs []GroupEvidence
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
		ge := GroupEvidence{Name: tc.Name, Targets: len(tc.Targets), Routed: listenerIdle > 0 || routedAnywhere(cfg, tc.Name)}
		if g, ok := groupsLive[tc.Name]; ok {
			ge.Live, ge.Targets, ge.States, ge.LB5xx, ge.Recent = true, g.Targets, g.States, g.LB5xx, g.Recent
		}
		gevs = append(gevs, ge)
		if o.Progress != nil {
			o.Progress.Start(tc.Name, len(tc.Targets))
		}
		per := make([][]Finding, len(tc.Targets))
		for ti, t := range tc.Targets {
			wg.Go(func() {
				if o.Progress != nil {
					defer o.Progress.Done(tc.Name, t.Address)
				}
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					return
				}
				defer func() { <-sem }()
				var lv *Live
				if live != nil {
					lv = live[tc.Name+"/"+t.Address]
				}
				ev := probeTarget(ctx, tc, t.Address, tlsCfg, o, listenerIdle, lv, addProbe)
				per[ti] = Diagnose(ev, now())
			})
		}
		groups = append(groups, groupResult{tc.Name, len(tc.Targets), per})
	}
	wg.Wait()
	for i, g := range groups {
		var all []Finding
		for _, fs := range g.per {
			all = append(all, fs...)
		}
		all = append(all, SharedCause(g.name, g.targets, g.per)...)
		all = append(all, DiagnoseGroup(gevs[i], all)...)
		rep.Findings = append(rep.Findings, all...)
	}
	rep.Findings = append(rep.Findings, fleetFindings(o.Live, o.TargetGroup)...) // fleet.go
	rep.Findings = sortFindings(rep.Findings)
	return rep, ctx.Err()
}

func routedAnywhere(cfg *config.Config, group string) bool {
	for _, l := range cfg.Listeners {
		if routesTo(l, group) {
			return true
		}
	}
	return false
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
//
// The GET / probe waits the probe timeout plus up to twice as much again
// for a listener idle timeout, so a target slower than the idle timeout
// is told from one that never answers; after a timed-out health check the
// health path is asked again with that wait, at the same time.
func probeTarget(ctx context.Context, tc config.TargetGroup, addr string, tlsCfg *tls.Config, o Options, listenerIdle time.Duration, live *Live, addProbe func(Probe)) Evidence {
	ev := Evidence{TargetGroup: tc.Name, Target: addr, HTTPS: tc.Protocol == "https",
		PoolIdle: tc.KeepaliveIdleTimeout.D(), ListenerIdle: listenerIdle, Live: live}
	wait := o.ProbeTimeout + min(listenerIdle, 2*o.ProbeTimeout)
	record := func(kind, address string, c Connect) {
		addProbe(Probe{Kind: kind, TargetGroup: tc.Name, Target: addr, Address: address, Outcome: c.Outcome,
			Millis: float64(c.Duration) / float64(time.Millisecond), Detail: c.Detail})
	}
	if ev.DNS = probeDNS(ctx, addr, o.ProbeTimeout); ev.DNS.Done {
		record("dns", ev.DNS.Address, ev.DNS)
		if !ev.DNS.OK() {
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
		if ev.TLS.HandshakeClass.Type != failure.None {
			outcome, detail = "handshake-failed", ev.TLS.HandshakeErr
		} else if ev.TLS.VerifyErr != "" {
			outcome, detail = "verify-failed", ev.TLS.VerifyErr
		}
		addProbe(Probe{Kind: "tls", TargetGroup: tc.Name, Target: addr, Address: addr, Outcome: outcome, Detail: detail})
		if ev.TLS.HandshakeClass.Type != failure.None {
			return ev
		}
	}
	if tc.HTTP2() {
		ev.H2 = probeH2(ctx, tc, addr, tlsCfg, wait)
		recordH2(tc.Name, addr, ev.H2, addProbe)
		return ev
	}
	var recheck sync.WaitGroup
	if ev.Check.Done && !ev.Check.OK && timedOut(ev.Check.Class) {
		recheck.Go(func() {
			ev.Recheck = probeConformance(ctx, addr, hc.Path, tlsCfg, max(wait, 2*hc.Timeout.D()))
			outcome := "answered"
			if !ev.Recheck.Answered {
				outcome = "error"
			}
			addProbe(Probe{Kind: "health-recheck", TargetGroup: tc.Name, Target: addr, Address: addr, Outcome: outcome,
				Millis: float64(ev.Recheck.Latency) / float64(time.Millisecond), Detail: strings.TrimSpace(ev.Recheck.StatusLine + " " + ev.Recheck.Err)})
		})
	}
	ev.Conformance = probeConformance(ctx, addr, "/", tlsCfg, wait)
	recheck.Wait()
	outcome := "ok"
	if len(ev.Conformance.Problems) > 0 {
		outcome = "invalid"
	}
	if ev.Conformance.Err != "" {
		outcome = "error"
	}
	addProbe(Probe{Kind: "conformance", TargetGroup: tc.Name, Target: addr, Address: addr, Outcome: outcome,
		Millis: float64(ev.Conformance.Latency) / float64(time.Millisecond), Detail: strings.TrimSpace(ev.Conformance.StatusLine + " framing=" + ev.Conformance.Framing + " " + ev.Conformance.Err)})
	if ev.Conformance.Err == "" && len(ev.Conformance.Problems) == 0 {
		known := time.Duration(0)
		if live != nil {
			known = live.KeepAlive
		}
		ev.KeepAlive = probeKeepAlive(ctx, addr, "/", tlsCfg, wait, o.KeepAliveLimit, known)
		detail := fmt.Sprintf("still open after %s idle (no Keep-Alive header; --keepalive-probe waits longer)", ev.KeepAlive.Limit)
		if ev.KeepAlive.IdleClose > 0 {
			detail = fmt.Sprintf("closes after %.2fs idle (%s)", ev.KeepAlive.IdleClose.Seconds(), ev.KeepAlive.Source)
		}
		outcome := "ok"
		if ev.KeepAlive.Err != "" {
			outcome, detail = "error", ev.KeepAlive.Err
		}
		addProbe(Probe{Kind: "keepalive", TargetGroup: tc.Name, Target: addr, Address: addr, Outcome: outcome, Detail: detail})
	}
	return ev
}

// probeListener connects to a listener and sends one request through it,
// which tells the frontend leg from the backend leg.
func probeListener(ctx context.Context, l config.Listener, timeout time.Duration, addProbe func(Probe)) *Finding {
	addr := config.DialAddress(l.Address)
	if addr == "" {
		return nil // port 0: only the running server knows its port
	}
	_, port, _ := net.SplitHostPort(addr)
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
		cause, _ := failure.LookupCause(failure.CauseListenerUnreachable)
		return &Finding{ID: cause.ID, Severity: SeverityWarning, Target: l.Name, Summary: cause.Summary,
			Evidence: fmt.Sprintf("listener %s at %s accepts connections, but GET / through it failed: %v", l.Name, addr, err),
			Fix:      fmt.Sprintf("curl -v %s://%s/ and read fulcrum's log for the request", scheme, addr)}
	}
	resp.Body.Close()
	detail := resp.Status
	if ps := resp.Header.Get("Proxy-Status"); ps != "" {
		detail += "; the backend leg failed: " + ps
	}
	addProbe(Probe{Kind: "listener-request", Target: l.Name, Address: addr, Outcome: fmt.Sprint(resp.StatusCode), Detail: detail})
	return nil
}

// liveGroup is what a running Fulcrum reported about a target group.
type liveGroup struct {
	Targets int
	States  map[string]int
	LB5xx   map[string]int
	Recent  int
}

// LiveData is what a running Fulcrum's admin API tells doctor: the
// target groups of GET /api/v1/target-groups (docs/admin-api.md) and the
// recent requests of GET /api/v1/requests?limit=1000. A nil TargetGroups
// counts as no live data.
type LiveData struct {
	TargetGroups []admin.TargetGroupView
	Requests     []admin.RequestView
	// Fleet is GET /api/v1/fleet, nil without a cluster section
	// (fleet.go).
	Fleet *cluster.Fleet
}

// liveByTarget turns the live data into errors per type and 5xx over the
// last 5 minutes, keyed "group/target", and per group its targets' states
// and the LB-generated 5xx among the recent requests. It returns nil maps
// for no live data.
func liveByTarget(d *LiveData) (map[string]*Live, map[string]*liveGroup) {
	if d == nil || d.TargetGroups == nil {
		return nil, nil
	}
	out := map[string]*Live{}
	groups := map[string]*liveGroup{}
	for _, g := range d.TargetGroups {
		lg := &liveGroup{Targets: len(g.Targets), States: map[string]int{}, LB5xx: map[string]int{}}
		groups[g.Name] = lg
		for _, t := range g.Targets {
			lg.States[t.State]++
			l := &Live{State: t.State, Reason: t.Reason, Requests5m: t.Requests.M5, Status5xx: t.Status5xx.M5, Errors5m: map[string]int64{},
				Requests1m: t.Requests.M1, Requests15m: t.Requests.M15, P99: time.Duration(t.ResponseTime.P99 * float64(time.Second)),
				KeepAlive: time.Duration(t.KeepAlive.LearnedIdleClose * float64(time.Second))}
			for et, w := range t.Errors {
				l.Errors5m[et] = w.M5
				l.Errors1m += w.M1
				l.Errors15m += w.M15
			}
			out[g.Name+"/"+t.Address] = l
		}
	}
	for _, r := range d.Requests {
		lg := groups[r.TargetGroup]
		if lg == nil {
			continue
		}
		lg.Recent++
		if r.Status >= 500 && r.TargetStatus == 0 {
			et := r.ErrorType
			if et == "" {
				et = "unknown"
			}
			lg.LB5xx[et]++
		}
	}
	return out, groups
}
