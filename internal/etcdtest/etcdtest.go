// Package etcdtest runs an embedded etcd server for the tests of the
// packages that talk to etcd (cluster, discovery, the CLI's
// cluster.config_key), on ports of 127.0.0.1 chosen by the kernel. It
// links go.etcd.io/etcd/server/v3/embed, so only test files import it.
package etcdtest

import (
	"net"
	"net/url"
	"strconv"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// Server is one embedded etcd member, its data in a test's temporary
// directory. Stop and Start take it down and up again on the same ports
// and data, as an outage would.
type Server struct {
	t            testing.TB
	dir          string
	client, peer int
	e            *embed.Etcd
}

// Start starts a server that stops when the test ends. It fails the test
// if etcd is not ready within 20 s.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, dir: t.TempDir(), client: freePort(t), peer: freePort(t)}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Endpoint is the client address, host:port.
func (s *Server) Endpoint() string { return "127.0.0.1:" + strconv.Itoa(s.client) }

// Start starts the member again after Stop (Start of the package starts
// it the first time).
func (s *Server) Start() {
	s.t.Helper()
	cfg := embed.NewConfig()
	cfg.Name, cfg.Dir = "test", s.dir
	cu := url.URL{Scheme: "http", Host: s.Endpoint()}
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

// Stop stops the member; a stopped one is left as it is.
func (s *Server) Stop() {
	if s.e != nil {
		s.e.Close()
		s.e = nil
	}
}

// Client is a client of endpoint with a 1 s dial timeout, closed when the
// test ends.
func Client(t testing.TB, endpoint string) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
