package proxy

import (
	"context"
	"fmt"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/config"
	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/health"
	"github.com/fulcrumlb/fulcrum/internal/target"
)

// Register adds a target to a group at runtime (ALB RegisterTargets). The
// target starts in initial and takes traffic once it passes
// healthy_threshold checks, or at once when checks are off. It survives
// reloads until it is deregistered. Errors wrap target.ErrUnknownGroup,
// target.ErrTargetExists or ErrNotServing, or name a bad address.
func (s *Server) Register(ctx context.Context, group, address string, weight int) error {
	if err := config.CheckTargetAddress(address); err != nil {
		return err
	}
	if weight < 0 || weight > 1000 {
		return fmt.Errorf("weight %d is out of range 1..1000", weight)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.runtimeGroup(group)
	if err != nil {
		return err
	}
	if old := g.Targets.Find(address); old != nil && old.Draining() {
		return fmt.Errorf("%s in target group %s is still draining: %w", address, group, target.ErrTargetExists)
	}
	t := target.New(group, address, weight, health.Initial(g.cfg.HealthCheck.Enabled, time.Now()))
	t.SetRuntime(true)
	if err := g.Targets.Add(t); err != nil {
		return err
	}
	s.logger.Info("target registered", "target_group", group, "target", address, "weight", t.Weight(), "state", t.Health().State.String())
	return nil
}

// Deregister starts draining a target (ALB DeregisterTargets): it gets no
// new requests, its idle connections close at once, its in-flight requests
// finish; when the group's deregistration_delay expires, requests still in
// flight are cut (502 connection_terminated, "deregistration delay
// expired"), the target becomes unused and leaves the group. Deregistering
// a draining target does nothing. Errors wrap target.ErrUnknownGroup,
// target.ErrUnknownTarget or ErrNotServing.
func (s *Server) Deregister(ctx context.Context, group, address string) error {
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
	s.drain(s.states[group], t, g.cfg.DeregistrationDelay.D(), "Target deregistration is in progress")
	return nil
}

// runtimeGroup returns the active group named name for a runtime change.
// The caller holds s.mu.
func (s *Server) runtimeGroup(name string) (*Group, error) {
	if !s.serving {
		return nil, ErrNotServing
	}
	g := s.snap.Load().groups[name]
	if g == nil {
		return nil, fmt.Errorf("%w: %s", target.ErrUnknownGroup, name)
	}
	return g, nil
}

// drain runs a target's deregistration. The caller holds s.mu.
func (s *Server) drain(st *groupState, t *target.Target, delay time.Duration, why string) {
	now := time.Now()
	from := t.Health().State
	if !t.StartDraining(now, why) {
		return
	}
	st.targets.Refresh()
	st.transport.closeTarget(t)
	s.logger.Info("target health changed", "target_group", t.Group, "target", t.Address, "from", from.String(), "to", target.StateDraining.String(),
		"reason", target.ReasonDeregistrationInProgress, "description", why, "deregistration_delay", delay.String(), "in_flight", t.InFlight())
	bg, tr := s.bg, st.transport
	s.bgWG.Go(func() {
		timer := time.NewTimer(delay)
		defer timer.Stop()
		select {
		case <-t.Idle():
			s.logger.Info("target drained", "target_group", t.Group, "target", t.Address,
				"detail", "no request in flight; the target stays draining until the deregistration delay expires")
			select {
			case <-timer.C:
			case <-bg.Done():
				return
			}
		case <-timer.C:
		case <-bg.Done():
			return
		}
		if n := t.InFlight(); n > 0 {
			s.logger.Warn("deregistration delay expired with requests in flight", "target_group", t.Group, "target", t.Address,
				"in_flight", n, "deregistration_delay", delay.String())
		}
		t.Cut(time.Now(), failure.ErrDeregistered)
		st.targets.Remove(t)
		tr.forget(t)
		s.logger.Info("target health changed", "target_group", t.Group, "target", t.Address, "from", target.StateDraining.String(),
			"to", target.StateUnused.String(), "reason", target.ReasonNotRegistered, "description", "deregistration complete")
	})
}
