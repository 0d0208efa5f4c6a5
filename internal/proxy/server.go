package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/accesslog"
	"github.com/fulcrumlb/fulcrum/internal/balancer"
	"github.com/fulcrumlb/fulcrum/internal/config"
	"github.com/fulcrumlb/fulcrum/internal/health"
	"github.com/fulcrumlb/fulcrum/internal/metrics"
	"github.com/fulcrumlb/fulcrum/internal/target"
)

// maxRequestHeader is the largest request header section accepted (ALB:
// 64 K, alb-semantics §5.3); beyond it net/http answers 431.
const maxRequestHeader = 64 << 10

// Server is a running load balancer built from one configuration: its
// listeners, target groups, health checkers and access log.
type Server struct {
	cfg      *config.Config
	logger   *slog.Logger
	access   *accesslog.Logger
	checkLog *health.CheckLog
	metrics  *metrics.Metrics

	groups     map[string]*Group
	groupOrder []*target.Group
	checkers   []*health.Checker
	listeners  []*listener
}

// Options are a Server's collaborators. Every field may be left zero.
type Options struct {
	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger
	// Stdout receives the access log and health-check log when their path
	// is "-".
	Stdout io.Writer
	// Metrics, when set, gets every request, attempt and check; the
	// server registers its health gauges on it.
	Metrics *metrics.Metrics
	// History, when set, keeps recent requests for the admin API.
	History *accesslog.History
}

type listener struct {
	cfg     config.Listener
	handler *Handler
	srv     *http.Server
	ln      net.Listener
}

// New builds a server from a validated configuration. It opens the access
// and health-check logs but binds nothing.
func New(cfg *config.Config, opts Options) (*Server, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	stdout := opts.Stdout
	if stdout == nil {
		stdout = io.Discard
	}
	s := &Server{cfg: cfg, logger: logger, metrics: opts.Metrics, groups: map[string]*Group{}}
	if c := cfg.HealthCheckLog; c != nil {
		l, err := health.OpenCheckLog(c.Path, stdout)
		if err != nil {
			return nil, err
		}
		s.checkLog = l
	}
	now := time.Now()
	for _, tc := range cfg.TargetGroups {
		g, checker, err := buildGroup(tc, now, logger)
		if err != nil {
			s.checkLog.Close()
			return nil, fmt.Errorf("target group %s: %w", tc.Name, err)
		}
		s.groups[tc.Name] = g
		s.groupOrder = append(s.groupOrder, g.Targets)
		s.metrics.AddTargetGroup(tc.Name)
		if checker != nil {
			checker.OnResult = s.onCheck(checkKind(tc))
			s.checkers = append(s.checkers, checker)
		}
	}
	if a := cfg.AccessLog; a != nil {
		l, err := accesslog.Open(a.Path, a.Format, a.BufferLines, stdout)
		if err != nil {
			s.checkLog.Close()
			return nil, err
		}
		s.access = l
		s.metrics.WatchAccessLog(l.Dropped)
	}
	s.metrics.WatchTargetGroups(s.TargetGroups)
	for _, lc := range cfg.Listeners {
		h := &Handler{
			Listener:    lc.Name,
			TLS:         lc.Protocol == "https",
			IdleTimeout: lc.IdleTimeout.D(),
			Default:     s.groups[lc.DefaultTargetGroup],
			AccessLog:   s.access,
			History:     opts.History,
			Metrics:     opts.Metrics,
			Logger:      logger,
			rules:       compileRules(lc.Rules, s.groups),
		}
		s.listeners = append(s.listeners, &listener{cfg: lc, handler: h})
		s.metrics.AddListener(lc.Name)
	}
	return s, nil
}

// checkKind is a group's health check type for the check log: http,
// https or tcp.
func checkKind(tc config.TargetGroup) string {
	if tc.HealthCheck.Protocol != "" {
		return tc.HealthCheck.Protocol
	}
	return tc.Protocol
}

// onCheck returns the hook that feeds each check result to the target's
// stats, the metrics and the health-check log.
func (s *Server) onCheck(kind string) func(*target.Target, health.Result) {
	return func(t *target.Target, r health.Result) {
		t.Stats.ObserveCheck(target.CheckOutcome{OK: r.OK, Class: r.Class, Status: r.Status, Latency: r.Latency, Detail: r.Description},
			t.Health().State == target.StateHealthy)
		s.metrics.HealthCheck(t.Group, t.Address, r.OK, r.Reason)
		if err := s.checkLog.Log(kind, t.Group, t.Address, r, time.Now()); err != nil {
			s.logger.Warn("health check log write failed", "error", err)
		}
	}
}

// TargetGroups returns the target groups in configuration order.
func (s *Server) TargetGroups() []*target.Group { return s.groupOrder }

func buildGroup(tc config.TargetGroup, now time.Time, logger *slog.Logger) (*Group, *health.Checker, error) {
	tlsCfg, err := target.ClientTLS(tc)
	if err != nil {
		return nil, nil, err
	}
	hc := tc.HealthCheck
	ts := make([]*target.Target, 0, len(tc.Targets))
	for _, t := range tc.Targets {
		ts = append(ts, target.New(tc.Name, t.Address, t.Weight, health.Initial(hc.Enabled, now)))
	}
	policy, err := balancer.New(tc.Algorithm, nil)
	if err != nil {
		return nil, nil, err
	}
	g := &Group{
		Name:        tc.Name,
		Targets:     target.NewGroup(tc.Name, ts),
		Policy:      policy,
		MaxAttempts: tc.Retries.MaxAttempts,
		Transport: &Transport{
			Dialer:           &target.Dialer{Timeout: tc.ConnectTimeout.D(), TLS: tlsCfg},
			MaxIdlePerTarget: tc.MaxIdlePerTarget,
			IdleTimeout:      tc.KeepaliveIdleTimeout.D(),
		},
	}
	g.budget.percent = int64(tc.Retries.BudgetPercent)
	if !hc.Enabled {
		return g, nil, nil
	}
	checker := &health.Checker{
		Group:              g.Targets,
		Prober:             health.ProberFor(tc, tlsCfg),
		Interval:           hc.Interval.D(),
		HealthyThreshold:   hc.HealthyThreshold,
		UnhealthyThreshold: hc.UnhealthyThreshold,
		Logger:             logger,
	}
	return g, checker, nil
}

// Group returns the named target group, or nil.
func (s *Server) Group(name string) *Group { return s.groups[name] }

// Listen binds every listener. On any failure it closes what it bound and
// returns an error naming the listener.
func (s *Server) Listen() error {
	for _, l := range s.listeners {
		lc := net.ListenConfig{}
		if l.cfg.ReusePort {
			lc.Control = reusePort
		}
		ln, err := lc.Listen(context.Background(), "tcp", l.cfg.Address)
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("listener %s: %w", l.cfg.Name, err)
		}
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		l.handler.Port = port
		l.ln = &trackedListener{Listener: ln, h: l.handler}
		l.srv = &http.Server{
			Handler:           l.handler,
			ReadHeaderTimeout: l.cfg.IdleTimeout.D(),
			IdleTimeout:       l.cfg.IdleTimeout.D(),
			MaxHeaderBytes:    maxRequestHeader,
			ConnContext:       connContext,
			ConnState:         connState,
			ErrorLog:          log.New(slogWriter{s.logger}, "", 0),
		}
		if l.cfg.Protocol == "https" {
			cert, err := tls.LoadX509KeyPair(l.cfg.TLS.CertFile, l.cfg.TLS.KeyFile)
			if err != nil {
				s.closeListeners()
				return fmt.Errorf("listener %s: %w", l.cfg.Name, err)
			}
			l.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}
			l.ln = tls.NewListener(l.ln, l.srv.TLSConfig)
		}
	}
	return nil
}

func (s *Server) closeListeners() {
	for _, l := range s.listeners {
		if l.ln != nil {
			l.ln.Close()
		}
	}
}

// Addrs returns each listener's bound address by name, after Listen.
func (s *Server) Addrs() map[string]string {
	m := map[string]string{}
	for _, l := range s.listeners {
		if l.ln != nil {
			m[l.cfg.Name] = l.ln.Addr().String()
		}
	}
	return m
}

// Serve runs the listeners, health checks and access log until ctx is
// done, then shuts down gracefully: it stops accepting, lets in-flight
// requests finish for up to grace, then closes what is left. It returns nil
// after a clean shutdown.
func (s *Server) Serve(ctx context.Context, grace time.Duration) error {
	bg, stopBg := context.WithCancel(context.WithoutCancel(ctx))
	var bgWG sync.WaitGroup
	logCtx, stopLog := context.WithCancel(context.WithoutCancel(ctx))
	var logWG sync.WaitGroup
	if s.access != nil {
		logWG.Go(func() { s.access.Run(logCtx) })
	}
	for _, c := range s.checkers {
		bgWG.Go(func() { c.Run(bg) })
	}
	bgWG.Go(func() { s.reap(bg) })

	errs := make(chan error, len(s.listeners))
	var srvWG sync.WaitGroup
	for _, l := range s.listeners {
		s.logger.Info("listener started", "listener", l.cfg.Name, "address", l.ln.Addr().String(), "protocol", l.cfg.Protocol)
		srvWG.Go(func() {
			if err := l.srv.Serve(l.ln); !errors.Is(err, http.ErrServerClosed) {
				errs <- fmt.Errorf("listener %s: %w", l.cfg.Name, err)
			}
		})
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errs:
	}
	s.logger.Info("shutting down", "grace", grace.String())
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	var shutWG sync.WaitGroup
	for _, l := range s.listeners {
		shutWG.Go(func() {
			if err := l.srv.Shutdown(sctx); err != nil {
				s.logger.Warn("grace period over, closing connections", "listener", l.cfg.Name)
				l.srv.Close()
			}
		})
	}
	shutWG.Wait()
	srvWG.Wait()
	stopBg()
	bgWG.Wait()
	for _, g := range s.groups {
		g.Transport.CloseIdle()
	}
	stopLog()
	logWG.Wait()
	if s.access != nil {
		s.access.Close()
	}
	s.checkLog.Close()
	s.logger.Info("stopped")
	return serveErr
}

// reap closes expired idle target connections every few seconds.
func (s *Server) reap(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			for _, g := range s.groups {
				g.Transport.Reap(now)
			}
		}
	}
}

// slogWriter routes net/http's own error log (TLS handshake failures and
// the like) to slog at debug level.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Debug("http server", "msg", string(p))
	return len(p), nil
}
