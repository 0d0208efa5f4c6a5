package health

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/target"
)

// Outlier is outlier detection for one target group: it watches the results
// of real requests and ejects a target after a run of connection errors on
// fresh connections, or of 5xx responses (Envoy's outlier detection,
// HAProxy's observe layer4/layer7 with on-error mark-down). An ejected
// target is unhealthy with reason Target.OutlierEjected for
// BaseEjectionTime times its number of ejections, capped at
// MaxEjectionTime; then Sweep returns it to the health its checks give.
// A keep-alive race (a reused connection closed before any response
// byte) never counts, as in HAProxy: it says nothing about the target's
// health.
type Outlier struct {
	// Group is the target group watched.
	Group *target.Group
	// ConsecutiveConnectionErrors ejects after this many connection errors
	// in a row; 0 is off.
	ConsecutiveConnectionErrors int
	// Consecutive5xx ejects after this many 5xx responses in a row; 0 is off.
	Consecutive5xx int
	// BaseEjectionTime and MaxEjectionTime bound an ejection's length.
	BaseEjectionTime, MaxEjectionTime time.Duration
	// MaxEjectionPercent caps the share of registered targets ejected at
	// once.
	MaxEjectionPercent int
	// HealthChecks is true when active checks run, so the state after an
	// ejection follows the last check.
	HealthChecks bool
	// Logger receives ejections and returns; nil discards them.
	Logger *slog.Logger
	// OnEject, when set, sees every ejection (metrics).
	OnEject func(t *target.Target)
}

// ObserveResponse records a response header with the given status from t.
func (o *Outlier) ObserveResponse(now time.Time, t *target.Target, status int) {
	if o == nil {
		return
	}
	run := t.Outlier.ObserveResponse(now, status)
	if o.Consecutive5xx > 0 && run.Count >= o.Consecutive5xx {
		o.eject(now, t, fmt.Sprintf("%d consecutive 5xx responses in %s", run.Count, now.Sub(run.Since).Round(time.Millisecond)))
	}
}

// CountsAsConnectionError reports whether a failed attempt counts toward
// ejection: a DNS, connect or TLS failure, or a fresh connection closed
// before any response byte. Failures on reused connections (the
// keep-alive race), client aborts and response timeouts do not.
func CountsAsConnectionError(c failure.Class) bool {
	if c.Reused || !c.TargetFault() || c.Type == failure.HTTPResponseTimeout {
		return false
	}
	return c.Type == failure.ConnectionTerminated || c.BeforeRequest()
}

// ObserveFailure records a failed attempt to t.
func (o *Outlier) ObserveFailure(now time.Time, t *target.Target, c failure.Class) {
	if o == nil || o.ConsecutiveConnectionErrors == 0 || !CountsAsConnectionError(c) {
		return
	}
	run := t.Outlier.ObserveConnError(now, c.Type)
	if run.Count >= o.ConsecutiveConnectionErrors {
		o.eject(now, t, fmt.Sprintf("%d consecutive %s in %s on fresh connections", run.Count, run.Type, now.Sub(run.Since).Round(time.Millisecond)))
	}
}

func (o *Outlier) eject(now time.Time, t *target.Target, evidence string) {
	if t.Outlier.Ejected() || t.Draining() {
		return
	}
	registered, ejected := 0, 0
	for _, x := range o.Group.Targets() {
		if x.Health().Registered() || x.Outlier.Ejected() {
			registered++
		}
		if x.Outlier.Ejected() {
			ejected++
		}
	}
	if (ejected+1)*100 > o.MaxEjectionPercent*registered {
		return // max_ejection_percent: keep the target; retries cover it
	}
	until := t.Outlier.Eject(now, o.BaseEjectionTime, o.MaxEjectionTime, evidence)
	desc := fmt.Sprintf("%s; ejected until %s", evidence, until.UTC().Format(time.RFC3339))
	prev := t.SetHealth(target.Health{State: target.StateUnhealthy, Reason: target.ReasonOutlierEjected, Description: desc, Since: now})
	o.Group.Refresh()
	if o.OnEject != nil {
		o.OnEject(t)
	}
	if o.Logger != nil {
		o.Logger.LogAttrs(context.Background(), slog.LevelWarn, "target health changed",
			slog.String("target_group", t.Group), slog.String("target", t.Address),
			slog.String("from", prev.State.String()), slog.String("to", target.StateUnhealthy.String()),
			slog.String("reason", target.ReasonOutlierEjected), slog.String("description", desc),
			slog.Time("retry_at", until))
	}
}

// Sweep ends the ejections that are over at now. A returning target goes
// back to what its health checks say: unhealthy if the last check failed,
// healthy otherwise, or unavailable when checks are off.
func (o *Outlier) Sweep(now time.Time) {
	if o == nil {
		return
	}
	changed := false
	for _, t := range o.Group.Targets() {
		if !t.Outlier.Expired(now) {
			continue
		}
		cur := t.Health()
		if cur.Reason != target.ReasonOutlierEjected {
			continue
		}
		next := target.Health{State: target.StateHealthy, Since: now}
		switch last := t.Stats.LastCheck(); {
		case !o.HealthChecks:
			next = Initial(false, now)
		case last.Done && !last.OK:
			next = target.Health{State: target.StateUnhealthy, Reason: target.ReasonFailedHealthChecks, Description: last.Detail, Since: now}
		}
		t.SetHealth(next)
		changed = true
		if o.Logger != nil {
			o.Logger.LogAttrs(context.Background(), slog.LevelInfo, "target health changed",
				slog.String("target_group", t.Group), slog.String("target", t.Address),
				slog.String("from", cur.State.String()), slog.String("to", next.State.String()),
				slog.String("reason", next.Reason), slog.String("description", "outlier ejection ended"))
		}
	}
	if changed {
		o.Group.Refresh()
	}
}
