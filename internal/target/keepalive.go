package target

import (
	"sync"
	"sync/atomic"
	"time"
)

// Keep-alive learning bounds.
const (
	// keepAliveMargin is the share of the learned idle-close time that
	// pooled connections may idle: 3/4 leaves room for the target's timer
	// granularity and the request's trip.
	keepAliveMarginNum, keepAliveMarginDen = 3, 4
	// keepAliveForget is how long a learned value lasts without a new
	// observation, so a target whose timeout grew is relearned.
	keepAliveForget = 10 * time.Minute
)

// KeepAlive learns how long a target keeps an idle connection open, so
// Fulcrum stops reusing a connection before the target closes it (the
// keep-alive race; "HTTP 502: Bad gateway" in
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-troubleshooting.html). It learns from the target's
// "Keep-Alive: timeout=N" response header, which is exact, and from
// pooled connections found closed while idle, each an upper bound. An
// observed close shorter than the longest idle time a connection was
// reused after cannot be an idle timeout (a restart, say) and is ignored.
type KeepAlive struct {
	// limit is the learned idle-close time in nanoseconds; 0 is unknown.
	limit atomic.Int64
	// reusedMax is the longest idle, in nanoseconds, a reuse succeeded after.
	reusedMax atomic.Int64

	// at is when the last observation came, in Unix nanoseconds.
	at atomic.Int64

	mu     sync.Mutex
	source string
	n      int
}

// ObserveHeader records a Keep-Alive timeout the target announced.
func (k *KeepAlive) ObserveHeader(now time.Time, d time.Duration) {
	if d <= 0 || time.Duration(k.limit.Load()) == d {
		return
	}
	k.mu.Lock()
	k.limit.Store(int64(d))
	k.source = "keep-alive header"
	k.at.Store(now.UnixNano())
	k.n++
	k.mu.Unlock()
}

// ObserveClosed records a pooled connection the target closed after it
// idled for idle.
func (k *KeepAlive) ObserveClosed(now time.Time, idle time.Duration) {
	if idle < time.Duration(k.reusedMax.Load()) {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.n++
	k.at.Store(now.UnixNano())
	if cur := time.Duration(k.limit.Load()); cur == 0 || idle < cur || k.source != "observed idle closes" {
		if k.source == "keep-alive header" && cur > 0 && idle >= cur {
			return // the header is exact; a later close does not contradict it
		}
		k.limit.Store(int64(idle))
		k.source = "observed idle closes"
	}
}

// ObserveReused records that a connection idle for idle was reused and
// answered.
func (k *KeepAlive) ObserveReused(idle time.Duration) {
	if int64(idle) > k.reusedMax.Load() {
		k.reusedMax.Store(int64(idle))
	}
}

// PoolTimeout returns how long a pooled connection to the target may idle
// before Fulcrum drops it instead of reusing it: configured, or 3/4 of
// the learned idle-close time when that is shorter and override is
// false. A learned value expires after 10 minutes without a new
// observation.
func (k *KeepAlive) PoolTimeout(now time.Time, configured time.Duration, override bool) time.Duration {
	l := time.Duration(k.limit.Load())
	if override || l == 0 {
		return configured
	}
	if now.UnixNano()-k.at.Load() > int64(keepAliveForget) {
		k.limit.Store(0)
		k.reusedMax.Store(0)
		return configured
	}
	return min(configured, l*keepAliveMarginNum/keepAliveMarginDen)
}

// KeepAliveSnapshot is what was learned, for the admin API.
type KeepAliveSnapshot struct {
	// IdleClose is the learned idle-close time; 0 when unknown.
	IdleClose time.Duration
	// Source is "keep-alive header" or "observed idle closes".
	Source string
	// Observations counts the observations that fed IdleClose.
	Observations int
	// LongestReuse is the longest idle time a connection was reused after.
	LongestReuse time.Duration
	// PoolLimit is how long pooled connections may idle given what was
	// learned (3/4 of IdleClose), before the configured cap; 0 when
	// nothing was learned.
	PoolLimit time.Duration
}

// Snapshot returns what was learned.
func (k *KeepAlive) Snapshot() KeepAliveSnapshot {
	k.mu.Lock()
	defer k.mu.Unlock()
	l := time.Duration(k.limit.Load())
	return KeepAliveSnapshot{IdleClose: l, Source: k.source, Observations: k.n,
		LongestReuse: time.Duration(k.reusedMax.Load()), PoolLimit: l * keepAliveMarginNum / keepAliveMarginDen}
}
