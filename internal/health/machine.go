// Package health runs active health checks and the target health state
// machine, following ALB (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html): each check uses its own new
// connection, healthy_threshold consecutive passes make a target healthy,
// unhealthy_threshold consecutive failures make it unhealthy, and every
// state carries ALB's reason code and a description with the evidence.
package health

import (
	"time"

	"github.com/fulcrumlb/fulcrum/internal/target"
)

// Machine is one target's health state machine. It is pure: it turns check
// results into health, and its caller stores and logs the changes.
type Machine struct {
	// HealthyThreshold consecutive passes make a target healthy.
	HealthyThreshold int
	// UnhealthyThreshold consecutive failures make it unhealthy.
	UnhealthyThreshold int

	passes, fails int
}

// Observe applies one check result at now to the current health cur. It
// returns the next health and whether the state changed. While a target
// stays unhealthy, the reason and description follow the latest failure so
// the evidence stays current; Since does not move.
func (m *Machine) Observe(cur target.Health, r Result, now time.Time) (target.Health, bool) {
	if cur.State == target.StateDraining || cur.State == target.StateUnused || cur.State == target.StateUnavailable {
		return cur, false
	}
	if cur.Reason == target.ReasonOutlierEjected {
		// Outlier detection took the target out; checks keep counting, and
		// the ejection's end decides what comes next (Outlier.Sweep).
		if r.OK {
			m.fails, m.passes = 0, m.passes+1
		} else {
			m.passes, m.fails = 0, m.fails+1
		}
		return cur, false
	}
	if r.OK {
		m.fails = 0
		m.passes++
		if cur.State != target.StateHealthy && m.passes >= m.HealthyThreshold {
			return target.Health{State: target.StateHealthy, Since: now}, true
		}
		return cur, false
	}
	m.passes = 0
	m.fails++
	switch {
	case cur.State == target.StateUnhealthy:
		cur.Reason, cur.Description = r.Reason, r.Description
		return cur, false
	case m.fails >= m.UnhealthyThreshold:
		return target.Health{State: target.StateUnhealthy, Reason: r.Reason, Description: r.Description, Since: now}, true
	}
	return cur, false
}

// Initial returns the health of a newly registered target: initial when
// checks are enabled, unavailable when they are disabled.
func Initial(enabled bool, now time.Time) target.Health {
	if !enabled {
		return target.Health{State: target.StateUnavailable, Reason: target.ReasonHealthCheckDisabled,
			Description: "Health checks are disabled for the target group", Since: now}
	}
	return target.Health{State: target.StateInitial, Reason: target.ReasonInitialHealthChecking,
		Description: "Initial health checks in progress", Since: now}
}
