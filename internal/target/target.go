package target

import (
	"sync/atomic"
)

// AdminState is an operator's override of a target's routing, set through
// the runtime API (HAProxy's `set server ... state`). It does not change
// the health state, which checks keep tracking.
type AdminState uint32

// The admin states.
const (
	// AdminReady: routing follows health.
	AdminReady AdminState = iota
	// AdminDrain: no new requests; in-flight ones finish (HAProxy DRAIN).
	AdminDrain
	// AdminMaint: no requests at all, even when the group fails open
	// (HAProxy MAINT).
	AdminMaint
)

var adminNames = [...]string{"ready", "drain", "maint"}

// String returns ready, drain or maint.
func (a AdminState) String() string {
	if int(a) < len(adminNames) {
		return adminNames[a]
	}
	return "unknown"
}

// ParseAdminState parses ready, drain or maint.
func ParseAdminState(s string) (AdminState, bool) {
	for i, n := range adminNames {
		if n == s {
			return AdminState(i), true
		}
	}
	return AdminReady, false
}

// Target is one registered target of a target group. Its health, admin
// state, in-flight count and stats are safe for concurrent use; its
// identity is immutable.
type Target struct {
	// Group is the target group's name.
	Group string
	// Address is host:port as configured.
	Address string
	// Weight is the relative share for weighted algorithms, >= 1.
	Weight int
	// Stats are the target's traffic and health-check counters.
	Stats Stats

	inFlight atomic.Int64
	health   atomic.Pointer[Health]
	admin    atomic.Uint32
}

// New returns a target in the given initial health.
func New(group, address string, weight int, h Health) *Target {
	t := &Target{Group: group, Address: address, Weight: max(weight, 1)}
	t.health.Store(&h)
	t.Stats.lastChange = h.Since
	return t
}

// Health returns the current health.
func (t *Target) Health() Health { return *t.health.Load() }

// SetHealth stores h and returns the previous health. A change of state is
// recorded in the target's transition history. The caller decides whether
// the change is worth logging.
func (t *Target) SetHealth(h Health) Health {
	prev := *t.health.Swap(&h)
	if prev.State != h.State {
		t.Stats.observeTransition(prev, h)
	}
	return prev
}

// AdminState returns the operator's routing override.
func (t *Target) AdminState() AdminState { return AdminState(t.admin.Load()) }

// SetAdminState sets the operator's routing override. The caller refreshes
// the group's route set.
func (t *Target) SetAdminState(a AdminState) { t.admin.Store(uint32(a)) }

// Acquire counts one more request in flight to the target.
func (t *Target) Acquire() { t.inFlight.Add(1) }

// Release counts one request in flight less.
func (t *Target) Release() { t.inFlight.Add(-1) }

// InFlight returns the requests in flight to the target.
func (t *Target) InFlight() int64 { return t.inFlight.Load() }
