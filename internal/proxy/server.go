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
	"sync/atomic"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/accesslog"
	"github.com/fulcrumlb/fulcrum/internal/config"
	"github.com/fulcrumlb/fulcrum/internal/health"
	"github.com/fulcrumlb/fulcrum/internal/metrics"
	"github.com/fulcrumlb/fulcrum/internal/netloop"
	"github.com/fulcrumlb/fulcrum/internal/stickiness"
	"github.com/fulcrumlb/fulcrum/internal/target"
)

// ErrNotServing is returned by runtime changes before Serve runs or after
// it returned.
var ErrNotServing = errors.New("the load balancer is not serving")

// Server is a running load balancer: its listeners, target groups, health
// checkers and access log. Its configuration can change while it serves:
// Reload swaps in a new configuration, Register and Deregister change
// target groups' targets.
type Server struct {
	logger   *slog.Logger
	stdout   io.Writer
	access   *accesslog.Logger
	checkLog *health.CheckLog
	metrics  *metrics.Metrics
	history  *accesslog.History
	load     func() (*config.Config, []byte, error)
	sticky   *stickiness.Codec

	// snap is what the request path and the admin API read.
	snap atomic.Pointer[snapshot]
	info atomic.Pointer[config.Info]

	// mu serialises configuration changes; the fields below are guarded.
	mu        sync.Mutex
	cfg       *config.Config
	states    map[string]*groupState
	listeners map[string]*listener
	serving   bool
	bg        context.Context
	bgWG      sync.WaitGroup
	srvWG     sync.WaitGroup
	errs      chan error
	grace     time.Duration
	fleet     atomic.Pointer[fleet] // discovery.go
	// loopsN is Options.EventLoops; loops are the event loops, started
	// with the first plain-HTTP listener served.
	loopsN int
	loops  *netloop.Group
}

// snapshot is one immutable generation of the routing configuration.
type snapshot struct {
	groups map[string]*Group
	order  []*Group
}

// groupState is what a target group keeps across reloads: its targets
// (target.Group), transport, queue and health checker. Each reload wraps it
// in a new Group.
type groupState struct {
	targets      *target.Group
	transport    *Transport
	transportKey string
	queue        *queue
	checkerKey   string
	stopChecker  context.CancelFunc
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
	// Load reads the configuration again for Reload: the parsed config and
	// the file's bytes. Nil makes Reload fail.
	Load func() (*config.Config, []byte, error)
	// Source is the configuration file's bytes, shown by /api/v1/config.
	Source []byte
	// Path is the configuration file's path, shown by /api/v1/config.
	Path string
	// EventLoops is the number of event loops (internal/netloop) that
	// serve the plain-HTTP listeners' connections; 0 means one per
	// GOMAXPROCS, and a negative number puts every listener on the
	// goroutine layer (a goroutine per connection). HTTPS listeners are
	// always on the goroutine layer.
	EventLoops int
}

type listener struct {
	cfg     config.Listener
	handler *Handler
	srv     *connServer
	ln      net.Listener
	tl      *trackedListener
	tlsCfg  atomic.Pointer[tls.Config] // tls.go
}

// New builds a server from a validated configuration. It opens the access
// and health-check logs but binds nothing. It keeps a deep copy of cfg
// (config.Config.Clone): the caller may change or reuse cfg afterwards.
func New(cfg *config.Config, opts Options) (*Server, error) {
	cfg = cfg.Clone()
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	stdout := opts.Stdout
	if stdout == nil {
		stdout = io.Discard
	}
	s := &Server{logger: logger, stdout: stdout, metrics: opts.Metrics, history: opts.History, load: opts.Load,
		states: map[string]*groupState{}, listeners: map[string]*listener{}, loopsN: opts.EventLoops}
	s.info.Store(&config.Info{Path: opts.Path, Source: string(opts.Source), LoadedAt: time.Now()})
	sticky, err := stickiness.Load(cfg.StickinessKeyFile)
	if err != nil {
		return nil, err
	}
	s.sticky = sticky
	if c := cfg.HealthCheckLog; c != nil {
		l, err := health.OpenCheckLog(c.Path, stdout)
		if err != nil {
			return nil, err
		}
		s.checkLog = l
	}
	if a := cfg.AccessLog; a != nil {
		l, err := accesslog.Open(a.Path, a.Format, a.BufferLines, stdout)
		if err != nil {
			s.checkLog.Close()
			return nil, err
		}
		l.SetEvents(logger)
		s.access = l
		s.metrics.WatchAccessLog(l.Dropped)
	}
	snap, err := s.build(cfg, time.Now())
	if err != nil {
		s.checkLog.Close()
		if s.access != nil {
			s.access.Close()
		}
		return nil, err
	}
	s.snap.Store(snap)
	s.cfg = cfg
	for _, g := range snap.order {
		s.states[g.Name] = &groupState{targets: g.Targets, transport: g.Transport, transportKey: transportKey(g.cfg), queue: g.queue}
	}
	for _, lc := range cfg.Listeners {
		s.listeners[lc.Name] = s.newListener(lc, snap)
	}
	s.metrics.WatchTargetGroups(s.TargetGroups)
	s.metrics.WatchQueues(s.queueLengths)
	return s, nil
}

// build creates the snapshot of cfg, reusing the state of groups that
// exist already (a reload). It changes no running group: new targets and
// checkers are applied by the caller once the whole config is known to
// build.
func (s *Server) build(cfg *config.Config, now time.Time) (*snapshot, error) {
	snap := &snapshot{groups: map[string]*Group{}}
	for _, tc := range cfg.TargetGroups {
		st := s.states[tc.Name]
		var ts *target.Group
		var tr *Transport
		q := newQueue()
		if st != nil {
			ts, q = st.targets, st.queue
			if st.transportKey == transportKey(tc) {
				tr = st.transport
			}
		} else {
			list := make([]*target.Target, 0, len(tc.Targets))
			for _, t := range tc.Targets {
				list = append(list, newTarget(tc, t, now))
			}
			ts = target.NewGroup(tc.Name, list)
		}
		if tr == nil {
			var err error
			if tr, err = newTransport(tc); err != nil {
				return nil, fmt.Errorf("target group %s: %w", tc.Name, err)
			}
		}
		g, err := newGroup(tc, ts, tr, q, s.logger, func(t *target.Target) { s.metrics.OutlierEjection(t.Group, t.Address) })
		if err != nil {
			return nil, fmt.Errorf("target group %s: %w", tc.Name, err)
		}
		snap.groups[tc.Name] = g
		snap.order = append(snap.order, g)
		s.metrics.AddTargetGroup(tc.Name)
	}
	return snap, nil
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

// ReopenLogs closes and reopens the access log file, after a rotation or
// once its disk is back (SIGUSR1, like nginx -s reopen). It does not wait.
func (s *Server) ReopenLogs() {
	if s.access != nil {
		s.access.Reopen()
	}
}

// TargetGroups returns the target groups in configuration order.
func (s *Server) TargetGroups() []*target.Group {
	snap := s.snap.Load()
	out := make([]*target.Group, len(snap.order))
	for i, g := range snap.order {
		out[i] = g.Targets
	}
	return out
}

func (s *Server) queueLengths() map[string]int64 {
	m := map[string]int64{}
	for _, g := range s.snap.Load().order {
		m[g.Name] = g.QueueLength()
	}
	return m
}

// Group returns the named target group of the active configuration, or nil.
func (s *Server) Group(name string) *Group { return s.snap.Load().groups[name] }

// ConfigInfo returns the active configuration's source and the outcome of
// the last reload.
func (s *Server) ConfigInfo() config.Info { return *s.info.Load() }

func (s *Server) newListener(lc config.Listener, snap *snapshot) *listener {
	h := &Handler{
		Listener:  lc.Name,
		TLS:       lc.Protocol == "https",
		AccessLog: s.access,
		History:   s.history,
		Metrics:   s.metrics,
		Logger:    s.logger,
		Sticky:    s.sticky,
	}
	h.setRoutes(lc, snap.groups)
	s.metrics.AddListener(lc.Name)
	return &listener{cfg: lc, handler: h}
}

// Listen binds every listener. On any failure it closes what it bound and
// returns an error naming the listener.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, lc := range s.cfg.Listeners {
		if err := s.bind(s.listeners[lc.Name]); err != nil {
			for _, l := range s.listeners {
				if l.ln != nil {
					l.ln.Close()
				}
			}
			return err
		}
	}
	return nil
}

// bind opens l's socket and its connection server (conn.go).
func (s *Server) bind(l *listener) error {
	lc := net.ListenConfig{}
	if l.cfg.ReusePort {
		lc.Control = reusePort
	}
	ln, err := lc.Listen(context.Background(), "tcp", l.cfg.Address)
	if err != nil {
		return fmt.Errorf("listener %s: %w", l.cfg.Name, err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	l.handler.Port = port
	l.tl = &trackedListener{Listener: ln, h: l.handler}
	l.tl.max.Store(int64(l.cfg.MaxConnections))
	l.ln = l.tl
	var tlsCfg *tls.Config
	if l.cfg.Protocol == "https" {
		if err := l.loadCert(); err != nil {
			ln.Close()
			return err
		}
		tlsCfg = &tls.Config{NextProtos: []string{"h2", "http/1.1"},
			GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return l.tlsCfg.Load(), nil }}
	}
	l.srv = newConnServer(l.handler, tlsCfg, log.New(slogWriter{s.logger}, "", 0), l.cfg.IdleTimeout.D())
	return nil
}

// Addrs returns each listener's bound address by name, after Listen.
func (s *Server) Addrs() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string]string{}
	for _, l := range s.listeners {
		if l.ln != nil {
			m[l.cfg.Name] = l.ln.Addr().String()
		}
	}
	return m
}

// serveListener runs l's connection server until it is shut down.
func (s *Server) serveListener(l *listener) {
	l.srv.loops = s.loopsFor(l)
	layer := "goroutine"
	if l.srv.loops != nil {
		layer = "event loops"
	}
	s.logger.Info("listener started", "listener", l.cfg.Name, "address", l.ln.Addr().String(), "protocol", l.cfg.Protocol, "io", layer)
	s.srvWG.Go(func() {
		if err := l.srv.serve(l.ln); !errors.Is(err, http.ErrServerClosed) {
			select {
			case s.errs <- fmt.Errorf("listener %s: %w", l.cfg.Name, err):
			default:
			}
		}
	})
}

// loopsFor returns the event loops for l's connections, starting them
// for the first plain-HTTP listener; nil puts l on the goroutine layer:
// an HTTPS listener (its TLS stays with crypto/tls on goroutines),
// EventLoops < 0, or loops that could not start. Called with s.mu held.
func (s *Server) loopsFor(l *listener) *netloop.Group {
	if l.cfg.Protocol != "http" || s.loopsN < 0 {
		return nil
	}
	if s.loops == nil {
		g, err := netloop.Start(s.loopsN)
		if err != nil {
			s.logger.Warn("event loops unavailable; listeners stay on the goroutine layer", "error", err)
			s.loopsN = -1
			return nil
		}
		s.loops = g
	}
	return s.loops
}

// shutdownListener stops l accepting, lets its requests finish for up to
// grace, then closes what is left.
func (s *Server) shutdownListener(l *listener, grace time.Duration) {
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := l.srv.shutdown(sctx); err != nil {
		s.logger.Warn("grace period over, closing connections", "listener", l.cfg.Name)
	}
}

// startChecker (re)starts the health checks of a group.
func (s *Server) startChecker(st *groupState, tc config.TargetGroup) error {
	if st.stopChecker != nil {
		st.stopChecker()
		st.stopChecker = nil
	}
	st.checkerKey = checkerKey(tc)
	c, err := newChecker(tc, st.targets, s.logger)
	if err != nil || c == nil {
		return err
	}
	c.OnResult = s.onCheck(checkKind(tc))
	ctx, stop := context.WithCancel(s.bg)
	st.stopChecker = stop
	s.bgWG.Go(func() { c.Run(ctx) })
	return nil
}

// Serve runs the listeners, health checks and access log until ctx is
// done, then shuts down gracefully: it stops accepting, lets in-flight
// requests finish for up to grace, then closes what is left. It returns nil
// after a clean shutdown.
func (s *Server) Serve(ctx context.Context, grace time.Duration) error {
	logCtx, stopLog := context.WithCancel(context.WithoutCancel(ctx))
	var logWG sync.WaitGroup
	if s.access != nil {
		logWG.Go(func() { s.access.Run(logCtx) })
	}
	bg, stopBg := context.WithCancel(context.WithoutCancel(ctx))

	s.mu.Lock()
	s.bg, s.errs, s.grace = bg, make(chan error, 1), grace
	for _, tc := range s.cfg.TargetGroups {
		if err := s.startChecker(s.states[tc.Name], tc); err != nil {
			s.logger.Error("health checks not started", "target_group", tc.Name, "error", err)
		}
	}
	s.bgWG.Go(func() { s.tick(bg) })
	s.startFleet(bg) // discovery.go
	for _, lc := range s.cfg.Listeners {
		s.serveListener(s.listeners[lc.Name])
	}
	s.serving = true
	s.mu.Unlock()

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-s.errs:
	}
	s.logger.Info("shutting down", "grace", grace.String())
	s.mu.Lock()
	s.serving = false
	var shutWG sync.WaitGroup
	for _, l := range s.listeners {
		shutWG.Go(func() { s.shutdownListener(l, grace) })
	}
	s.mu.Unlock()
	shutWG.Wait()
	s.srvWG.Wait()
	stopBg()
	s.bgWG.Wait()
	for _, st := range s.states {
		st.transport.CloseIdle()
	}
	if s.loops != nil {
		s.loops.Close()
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

// tick runs the periodic work: every second it ends expired outlier
// ejections and moves slow start ramps along; every five seconds it closes
// expired idle target connections.
func (s *Server) tick(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			for _, g := range s.snap.Load().order {
				g.Outlier.Sweep(now)
				if g.Targets.Routes().SlowStart {
					g.Targets.RefreshAt(now)
				}
				if n%5 == 0 {
					g.Transport.Reap(now)
				}
			}
		}
	}
}

// slogWriter routes the connection loop's and HTTP/2's error log (TLS
// handshake failures and the like) to slog at debug level.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Debug("http server", "msg", string(p))
	return len(p), nil
}
