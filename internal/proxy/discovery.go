package proxy

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fulcrumlb/fulcrum/internal/config"
	"github.com/fulcrumlb/fulcrum/internal/discovery"
	"github.com/fulcrumlb/fulcrum/internal/health"
	"github.com/fulcrumlb/fulcrum/internal/target"
)

// fleet is what Serve runs besides the request path to learn targets
// from outside the file (docs/fleet.md): the discovery manager. It is
// set once, when Serve starts.
type fleet struct {
	discovery *discovery.Manager
}

// startFleet starts the discovery providers of the configuration's
// target groups on bg, Serve's background context; they stop with it.
// A provider that cannot be built is logged and left out: routing goes
// on with the file's targets. The caller holds s.mu.
func (s *Server) startFleet(bg context.Context) {
	f := &fleet{}
	groups, closeClients, err := discovery.Build(s.cfg)
	if err != nil {
		s.logger.Error("discovery not started", "error", err)
		groups, closeClients = nil, func() {}
	}
	if len(groups) > 0 {
		f.discovery = discovery.New(groups, discoveryRegistry{s}, s.logger)
		s.bgWG.Go(func() {
			defer closeClients()
			f.discovery.Run(bg)
		})
	} else {
		closeClients()
	}
	s.fleet.Store(f)
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
