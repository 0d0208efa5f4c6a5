package target

import (
	"sync/atomic"
)

// Target is one registered target of a target group. Its health and
// in-flight count are safe for concurrent use; its identity is immutable.
type Target struct {
	// Group is the target group's name.
	Group string
	// Address is host:port as configured.
	Address string
	// Weight is the relative share for weighted algorithms, >= 1.
	Weight int

	inFlight atomic.Int64
	health   atomic.Pointer[Health]
}

// New returns a target in the given initial health.
func New(group, address string, weight int, h Health) *Target {
	t := &Target{Group: group, Address: address, Weight: max(weight, 1)}
	t.health.Store(&h)
	return t
}

// Health returns the current health.
func (t *Target) Health() Health { return *t.health.Load() }

// SetHealth stores h and returns the previous health. The caller decides
// whether the change is worth logging.
func (t *Target) SetHealth(h Health) Health {
	return *t.health.Swap(&h)
}

// Acquire counts one more request in flight to the target.
func (t *Target) Acquire() { t.inFlight.Add(1) }

// Release counts one request in flight less.
func (t *Target) Release() { t.inFlight.Add(-1) }

// InFlight returns the requests in flight to the target.
func (t *Target) InFlight() int64 { return t.inFlight.Load() }
