package target

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fulcrumlb/fulcrum/internal/failure"
)

func TestStatsWindows(t *testing.T) {
	var s Stats
	t0 := time.Date(2026, 11, 22, 10, 0, 30, 0, time.UTC)
	refused := failure.Class{Type: failure.ConnectionRefused, Phase: failure.PhaseConnect}
	terminated := failure.Class{Type: failure.ConnectionTerminated, Phase: failure.PhaseAwaitHeaders, Reused: true}
	s.ObserveError(t0.Add(-10*time.Minute), refused, "old")
	s.ObserveError(t0.Add(-3*time.Minute), refused, "mid")
	s.ObserveError(t0, refused, "now")
	s.ObserveError(t0, terminated, "reused conn closed")
	s.ObserveError(t0, failure.Class{Type: failure.ClientClosed}, "client left")
	s.ObserveError(t0.Add(-20*time.Minute), refused, "too old")
	s.ObserveResponse(t0, 200, 2*time.Millisecond)
	s.ObserveResponse(t0, 503, 4*time.Millisecond)
	// A window's oldest minute counts by the share inside the window: at
	// 10:15:30 the 15-minute window holds half of 10:00, where the two
	// responses were.
	if w := s.Snapshot(t0.Add(15 * time.Minute)).Responses; w != (Window{0, 0, 1}) {
		t.Errorf("15 minutes on, responses %+v, want half of 2 in the 15m window", w)
	}

	snap := s.Snapshot(t0)
	want := map[failure.ErrorType]Window{
		failure.ConnectionRefused:    {M1: 1, M5: 2, M15: 3},
		failure.ConnectionTerminated: {M1: 1, M5: 1, M15: 1},
	}
	if d := cmp.Diff(want, snap.Errors); d != "" {
		t.Errorf("errors (-want +got):\n%s", d)
	}
	if snap.ConnErrors != 4 || snap.RespErrors != 1 {
		t.Errorf("econ %d eresp %d, want 4 and 1", snap.ConnErrors, snap.RespErrors)
	}
	if snap.LastError.Type != failure.ConnectionTerminated || !snap.LastError.Reused {
		t.Errorf("last error %+v", snap.LastError)
	}
	if snap.Responses != (Window{1 + 1, 2, 2}) || snap.Status5xx != (Window{1, 1, 1}) {
		t.Errorf("responses %+v 5xx %+v", snap.Responses, snap.Status5xx)
	}
	if snap.HRSP != [6]int64{0, 1, 0, 0, 1, 0} {
		t.Errorf("hrsp %v", snap.HRSP)
	}
	if snap.P50 != 2*time.Millisecond || snap.P99 != 2*time.Millisecond {
		t.Errorf("p50 %v p99 %v", snap.P50, snap.P99)
	}
	// Sixteen minutes on, everything has left the window.
	if later := s.Snapshot(t0.Add(16 * time.Minute)); later.Errors != nil || later.Responses != (Window{}) {
		t.Errorf("stale buckets counted: %+v %+v", later.Errors, later.Responses)
	}
}

func TestStatsTransitionsAndDowntime(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	tg := New("web", "10.0.0.1:80", 1, Health{State: StateInitial, Since: t0})
	tg.SetHealth(Health{State: StateHealthy, Since: t0.Add(time.Second)})
	tg.SetHealth(Health{State: StateUnhealthy, Reason: ReasonFailedHealthChecks, Description: "connection refused", Since: t0.Add(10 * time.Second)})
	// A new description in the same state is not a transition.
	tg.SetHealth(Health{State: StateUnhealthy, Reason: ReasonTimeout, Since: t0.Add(10 * time.Second)})
	tg.SetHealth(Health{State: StateHealthy, Since: t0.Add(40 * time.Second)})
	tg.SetHealth(Health{State: StateUnhealthy, Reason: ReasonTimeout, Since: t0.Add(50 * time.Second)})

	snap := tg.Stats.Snapshot(t0.Add(60 * time.Second))
	var got []string
	for _, tr := range snap.Transitions {
		got = append(got, tr.From.String()+">"+tr.To.String())
	}
	want := []string{"healthy>unhealthy", "unhealthy>healthy", "healthy>unhealthy", "initial>healthy"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("transitions, newest first (-want +got):\n%s", d)
	}
	if snap.Transitions[2].Description != "connection refused" {
		t.Errorf("evidence lost: %+v", snap.Transitions[2])
	}
	if snap.CheckDowns != 2 || snap.Downtime != 40*time.Second {
		t.Errorf("chkdown %d downtime %v, want 2 and 40s", snap.CheckDowns, snap.Downtime)
	}
	for i := range 30 {
		st := StateHealthy
		if i%2 == 0 {
			st = StateUnhealthy
		}
		tg.SetHealth(Health{State: st, Since: t0.Add(time.Duration(100+i) * time.Second)})
	}
	trs := tg.Stats.Snapshot(t0.Add(time.Hour)).Transitions
	if n := len(trs); n != MaxTransitions {
		t.Fatalf("%d transitions kept, want %d", n, MaxTransitions)
	}
	// The ring keeps the newest, newest first: i = 29 down to i = 10 (i =
	// 0 repeated the state before it).
	if trs[0].Time != t0.Add(129*time.Second) || trs[MaxTransitions-1].Time != t0.Add(110*time.Second) {
		t.Errorf("kept %v .. %v, want 129 s .. 110 s after t0", trs[0].Time.Sub(t0), trs[MaxTransitions-1].Time.Sub(t0))
	}
}

// TestStatsLatencyRing: p50 and p99 are over the last latencySamples
// response times, kept to the microsecond; a negative time counts as 0.
func TestStatsLatencyRing(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	var s Stats
	s.ObserveResponse(t0, 200, -time.Second)
	if snap := s.Snapshot(t0); snap.P50 != 0 || snap.P99 != 0 {
		t.Errorf("negative time: p50 %v p99 %v, want 0", snap.P50, snap.P99)
	}
	// 600 responses: the first 88 (of 1 h each, and the negative one)
	// leave the ring; of the 512 kept, 500 took 1.5004 ms and 12 took 9 ms.
	for range 87 {
		s.ObserveResponse(t0, 200, time.Hour)
	}
	for i := range 512 {
		d := 1500*time.Microsecond + 400*time.Nanosecond
		if i%43 == 0 {
			d = 9 * time.Millisecond
		}
		s.ObserveResponse(t0, 200, d)
	}
	snap := s.Snapshot(t0)
	if snap.P50 != 1500*time.Microsecond || snap.P99 != 9*time.Millisecond {
		t.Errorf("p50 %v p99 %v, want 1.5ms and 9ms", snap.P50, snap.P99)
	}
	if snap.TotalResponses != 600 {
		t.Errorf("%d responses, want 600", snap.TotalResponses)
	}
}

func TestAdminStateLeavesRoutes(t *testing.T) {
	now := time.Now()
	a := New("web", "a:80", 1, Health{State: StateHealthy, Since: now})
	b := New("web", "b:80", 1, Health{State: StateHealthy, Since: now})
	g := NewGroup("web", []*Target{a, b})
	a.SetAdminState(AdminMaint)
	g.Refresh()
	if rs := g.Routes(); len(rs.Targets) != 1 || rs.Targets[0] != b {
		t.Fatalf("maint target still routed: %v", rs.Targets)
	}
	// Fail-open never brings a drained or maintained target back.
	b.SetAdminState(AdminDrain)
	b.SetHealth(Health{State: StateUnhealthy, Since: now})
	g.Refresh()
	if rs := g.Routes(); len(rs.Targets) != 0 {
		t.Fatalf("admin-disabled targets routed on fail-open: %v", rs.Targets)
	}
	if s, ok := ParseAdminState("drain"); !ok || s != AdminDrain || g.Find("b:80") != b {
		t.Error("ParseAdminState or Find broken")
	}
}
