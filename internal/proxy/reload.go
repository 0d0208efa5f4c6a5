package proxy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/config"
)

// Reload reads the configuration again and applies it without dropping a
// request. A configuration with any problem changes nothing: the running
// one stays, and the error (a *config.Error listing every problem with
// its path) is returned, logged and counted. On success the new routing
// snapshot is swapped in atomically:
//
//   - targets present before and after keep their health, pools and
//     counters; new ones start in initial; removed ones drain, as
//     Deregister does; targets registered at runtime stay;
//   - listeners whose address, protocol and reuse_port did not change keep
//     their sockets and client connections and take the new rules,
//     certificate and max_connections; others open or close, every new
//     socket bound before an old one closes. A new protocol or reuse_port
//     on the same address needs reuse_port on both sides (or port 0);
//     otherwise the reload is refused with a problem on that field;
//   - requests in flight finish on the snapshot they started with.
//
// It returns the changes made, one line each.
func (s *Server) Reload(ctx context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if !s.serving {
		return nil, ErrNotServing
	}
	if s.load == nil {
		return nil, s.reloadFailed(now, errors.New("reload: no configuration file to read"))
	}
	cfg, src, err := s.load()
	if err != nil {
		return nil, s.reloadFailed(now, err)
	}
	changes, err := s.apply(cfg, now)
	if err != nil {
		return nil, s.reloadFailed(now, err)
	}
	info := s.ConfigInfo()
	info.Source, info.LoadedAt = string(src), now
	info.Reloads++
	info.LastReload = &config.ReloadOutcome{At: now, OK: true, Changes: changes}
	s.info.Store(&info)
	s.metrics.ConfigReload(true)
	s.logger.Info("configuration reloaded", "changes", len(changes))
	for _, c := range changes {
		s.logger.Info("reload change", "change", c)
	}
	return changes, nil
}

func (s *Server) reloadFailed(now time.Time, err error) error {
	info := s.ConfigInfo()
	info.Reloads++
	info.ReloadFailures++
	info.LastReload = &config.ReloadOutcome{At: now, Error: err.Error(), Problems: config.Problems(err)}
	s.info.Store(&info)
	s.metrics.ConfigReload(false)
	s.logger.Error("configuration reload failed; the running configuration stays", "error", err)
	return err
}

// apply switches to cfg: it plans the change from the running
// configuration and commits a deep copy of cfg, so that the caller's
// later changes to cfg reach nothing. The caller holds s.mu.
func (s *Server) apply(cfg *config.Config, now time.Time) ([]string, error) {
	cfg = cfg.Clone()
	p, err := plan(s.cfg, cfg)
	if err != nil {
		return nil, err
	}
	return s.commit(p, cfg, now)
}

// commit applies p, planned from the running configuration to cfg. The
// caller holds s.mu. Nothing changes unless the new snapshot and every
// new listener socket could be built: new sockets, rebinds on the same
// address included, are bound before any old one closes, so a busy port
// fails the reload with nothing changed. It returns the changes made, one
// line each.
func (s *Server) commit(p reloadPlan, cfg *config.Config, now time.Time) ([]string, error) {
	var changes []string
	note := func(format string, args ...any) { changes = append(changes, fmt.Sprintf(format, args...)) }

	snap, err := s.build(cfg, now)
	if err != nil {
		return nil, err
	}
	fresh := map[string]*listener{}
	for _, st := range p.Listeners {
		switch st.Action {
		case listenerAdd, listenerMove, listenerRebind:
		default:
			continue
		}
		l := s.newListener(listenerConfig(cfg, st.Name), snap)
		if err := s.bind(l); err != nil {
			for _, b := range fresh {
				b.ln.Close()
			}
			return nil, err
		}
		fresh[st.Name] = l
	}

	// Target groups: carry state over, reconcile targets, restart checks
	// whose settings changed.
	for _, g := range p.Groups {
		if g.Action == groupChange && g.Settings {
			note("target group %s: new settings apply to new requests", g.Name)
		}
	}
	for _, tc := range cfg.TargetGroups {
		g := snap.groups[tc.Name]
		st := s.states[tc.Name]
		if st == nil {
			st = &groupState{targets: g.Targets, transport: g.Transport, transportKey: transportKey(tc), queue: g.queue}
			s.states[tc.Name] = st
			if err := s.startChecker(st, tc); err != nil {
				s.logger.Error("health checks not started", "target_group", tc.Name, "error", err)
			}
			note("target group %s added with %d targets", tc.Name, len(tc.Targets))
			continue
		}
		s.reconcileTargets(st, tc, now, note)
		if st.transport != g.Transport {
			st.transport.CloseIdle()
			st.transport, st.transportKey = g.Transport, transportKey(tc)
			note("target group %s: new connection settings; idle connections to its targets were closed", tc.Name)
		}
		if checkerKey(tc) != st.checkerKey {
			if err := s.startChecker(st, tc); err != nil {
				s.logger.Error("health checks not started", "target_group", tc.Name, "error", err)
			}
			note("target group %s: health checks restarted with the new settings", tc.Name)
		}
	}
	old := s.snap.Load()
	s.snap.Store(snap)
	for name, st := range s.states {
		if snap.groups[name] != nil {
			continue
		}
		if st.stopChecker != nil {
			st.stopChecker()
		}
		delay := old.groups[name].cfg.DeregistrationDelay.D()
		for _, t := range st.targets.Targets() {
			s.drain(st, t, delay, "Target group removed from the configuration")
		}
		delete(s.states, name)
		note("target group %s removed; its targets drain", name)
	}

	// Listeners. An old socket closes only after its successor accepts;
	// its connections finish in the background, for up to the grace.
	for _, st := range p.Listeners {
		l := s.listeners[st.Name]
		switch st.Action {
		case listenerKeep:
			s.updateListener(l, listenerConfig(cfg, st.Name), snap)
			if st.Rules {
				note("listener %s: new rules or TLS settings", st.Name)
			}
			for _, lim := range st.Limits {
				note("listener %s: %s", st.Name, lim)
			}
			continue
		case listenerRemove:
			delete(s.listeners, st.Name)
			l.srv.stopAccepting()
			s.bgWG.Go(func() { s.shutdownListener(l, s.grace) })
			note("listener %s removed; its connections drain", st.Name)
			continue
		}
		nl := fresh[st.Name]
		s.listeners[st.Name] = nl
		s.serveListener(nl)
		if l != nil {
			// The successor accepts; from here it takes every new
			// connection, and the old one's finish in the background.
			l.srv.stopAccepting()
			s.bgWG.Go(func() { s.shutdownListener(l, s.grace) })
		}
		switch st.Action {
		case listenerAdd:
			note("listener %s added on %s", st.Name, nl.ln.Addr())
		case listenerMove:
			note("listener %s moved to %s", st.Name, st.Address)
		case listenerRebind:
			note("listener %s reopened on %s with protocol %s, reuse_port %v; its old connections finish",
				st.Name, nl.ln.Addr(), nl.cfg.Protocol, nl.cfg.ReusePort)
		}
	}
	if p.RestartOnly {
		note("access_log, health_check_log and admin changes take effect at the next restart")
		s.logger.Warn("access_log, health_check_log and admin changes take effect at the next restart")
	}
	s.cfg = cfg
	if s.reloadFleet() { // discovery.go
		note("discovery and cluster restarted with the new configuration")
	}
	return changes, nil
}

func listenerConfig(cfg *config.Config, name string) config.Listener {
	for _, lc := range cfg.Listeners {
		if lc.Name == name {
			return lc
		}
	}
	return config.Listener{}
}

// updateListener gives a kept listener its new rules, limits and
// certificate.
func (s *Server) updateListener(l *listener, lc config.Listener, snap *snapshot) {
	l.handler.setRoutes(lc, snap.groups)
	l.tl.max.Store(int64(lc.MaxConnections))
	if l.srv != nil {
		l.srv.setH2Idle(lc.IdleTimeout.D()) // h2server.go
	}
	prev := l.cfg
	l.cfg = lc
	if lc.Protocol == "https" {
		// Read the certificate again even when the paths are the same: a
		// reload is how a renewed certificate is picked up.
		if err := l.loadCert(); err != nil {
			l.cfg.TLS = prev.TLS
			s.logger.Error("listener certificate not reloaded", "listener", lc.Name, "error", err)
		}
	}
}

// reconcileTargets makes a kept group's targets match tc: config targets
// are added or updated, targets no longer in the file drain unless they
// were registered at runtime.
func (s *Server) reconcileTargets(st *groupState, tc config.TargetGroup, now time.Time, note func(string, ...any)) {
	want := map[string]config.Target{}
	for _, ct := range tc.Targets {
		want[ct.Address] = ct
		t := st.targets.Find(ct.Address)
		switch {
		case t == nil:
			if err := st.targets.Add(newTarget(tc, ct, now)); err == nil {
				note("target %s added to %s", ct.Address, tc.Name)
			}
		case t.Draining():
			note("target %s in %s is still draining; register it again once it left", ct.Address, tc.Name)
		default:
			if t.Weight() != max(ct.Weight, 1) {
				note("target %s in %s: weight %d -> %d", ct.Address, tc.Name, t.Weight(), ct.Weight)
			}
			t.SetWeight(ct.Weight)
			t.SetMaxConnections(ct.MaxConnections)
			t.SetRuntime(false)
		}
	}
	for _, t := range st.targets.Targets() {
		if _, ok := want[t.Address]; ok || t.Runtime() || t.Draining() {
			continue
		}
		s.drain(st, t, tc.DeregistrationDelay.D(), "Target removed from the configuration")
		note("target %s removed from %s; it drains for up to %s", t.Address, tc.Name, tc.DeregistrationDelay)
	}
	st.targets.Refresh()
}
