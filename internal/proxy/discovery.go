package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/fulcrumlb/fulcrum/internal/cluster"
	"github.com/fulcrumlb/fulcrum/internal/config"
	"github.com/fulcrumlb/fulcrum/internal/discovery"
	"github.com/fulcrumlb/fulcrum/internal/health"
	"github.com/fulcrumlb/fulcrum/internal/target"
)

// fleet is what Serve runs besides the request path to learn targets
// from outside the file and share what it knows (docs/fleet.md): the
// discovery manager and, with a cluster section, this instance's node in
// the fleet. It is set once, when Serve starts.
type fleet struct {
	discovery *discovery.Manager
	node      *cluster.Node
	// key is the configuration it runs (fleetKey); stop ends it and done
	// is closed once it ended.
	key  string
	stop context.CancelFunc
	done chan struct{}
}

// fleetKey is what of cfg the fleet runs: the target groups' names and
// discovery providers, and the cluster section.
func fleetKey(cfg *config.Config) string {
	type group struct {
		Name      string
		Discovery []config.Discovery
	}
	v := struct {
		Groups  []group
		Cluster *config.Cluster
	}{Cluster: cfg.Cluster}
	for _, tc := range cfg.TargetGroups {
		v.Groups = append(v.Groups, group{tc.Name, tc.Discovery})
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// reloadFleet restarts the fleet when a reload changed what it runs, and
// reports whether it did. The new one starts once the old one stopped;
// the discovered targets stay registered meanwhile, and the new
// providers take them over (or drain them, once they report without
// them). The caller holds s.mu.
func (s *Server) reloadFleet() bool {
	old := s.fleet.Load()
	if !s.serving || old == nil || old.key == fleetKey(s.cfg) {
		return false
	}
	old.stop()
	s.startFleet(s.bg)
	return true
}

// startFleet starts the discovery providers of the configuration's
// target groups and the cluster node on bg, Serve's background context;
// they stop with it, and their etcd clients close after them. A provider
// that cannot be built is logged and discovery left off: routing goes on
// with the file's targets. The caller holds s.mu.
func (s *Server) startFleet(bg context.Context) {
	ctx, stop := context.WithCancel(bg)
	prev := s.fleet.Load()
	f := &fleet{key: fleetKey(s.cfg), stop: stop, done: make(chan struct{})}
	clients := map[string]*clientv3.Client{}
	groups, err := discovery.Build(s.cfg, clients)
	if err != nil {
		s.logger.Error("discovery providers not started", "error", err)
	}
	if c := s.cfg.Cluster; c != nil {
		if f.node, err = s.clusterNode(c, clients); err != nil {
			s.logger.Error("cluster not joined; this instance stands alone", "error", err)
		}
	}
	if f.node != nil {
		// Every group follows the fleet's runtime registrations.
		for _, tc := range s.cfg.TargetGroups {
			p := &discovery.Etcd{Client: f.node.Client, Prefix: f.node.RegistrationsPrefix(tc.Name), Weight: 1, As: target.SourceAPI}
			i := slices.IndexFunc(groups, func(g discovery.Group) bool { return g.Name == tc.Name })
			if i < 0 {
				groups = append(groups, discovery.Group{Name: tc.Name})
				i = len(groups) - 1
			}
			groups[i].Providers = append(groups[i].Providers, p)
		}
	}
	if prev != nil {
		// After a reload: groups whose providers went away still get a
		// (provider-less) reconciler, which drains what was discovered.
		for _, tc := range s.cfg.TargetGroups {
			if !slices.ContainsFunc(groups, func(g discovery.Group) bool { return g.Name == tc.Name }) {
				groups = append(groups, discovery.Group{Name: tc.Name})
			}
		}
	}
	if len(groups) > 0 {
		f.discovery = discovery.New(groups, discoveryRegistry{s}, s.logger)
	}
	s.fleet.Store(f)
	s.bgWG.Go(func() {
		defer close(f.done)
		defer closeClients(clients)
		if prev != nil {
			<-prev.done
		}
		var wg sync.WaitGroup
		if f.discovery != nil {
			wg.Go(func() { f.discovery.Run(ctx) })
		}
		if f.node != nil {
			wg.Go(func() { f.node.Run(ctx) })
		}
		wg.Wait()
	})
}

func closeClients(clients map[string]*clientv3.Client) {
	for _, c := range clients {
		c.Close()
	}
}

// clusterNode makes this instance's node from the cluster section.
func (s *Server) clusterNode(c *config.Cluster, clients map[string]*clientv3.Client) (*cluster.Node, error) {
	instance := c.Instance
	if instance == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("cluster.instance is not set and the host name is unknown: %w", err)
		}
		instance = h
	}
	cl, err := discovery.EtcdClient(s.cfg, c.Etcd.Endpoints, clients)
	if err != nil {
		return nil, err
	}
	return &cluster.Node{Client: cl, Prefix: strings.TrimSuffix(c.Etcd.Prefix, "/"), Instance: instance,
		LeaseTTL: c.LeaseTTL.D(), Interval: c.PublishInterval.D(), Timeout: c.Etcd.DialTimeout.D(), Logger: s.logger,
		Observe:         func(now time.Time) cluster.Report { return cluster.Observe(s.TargetGroups(), now) },
		ApplyAdminState: s.applyAdminState}, nil
}

// ShareAdminState gives an admin state set here through the runtime
// socket to the fleet; without a cluster section it does nothing.
func (s *Server) ShareAdminState(group, address string, state target.AdminState) {
	if f := s.fleet.Load(); f != nil && f.node != nil {
		f.node.SetAdminState(group, address, state.String())
	}
}

// applyAdminState applies an admin state the fleet holds, when the
// target is registered here and its state differs.
func (s *Server) applyAdminState(group, address, state string) {
	st, ok := target.ParseAdminState(state)
	g := s.Group(group)
	if !ok || g == nil {
		return
	}
	t := g.Targets.Find(address)
	if t == nil || t.AdminState() == st {
		return
	}
	prev := t.AdminState()
	t.SetAdminState(st)
	g.Targets.Refresh()
	s.logger.Info("target admin state changed", "target_group", group, "target", address,
		"from", prev.String(), "to", st.String(), "via", "fleet")
}

// Fleet returns the fleet view, or nil without a cluster section.
func (s *Server) Fleet() *cluster.Fleet {
	if f := s.fleet.Load(); f != nil && f.node != nil {
		v := f.node.View(time.Now())
		return &v
	}
	return nil
}

// ClusterCollector returns the fulcrum_cluster_* metrics.
func (s *Server) ClusterCollector() prometheus.Collector {
	return cluster.NewCollector(func() *cluster.Node {
		if f := s.fleet.Load(); f != nil {
			return f.node
		}
		return nil
	})
}

// FleetControl is the admin API's Controller with a cluster section:
// runtime registrations and deregistrations apply here at once, then go
// to etcd for the rest of the fleet (queued while etcd is away), so
// routing here never waits for etcd.
type FleetControl struct{ *Server }

// Register is Server.Register, then shared with the fleet.
func (c FleetControl) Register(ctx context.Context, group, address string, weight int) error {
	if err := c.Server.Register(ctx, group, address, weight); err != nil {
		return err
	}
	if f := c.fleet.Load(); f != nil && f.node != nil {
		f.node.Register(group, address, max(weight, 1))
	}
	return nil
}

// Deregister is Server.Deregister, then shared with the fleet.
func (c FleetControl) Deregister(ctx context.Context, group, address string) error {
	if err := c.Server.Deregister(ctx, group, address); err != nil {
		return err
	}
	if f := c.fleet.Load(); f != nil && f.node != nil {
		f.node.Deregister(group, address)
	}
	return nil
}

// Discovery returns the discovery providers' states of a target group,
// the evidence the admin API shows; nil when it has none.
func (s *Server) Discovery(group string) []discovery.Status {
	if f := s.fleet.Load(); f != nil && f.discovery != nil {
		return f.discovery.Status(group)
	}
	return nil
}

// DiscoveryCollector returns the fulcrum_discovery_* metrics of the
// running providers.
func (s *Server) DiscoveryCollector() prometheus.Collector {
	return discovery.NewCollector(func() *discovery.Manager {
		if f := s.fleet.Load(); f != nil {
			return f.discovery
		}
		return nil
	})
}

// discoveryRegistry is the register and drain path of the admin API,
// for discovery providers.
type discoveryRegistry struct{ s *Server }

func (r discoveryRegistry) Targets(group string) []*target.Target {
	if g := r.s.Group(group); g != nil {
		return g.Targets.Targets()
	}
	return nil
}

func (r discoveryRegistry) Find(group, address string) *target.Target {
	if g := r.s.Group(group); g != nil {
		return g.Targets.Find(address)
	}
	return nil
}

// Register is Server.Register with the target's source.
func (r discoveryRegistry) Register(ctx context.Context, group, address string, weight int, src target.Source) error {
	s := r.s
	if err := config.CheckTargetAddress(address); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.runtimeGroup(group)
	if err != nil {
		return err
	}
	t := target.New(group, address, weight, health.Initial(g.cfg.HealthCheck.Enabled, time.Now()))
	t.SetSource(src)
	if err := g.Targets.Add(t); err != nil {
		return err
	}
	s.logger.Info("target registered", "target_group", group, "target", address, "weight", t.Weight(),
		"state", t.Health().State.String(), "registered_by", src.String())
	return nil
}

// Drain is Server.Deregister with why as the evidence.
func (r discoveryRegistry) Drain(ctx context.Context, group, address, why string) error {
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.runtimeGroup(group)
	if err != nil {
		return err
	}
	t := g.Targets.Find(address)
	if t == nil {
		return fmt.Errorf("%w: %s in target group %s", target.ErrUnknownTarget, address, group)
	}
	s.drain(s.states[group], t, g.cfg.DeregistrationDelay.D(), why)
	return nil
}

func (r discoveryRegistry) SetWeight(group, address string, weight int) {
	if g := r.s.Group(group); g != nil {
		if t := g.Targets.Find(address); t != nil {
			t.SetWeight(weight)
			g.Targets.Refresh()
		}
	}
}
