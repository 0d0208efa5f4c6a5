package discovery

import (
	"context"
	"net"
	"net/url"
	"strconv"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"github.com/fulcrumlb/fulcrum/internal/target"
)

// etcdServer is an embedded etcd on 127.0.0.1 ports picked free, with a
// data dir that survives a stop, so the test can kill and restart it.
type etcdServer struct {
	t            *testing.T
	dir          string
	client, peer int
	e            *embed.Etcd
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startEtcd(t *testing.T) *etcdServer {
	t.Helper()
	s := &etcdServer{t: t, dir: t.TempDir(), client: freePort(t), peer: freePort(t)}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *etcdServer) endpoint() string { return "127.0.0.1:" + strconv.Itoa(s.client) }

func (s *etcdServer) start() {
	s.t.Helper()
	cfg := embed.NewConfig()
	cfg.Name, cfg.Dir = "test", s.dir
	cu := url.URL{Scheme: "http", Host: s.endpoint()}
	pu := url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(s.peer)}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{cu}, []url.URL{cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{pu}, []url.URL{pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogLevel = "error"
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(20 * time.Second):
		e.Close()
		s.t.Fatal("etcd did not start")
	}
	s.e = e
}

func (s *etcdServer) stop() {
	if s.e != nil {
		s.e.Close()
		s.e = nil
	}
}

func etcdClient(t *testing.T, endpoint string) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestEtcdDiscovery: keys under the prefix are targets, watched; a key
// with a lease vanishes and drains when the lease expires; an etcd
// outage keeps the set and is evidence; the watch resumes after it.
func TestEtcdDiscovery(t *testing.T) {
	srv := startEtcd(t)
	cli := etcdClient(t, srv.endpoint())
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
	p := &Etcd{Client: etcdClient(t, srv.endpoint()), Prefix: prefix, Weight: 1, Timeout: 300 * time.Millisecond, Probe: 50 * time.Millisecond}
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
	srv.stop()
	eventually(t, "outage evidence", func() bool { st := m.Status("api")[0]; return st.Stale && st.Error != "" })
	if v := view(g); v["10.0.0.1:80"].state != "healthy" || v["10.0.0.2:80"].state != "healthy" {
		t.Fatalf("etcd outage changed targets: %v", v)
	}
	srv.start()
	cli.Delete(ctx, prefix+"/10.0.0.1:80")
	eventually(t, "resync after restart", func() bool {
		return !m.Status("api")[0].Stale && view(g)["10.0.0.1:80"].state == "draining"
	})
}
