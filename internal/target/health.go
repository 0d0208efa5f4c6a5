// Package target holds targets: their identity, their health state with
// ALB's reason codes, their in-flight counts, and how to connect to them.
// It also holds a target group's set of routable targets, recomputed on
// every health change so the request path only loads a pointer.
package target

import "time"

// State is a target health state (ALB TargetHealthStateEnum,
// https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetHealth.html).
type State uint8

// The target health states.
const (
	// StateInitial: registered, initial health checks in progress.
	StateInitial State = iota
	// StateHealthy: passed healthy_threshold consecutive checks.
	StateHealthy
	// StateUnhealthy: failed unhealthy_threshold consecutive checks.
	StateUnhealthy
	// StateUnavailable: health checks are disabled; the target gets traffic.
	StateUnavailable
	// StateDraining: deregistering; no new requests.
	StateDraining
	// StateUnused: not registered, or the deregistration delay expired.
	StateUnused
)

var stateNames = [...]string{"initial", "healthy", "unhealthy", "unavailable", "draining", "unused"}

// String returns ALB's name for the state.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "unknown"
}

// ALB reason codes (TargetHealth.Reason,
// https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetHealth.html). Codes starting with Elb come from
// the load balancer side, Target codes from the target side.
const (
	ReasonRegistrationInProgress   = "Elb.RegistrationInProgress"
	ReasonInitialHealthChecking    = "Elb.InitialHealthChecking"
	ReasonInternalError            = "Elb.InternalError"
	ReasonResponseCodeMismatch     = "Target.ResponseCodeMismatch"
	ReasonTimeout                  = "Target.Timeout"
	ReasonFailedHealthChecks       = "Target.FailedHealthChecks"
	ReasonHealthCheckDisabled      = "Target.HealthCheckDisabled"
	ReasonDeregistrationInProgress = "Target.DeregistrationInProgress"
	ReasonNotRegistered            = "Target.NotRegistered"
)

// Health is a target's health at one moment: its state, ALB reason code
// (empty when healthy), a description that carries the evidence, and when
// the state was entered.
type Health struct {
	State       State
	Reason      string
	Description string
	Since       time.Time
}

// Routable reports whether the state takes traffic when the group is not
// failing open: healthy, or unavailable (never checked).
func (h Health) Routable() bool {
	return h.State == StateHealthy || h.State == StateUnavailable
}

// Registered reports whether the target counts as registered for fail-open
// and for the 503 rule: everything but draining and unused.
func (h Health) Registered() bool {
	return h.State != StateDraining && h.State != StateUnused
}
