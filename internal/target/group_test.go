package target

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/failure"
)

func TestGroupAddRemove(t *testing.T) {
	now := time.Unix(1000, 0)
	a := New("web", "a:80", 1, Health{State: StateHealthy, Since: now})
	g := NewGroup("web", []*Target{a})
	before := g.Targets()
	b := New("web", "b:80", 2, Health{State: StateInitial, Since: now})
	if err := g.Add(b); err != nil {
		t.Fatal(err)
	}
	if err := g.Add(New("web", "b:80", 1, Health{})); !errors.Is(err, ErrTargetExists) {
		t.Errorf("adding b twice: %v", err)
	}
	if len(before) != 1 || len(g.Targets()) != 2 {
		t.Errorf("an old snapshot must not change: before %d, now %d", len(before), len(g.Targets()))
	}
	select {
	case <-g.Changed():
	default:
		t.Error("Add did not signal Changed")
	}
	// b is initial while a is healthy: only a takes traffic.
	if rs := g.Routes(); len(rs.Targets) != 1 || rs.Targets[0] != a {
		t.Errorf("routes after adding an initial target: %v", rs.Targets)
	}
	if !g.Remove(a) || g.Remove(a) {
		t.Error("Remove should succeed once")
	}
	if rs := g.Routes(); !rs.FailOpen || len(rs.Targets) != 1 || rs.Targets[0] != b {
		t.Errorf("after removing the healthy target the group fails open to b: %+v", rs)
	}
}

func TestDrainingAndCut(t *testing.T) {
	now := time.Unix(1000, 0)
	a := New("web", "a:80", 1, Health{State: StateHealthy, Since: now})
	g := NewGroup("web", []*Target{a})
	a.Acquire()
	if !a.StartDraining(now, "Target deregistration is in progress") || a.StartDraining(now, "again") {
		t.Fatal("StartDraining should succeed once")
	}
	g.Refresh()
	if rs := g.Routes(); len(rs.Targets) != 0 || rs.FailOpen {
		t.Errorf("a draining target takes no request, even failing open: %+v", rs)
	}
	// Health checks cannot bring a draining target back.
	a.SetHealth(Health{State: StateHealthy, Since: now})
	if h := a.Health(); h.State != StateDraining || h.Reason != ReasonDeregistrationInProgress {
		t.Errorf("health = %+v", h)
	}
	select {
	case <-a.Idle():
		t.Fatal("idle with a request in flight")
	default:
	}
	a.Release()
	select {
	case <-a.Idle():
	default:
		t.Fatal("not idle after the last request")
	}
	a.Cut(now, failure.ErrDeregistered)
	if !errors.Is(cutCause(a), failure.ErrDeregistered) || a.Health().State != StateUnused {
		t.Errorf("after Cut: cause %v, state %s", cutCause(a), a.Health().State)
	}
}

// cutCause waits for the target's cut and returns its cause.
func cutCause(t *Target) error {
	<-t.CutContext().Done()
	return context.Cause(t.CutContext())
}

func TestTryAcquireHonoursMaxConnections(t *testing.T) {
	a := New("web", "a:80", 1, Health{State: StateHealthy})
	a.SetMaxConnections(2)
	first, second, third := a.TryAcquire(), a.TryAcquire(), a.TryAcquire()
	if !first || !second || third {
		t.Fatal("want two slots and no third")
	}
	a.Release()
	if !a.TryAcquire() {
		t.Error("a released slot should be free")
	}
	a.SetMaxConnections(0)
	for range 10 {
		if !a.TryAcquire() {
			t.Fatal("0 means unlimited")
		}
	}
}

func TestSlowStartRampsLinearly(t *testing.T) {
	t0 := time.Unix(1000, 0)
	a := New("web", "a:80", 1, Health{State: StateHealthy, Since: t0})
	b := New("web", "b:80", 1, Health{State: StateInitial, Since: t0})
	g := NewGroup("web", []*Target{a, b})
	g.SetSlowStart(100 * time.Second)
	g.RefreshAt(t0)
	// b becomes healthy while a carries the traffic: b enters slow start.
	t1 := t0.Add(time.Minute)
	b.SetHealth(Health{State: StateHealthy, Since: t1})
	g.RefreshAt(t1)
	rs := g.Routes()
	if !rs.SlowStart || !rs.Weighted || b.SlowStartSince() != t1 || !a.SlowStartSince().IsZero() {
		t.Fatalf("b should be in slow start: %+v, since %v", rs, b.SlowStartSince())
	}
	share := func(now time.Time) int {
		g.RefreshAt(now)
		rs := g.Routes()
		for i, x := range rs.Targets {
			if x == b {
				w := rs.CumWeight[i]
				if i > 0 {
					w -= rs.CumWeight[i-1]
				}
				return w
			}
		}
		return -1
	}
	if w := share(t1); w != 1 {
		t.Errorf("weight at entry = %d, want the floor 1", w)
	}
	if w := share(t1.Add(25 * time.Second)); w != 25 {
		t.Errorf("weight a quarter in = %d, want 25 of 100", w)
	}
	if w := share(t1.Add(100 * time.Second)); w != 100 || g.Routes().SlowStart {
		t.Errorf("weight at the end = %d (slow start %v), want full 100 and out", w, g.Routes().SlowStart)
	}
	// A lone target that becomes healthy does not slow start: nothing
	// else would carry the traffic.
	c := New("web2", "c:80", 1, Health{State: StateInitial, Since: t0})
	g2 := NewGroup("web2", []*Target{c})
	g2.SetSlowStart(100 * time.Second)
	c.SetHealth(Health{State: StateHealthy, Since: t1})
	g2.RefreshAt(t1)
	if !c.SlowStartSince().IsZero() {
		t.Error("the only healthy target entered slow start")
	}
}

func TestKeepAliveLearning(t *testing.T) {
	now := time.Unix(1000, 0)
	var k KeepAlive
	if got := k.PoolTimeout(now, 60*time.Second, false); got != 60*time.Second {
		t.Fatalf("nothing learned: %v", got)
	}
	k.ObserveReused(500 * time.Millisecond)
	k.ObserveClosed(now, 300*time.Millisecond) // below a proven reuse: not an idle timeout
	if got := k.Snapshot().IdleClose; got != 0 {
		t.Errorf("a close shorter than a proven reuse was learned: %v", got)
	}
	k.ObserveClosed(now, 1100*time.Millisecond)
	k.ObserveClosed(now, 1020*time.Millisecond)
	s := k.Snapshot()
	if s.IdleClose != 1020*time.Millisecond || s.Source != "observed idle closes" || s.Observations != 2 {
		t.Errorf("snapshot = %+v", s)
	}
	if got := k.PoolTimeout(now, 60*time.Second, false); got != 765*time.Millisecond {
		t.Errorf("pool timeout = %v, want 3/4 of 1.02s", got)
	}
	if got := k.PoolTimeout(now, 60*time.Second, true); got != 60*time.Second {
		t.Errorf("an explicit keepalive_idle_timeout must win: %v", got)
	}
	// The header is exact and replaces the estimate.
	k.ObserveHeader(now, 5*time.Second)
	if got := k.PoolTimeout(now, 60*time.Second, false); got != 3750*time.Millisecond {
		t.Errorf("after Keep-Alive: timeout=5: %v", got)
	}
	// Learned values are forgotten after ten quiet minutes.
	if got := k.PoolTimeout(now.Add(11*time.Minute), 60*time.Second, false); got != 60*time.Second {
		t.Errorf("after 11 quiet minutes: %v", got)
	}
}
