package discovery

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/fulcrumlb/fulcrum/internal/etcdtest"
	"github.com/fulcrumlb/fulcrum/internal/target"
)

// TestEtcdDiscovery: keys under the prefix are targets, watched; a key
// with a lease vanishes and drains when the lease expires; an etcd
// outage keeps the set and is evidence; the watch resumes after it.
func TestEtcdDiscovery(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := etcdtest.Client(t, srv.Endpoint())
	ctx := context.Background()
	const prefix = "/fulcrum/target-groups/api/targets"
	if _, err := cli.Put(ctx, prefix+"/10.0.0.1:80", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, prefix+"/deeper/10.0.0.9:80", ""); err != nil { // not a target
		t.Fatal(err)
	}
	g := target.NewGroup("api", nil)
	reg := newRegistry(g)
	p := &Etcd{Client: etcdtest.Client(t, srv.Endpoint()), Prefix: prefix, Weight: 1, Timeout: 300 * time.Millisecond, Probe: 50 * time.Millisecond}
	m := New([]Group{{Name: "api", Providers: []Provider{p}}}, reg, nil)
	m.Resync = 10 * time.Millisecond
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { m.Run(rctx); close(done) }()
	defer func() { cancel(); <-done }()

	eventually(t, "listed target", func() bool { return view(g)["10.0.0.1:80"].by == "etcd" })
	if _, ok := view(g)["10.0.0.9:80"]; ok {
		t.Error("a deeper key became a target")
	}
	cli.Put(ctx, prefix+"/10.0.0.2:80", `{"weight": 4}`)
	eventually(t, "watched target with weight", func() bool { return view(g)["10.0.0.2:80"] == targetView{"healthy", "etcd", 4} })

	// Self-registration with a lease: the target drains when it expires.
	lease, err := cli.Grant(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	cli.Put(ctx, prefix+"/10.0.0.3:80", "", clientv3.WithLease(lease.ID))
	eventually(t, "leased target", func() bool { return view(g)["10.0.0.3:80"].state == "healthy" })
	eventually(t, "lease expiry drains", func() bool { return view(g)["10.0.0.3:80"].state == "draining" })

	// etcd away: nothing drains, the failure shows; back: it catches up.
	srv.Stop()
	eventually(t, "outage evidence", func() bool { st := m.Status("api")[0]; return st.Stale && st.Error != "" })
	if v := view(g); v["10.0.0.1:80"].state != "healthy" || v["10.0.0.2:80"].state != "healthy" {
		t.Fatalf("etcd outage changed targets: %v", v)
	}
	srv.Start()
	cli.Delete(ctx, prefix+"/10.0.0.1:80")
	eventually(t, "resync after restart", func() bool {
		return !m.Status("api")[0].Stale && view(g)["10.0.0.1:80"].state == "draining"
	})
}
