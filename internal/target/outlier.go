package target

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/failure"
)

// ReasonOutlierEjected is Fulcrum's reason code for a target that outlier
// detection ejected from rotation. ALB has no equivalent;
// the name follows ALB's Target.* convention because the target's own
// traffic is the evidence.
const ReasonOutlierEjected = "Target.OutlierEjected"

// OutlierState is a target's outlier-detection state: its runs of consecutive
// connection errors and 5xx responses from real traffic, and its
// ejections (Envoy's outlier detection, HAProxy's `observe layer4`). The
// success path costs one atomic load per counter; the rest is taken under
// a mutex on the error path only.
type OutlierState struct {
	connErrors atomic.Int32
	status5xx  atomic.Int32
	ejected    atomic.Bool

	mu        sync.Mutex
	runStart  time.Time // first error of the current run
	runType   failure.ErrorType
	ejections int
	until     time.Time
	evidence  string
}

// Run is a run of consecutive failures: how many, of which latest type,
// and since when.
type Run struct {
	Count int
	Type  failure.ErrorType
	Since time.Time
}

// ObserveResponse records a response header with the given status. A 5xx
// extends the 5xx run and returns it; anything else ends it. Every
// response ends the connection-error run.
func (p *OutlierState) ObserveResponse(now time.Time, status int) Run {
	if p.connErrors.Load() != 0 {
		p.connErrors.Store(0)
	}
	if status < 500 || status > 599 {
		if p.status5xx.Load() != 0 {
			p.status5xx.Store(0)
		}
		return Run{}
	}
	n := p.status5xx.Add(1)
	p.mu.Lock()
	if n == 1 {
		p.runStart = now
	}
	since := p.runStart
	p.mu.Unlock()
	return Run{Count: int(n), Since: since}
}

// ObserveConnError records a connection-level failure of type et and
// returns the run it extends.
func (p *OutlierState) ObserveConnError(now time.Time, et failure.ErrorType) Run {
	n := p.connErrors.Add(1)
	p.mu.Lock()
	if n == 1 {
		p.runStart = now
	}
	p.runType = et
	r := Run{Count: int(n), Type: et, Since: p.runStart}
	p.mu.Unlock()
	return r
}

// Eject records an ejection lasting base times the number of ejections so
// far (so repeated ejections grow), capped at maxTime. It returns when the
// target will be retried.
func (p *OutlierState) Eject(now time.Time, base, maxTime time.Duration, evidence string) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ejections++
	d := min(base*time.Duration(p.ejections), max(maxTime, base))
	p.until = now.Add(d)
	p.evidence = evidence
	p.connErrors.Store(0)
	p.status5xx.Store(0)
	p.ejected.Store(true)
	return p.until
}

// Ejected reports whether the target is ejected now.
func (p *OutlierState) Ejected() bool { return p.ejected.Load() }

// Expired reports whether an ejection is over at now; it clears the
// ejection when it is.
func (p *OutlierState) Expired(now time.Time) bool {
	if !p.ejected.Load() {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if now.Before(p.until) {
		return false
	}
	p.ejected.Store(false)
	return true
}

// OutlierSnapshot is a copy of the outlier state for the admin API.
type OutlierSnapshot struct {
	Ejected           bool
	Ejections         int
	RetryAt           time.Time
	Evidence          string
	ConsecutiveErrors int
	Consecutive5xx    int
}

// Snapshot returns a copy of the state.
func (p *OutlierState) Snapshot() OutlierSnapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := OutlierSnapshot{Ejected: p.ejected.Load(), Ejections: p.ejections, Evidence: p.evidence,
		ConsecutiveErrors: int(p.connErrors.Load()), Consecutive5xx: int(p.status5xx.Load())}
	if s.Ejected {
		s.RetryAt = p.until
	}
	return s
}
