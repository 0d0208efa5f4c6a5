package target

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
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
// state, weight, in-flight count and stats are safe for concurrent use;
// its group and address are immutable.
type Target struct {
	// The fields a proxied request reads or writes come first, together,
	// and Stats (8 KiB of history) last: with 1,000 targets behind round
	// robin each request meets a cold target, and the lines it touches
	// are then neighbours instead of scattered over 9 KiB.
	weight   atomic.Int32
	admin    atomic.Uint32
	maxConns atomic.Int64
	inFlight atomic.Int64
	health   atomic.Pointer[Health]
	draining atomic.Bool
	source   atomic.Uint32
	attached atomic.Pointer[Attachment] // attach.go
	// slowStart is the Unix nanosecond time slow start began, 0 when the
	// target is not in slow start; decided is the Since of the healthy
	// episode slow start was last decided for.
	slowStart, decided atomic.Int64

	// Group is the target group's name.
	Group string
	// Address is host:port as configured.
	Address string
	// ResponseTimes is the histogram of the target's response times
	// (fulcrum_target_response_time_seconds).
	ResponseTimes ResponseTimes
	// KeepAlive is what Fulcrum learned about the target's keep-alive
	// idle-close time.
	KeepAlive KeepAlive
	// Outlier is the outlier-detection state fed by real traffic (health.Outlier
	// ejects on it).
	Outlier OutlierState
	// Conns counts pooled connections closed instead of reused.
	Conns ConnCloses

	idleOnce  sync.Once
	idle      chan struct{}
	cut       context.Context
	cutCancel context.CancelCauseFunc

	// Stats are the target's traffic and health-check counters.
	Stats Stats
}

// New returns a target in the given initial health. weight is clamped to
// at least 1.
func New(group, address string, weight int, h Health) *Target {
	t := &Target{Group: group, Address: address, idle: make(chan struct{})}
	t.weight.Store(int32(max(weight, 1)))
	t.health.Store(&h)
	t.Stats.lastChange = h.Since
	t.cut, t.cutCancel = context.WithCancelCause(context.Background())
	return t
}

// Weight returns the relative share for weighted algorithms, >= 1.
func (t *Target) Weight() int { return int(t.weight.Load()) }

// SetWeight changes the weight (a reload); the caller refreshes the group.
func (t *Target) SetWeight(w int) { t.weight.Store(int32(max(w, 1))) }

// MaxConnections returns the most requests the target may have in flight
// at once (HAProxy's server maxconn); 0 means unlimited.
func (t *Target) MaxConnections() int64 { return t.maxConns.Load() }

// SetMaxConnections sets the limit; 0 means unlimited.
func (t *Target) SetMaxConnections(n int) { t.maxConns.Store(int64(max(n, 0))) }

// Runtime reports whether the target was registered at runtime (through
// the admin API or a discovery provider) rather than by the configuration
// file. Runtime targets survive a reload.
func (t *Target) Runtime() bool { return t.Source() != SourceFile }

// SetRuntime marks the target as registered through the admin API (true)
// or by the configuration file (false).
func (t *Target) SetRuntime(v bool) {
	if v {
		t.SetSource(SourceAPI)
	} else {
		t.SetSource(SourceFile)
	}
}

// Source returns who registered the target: the file, the admin API or a
// discovery provider.
func (t *Target) Source() Source { return Source(t.source.Load()) }

// SetSource records who registered the target.
func (t *Target) SetSource(s Source) { t.source.Store(uint32(s)) }

// Health returns the current health.
func (t *Target) Health() Health { return *t.health.Load() }

// SetHealth stores h and returns the previous health. A change of state is
// recorded in the target's transition history. The caller decides whether
// the change is worth logging. A draining target keeps draining: only
// Unused replaces it.
func (t *Target) SetHealth(h Health) Health {
	for {
		cur := t.health.Load()
		if (cur.State == StateDraining && h.State != StateUnused && h.State != StateDraining) || cur.State == StateUnused {
			return *cur
		}
		if t.health.CompareAndSwap(cur, &h) {
			if cur.State != h.State {
				t.Stats.observeTransition(*cur, h)
			}
			return *cur
		}
	}
}

// AdminState returns the operator's routing override.
func (t *Target) AdminState() AdminState { return AdminState(t.admin.Load()) }

// SetAdminState sets the operator's routing override. The caller refreshes
// the group's route set.
func (t *Target) SetAdminState(a AdminState) { t.admin.Store(uint32(a)) }

// Acquire counts one more request in flight to the target.
func (t *Target) Acquire() { t.inFlight.Add(1) }

// TryAcquire counts one more request in flight unless the target is at
// its MaxConnections; it reports whether it did.
func (t *Target) TryAcquire() bool {
	limit := t.maxConns.Load()
	if limit <= 0 {
		t.inFlight.Add(1)
		return true
	}
	for {
		n := t.inFlight.Load()
		if n >= limit {
			return false
		}
		if t.inFlight.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Release counts one request in flight less. The last request of a
// draining target closes its Idle channel.
func (t *Target) Release() {
	if t.inFlight.Add(-1) == 0 && t.draining.Load() {
		t.idleOnce.Do(func() { close(t.idle) })
	}
}

// InFlight returns the requests in flight to the target.
func (t *Target) InFlight() int64 { return t.inFlight.Load() }

// StartDraining moves the target to draining with ALB's reason
// Target.DeregistrationInProgress (ALB deregistration delay,
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-target-groups.html#deregistration-delay). It reports false
// when the target was already draining.
func (t *Target) StartDraining(now time.Time, why string) bool {
	if !t.draining.CompareAndSwap(false, true) {
		return false
	}
	t.SetHealth(Health{State: StateDraining, Reason: ReasonDeregistrationInProgress, Description: why, Since: now})
	t.slowStart.Store(0)
	if t.inFlight.Load() == 0 {
		t.idleOnce.Do(func() { close(t.idle) })
	}
	return true
}

// Draining reports whether the target is deregistering.
func (t *Target) Draining() bool { return t.draining.Load() }

// Idle is closed once the target is draining and has no request in flight.
func (t *Target) Idle() <-chan struct{} { return t.idle }

// Cut ends every attempt still in flight to the target with cause (for
// example failure.ErrDeregistered when the deregistration delay expires),
// and marks the target unused.
func (t *Target) Cut(now time.Time, cause error) {
	t.cutCancel(cause)
	t.SetHealth(Health{State: StateUnused, Reason: ReasonNotRegistered, Description: "Target is not registered to the target group", Since: now})
}

// CutContext is cancelled, with the cause given to Cut, when the target's
// in-flight attempts must end.
func (t *Target) CutContext() context.Context { return t.cut }
