package balancer

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fulcrumlb/fulcrum/internal/target"
)

func group(weights ...int) *target.Group {
	var ts []*target.Target
	for i, w := range weights {
		ts = append(ts, target.New("g", string(rune('a'+i))+":80", w, target.Health{State: target.StateHealthy, Since: time.Unix(0, 0)}))
	}
	return target.NewGroup("g", ts)
}

func counts(p Policy, g *target.Group, n int) map[string]int {
	got := map[string]int{}
	for range n {
		got[p.Pick(g.Routes(), nil).Address]++
	}
	return got
}

func TestRoundRobinSplitsEvenly(t *testing.T) {
	got := counts(&RoundRobin{}, group(1, 1, 1), 300)
	if diff := cmp.Diff(map[string]int{"a:80": 100, "b:80": 100, "c:80": 100}, got); diff != "" {
		t.Errorf("split (-want +got):\n%s", diff)
	}
}

func TestRoundRobinHonoursWeights(t *testing.T) {
	got := counts(&RoundRobin{}, group(1, 3), 400)
	if diff := cmp.Diff(map[string]int{"a:80": 100, "b:80": 300}, got); diff != "" {
		t.Errorf("split (-want +got):\n%s", diff)
	}
}

func TestWeightedRandomFollowsWeights(t *testing.T) {
	seq := uint64(0)
	p, err := New("weighted_random", func(n uint64) uint64 { seq++; return seq % n })
	if err != nil {
		t.Fatal(err)
	}
	got := counts(p, group(1, 3), 400)
	if diff := cmp.Diff(map[string]int{"a:80": 100, "b:80": 300}, got); diff != "" {
		t.Errorf("split (-want +got):\n%s", diff)
	}
}

func TestLeastOutstandingPrefersIdleTarget(t *testing.T) {
	g := group(1, 1, 1)
	g.Targets()[0].Acquire()
	g.Targets()[2].Acquire()
	p := &LeastOutstanding{}
	for range 5 {
		if got := p.Pick(g.Routes(), nil); got != g.Targets()[1] {
			t.Fatalf("Pick = %s, want b:80 (no requests in flight)", got.Address)
		}
	}
}

func TestPickSkipsTriedTargets(t *testing.T) {
	policies := map[string]Policy{"round_robin": &RoundRobin{}, "least_outstanding_requests": &LeastOutstanding{}}
	wr, _ := New("weighted_random", func(uint64) uint64 { return 0 })
	policies["weighted_random"] = wr
	for name, p := range policies {
		t.Run(name, func(t *testing.T) {
			g := group(1, 1, 1)
			tried := []*target.Target{g.Targets()[0], g.Targets()[1]}
			for range 6 {
				if got := p.Pick(g.Routes(), tried); got != g.Targets()[2] {
					t.Fatalf("Pick = %s, want the only untried target c:80", got.Address)
				}
			}
			all := []*target.Target{g.Targets()[0], g.Targets()[1], g.Targets()[2]}
			if p.Pick(g.Routes(), all) == nil {
				t.Fatal("with every target tried, Pick must still return one")
			}
			if p.Pick(&target.RouteSet{}, nil) != nil {
				t.Fatal("Pick on an empty route set must return nil")
			}
		})
	}
}

func TestRouteSetFailsOpen(t *testing.T) {
	g := group(1, 1)
	for _, tg := range g.Targets() {
		tg.SetHealth(target.Health{State: target.StateUnhealthy})
	}
	g.Refresh()
	if rs := g.Routes(); !rs.FailOpen || len(rs.Targets) != 2 {
		t.Fatalf("all unhealthy: routes = %+v, want fail-open to both", rs)
	}
	g.Targets()[1].SetHealth(target.Health{State: target.StateHealthy})
	g.Refresh()
	if rs := g.Routes(); rs.FailOpen || len(rs.Targets) != 1 || rs.Targets[0] != g.Targets()[1] {
		t.Fatalf("one healthy: routes = %+v, want only b:80", rs)
	}
	for _, tg := range g.Targets() {
		tg.SetHealth(target.Health{State: target.StateDraining})
	}
	g.Refresh()
	if rs := g.Routes(); len(rs.Targets) != 0 {
		t.Fatalf("all draining: routes = %+v, want empty (503)", rs)
	}
}

func BenchmarkPick(b *testing.B) {
	for _, name := range []string{"round_robin", "least_outstanding_requests", "weighted_random"} {
		b.Run(name, func(b *testing.B) {
			p, _ := New(name, nil)
			g := group(1, 1, 1, 1, 1, 1, 1, 1)
			rs := g.Routes()
			b.ReportAllocs()
			for b.Loop() {
				if p.Pick(rs, nil) == nil {
					b.Fatal("nil pick")
				}
			}
		})
	}
}
