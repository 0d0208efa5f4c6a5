package cluster

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fulcrumlb/fulcrum/internal/etcdtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeView is an instance's changing view of its targets.
type fakeView struct {
	mu      sync.Mutex
	targets []TargetReport
}

func (v *fakeView) observe(time.Time) Report {
	v.mu.Lock()
	defer v.mu.Unlock()
	return Report{Targets: append([]TargetReport(nil), v.targets...)}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func texts(vs []Verdict) string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Text)
	}
	return strings.Join(out, "; ")
}

func runNode(t *testing.T, n *Node) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

func TestFleetView(t *testing.T) {
	srv := etcdtest.Start(t)
	views := map[string]*fakeView{}
	nodes := map[string]*Node{}
	stops := map[string]func(){}
	for _, name := range []string{"lb-a", "lb-b", "lb-c"} {
		v := &fakeView{targets: []TargetReport{
			{TargetGroup: "api", Address: "10.0.0.5:80", State: "unhealthy", Errors5m: map[string]int64{"connection_refused": 4}},
			{TargetGroup: "api", Address: "10.0.0.6:80", State: "healthy"},
		}}
		views[name] = v
		nodes[name] = &Node{Client: etcdtest.Client(t, srv.Endpoint()), Prefix: "/fulcrum", Instance: name, LeaseTTL: 2 * time.Second,
			Interval: 20 * time.Millisecond, Timeout: 300 * time.Millisecond, Observe: v.observe}
	}
	views["lb-b"].targets[1].Errors5m = map[string]int64{"connection_timed_out": 2}
	for name, n := range nodes {
		stops[name] = runNode(t, n)
	}
	a := nodes["lb-a"]
	eventually(t, "three instances", func() bool { return len(a.View(time.Now()).Instances) == 3 })
	f := a.View(time.Now())
	if !f.Connected || len(f.Targets) != 2 {
		t.Fatalf("view %+v", f)
	}
	if got := texts(f.Targets[0].Verdicts); got != "connection_refused seen by 3 of 3 instances: the target itself; unhealthy or ejected seen by 3 of 3 instances: the target itself" {
		t.Errorf("dead target verdicts %q", got)
	}
	if got := texts(f.Targets[1].Verdicts); got != "only lb-b sees connection_timed_out (1 of 3 instances): the path, not the target" {
		t.Errorf("path verdicts %q", got)
	}

	// A stopped instance's report leaves with it.
	stops["lb-c"]()
	eventually(t, "lb-c gone", func() bool { return len(a.View(time.Now()).Instances) == 2 })

	// etcd away: the node says so, keeps its last view, and queues writes.
	srv.Stop()
	eventually(t, "disconnected", func() bool { ok, _ := a.Connected(); return !ok })
	f = a.View(time.Now())
	if f.Connected || f.Error == "" || f.ErrorSince == nil || len(f.Instances) != 2 {
		t.Errorf("view while etcd is away %+v", f)
	}
	a.Register("api", "10.0.0.7:80", 3)
	srv.Start()
	eventually(t, "reconnected", func() bool { ok, _ := a.Connected(); return ok })
	c := etcdtest.Client(t, srv.Endpoint())
	eventually(t, "queued registration written", func() bool {
		resp, err := c.Get(context.Background(), "/fulcrum/target-groups/api/registrations/10.0.0.7:80")
		return err == nil && len(resp.Kvs) == 1 && strings.Contains(string(resp.Kvs[0].Value), `"weight":3`)
	})
	a.Deregister("api", "10.0.0.7:80")
	eventually(t, "deregistration written", func() bool {
		resp, err := c.Get(context.Background(), "/fulcrum/target-groups/api/registrations/10.0.0.7:80")
		return err == nil && len(resp.Kvs) == 0
	})
}

// TestAdminStatesFollowTheFleet: a drain set on one instance reaches the
// others through etcd, and ready again ends it everywhere.
func TestAdminStatesFollowTheFleet(t *testing.T) {
	srv := etcdtest.Start(t)
	type applied struct{ group, addr, state string }
	got := make(chan applied, 100)
	var nodes []*Node
	for _, name := range []string{"lb-a", "lb-b"} {
		n := &Node{Client: etcdtest.Client(t, srv.Endpoint()), Prefix: "/fulcrum", Instance: name, LeaseTTL: 2 * time.Second,
			Interval: 50 * time.Millisecond, Timeout: 300 * time.Millisecond, Observe: (&fakeView{}).observe}
		if name == "lb-b" {
			n.ApplyAdminState = func(g, a, s string) {
				select {
				case got <- applied{g, a, s}:
				default:
				}
			}
		}
		nodes = append(nodes, n)
		runNode(t, n)
	}
	wait := func(want applied) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case a := <-got:
				if a == want {
					return
				}
			case <-deadline:
				t.Fatalf("lb-b never applied %+v", want)
			}
		}
	}
	nodes[0].SetAdminState("api", "10.0.0.5:80", "drain")
	wait(applied{"api", "10.0.0.5:80", "drain"})
	nodes[0].SetAdminState("api", "10.0.0.5:80", "ready")
	wait(applied{"api", "10.0.0.5:80", "ready"})
}
