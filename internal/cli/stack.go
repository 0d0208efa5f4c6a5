package cli

import (
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fulcrumlb/fulcrum/internal/accesslog"
	"github.com/fulcrumlb/fulcrum/internal/admin"
	"github.com/fulcrumlb/fulcrum/internal/config"
	"github.com/fulcrumlb/fulcrum/internal/metrics"
	"github.com/fulcrumlb/fulcrum/internal/proxy"
)

// stack is one running Fulcrum as serve and demo build it: the proxy
// server, its admin server, and what they share (the metrics registry and
// the request history). newStack is the one composition root, so the two
// commands cannot wire them differently.
type stack struct {
	srv     *proxy.Server
	adm     *admin.Server
	history *accesslog.History
}

// newStack builds the proxy and admin servers for cfg and binds the admin
// server's address, then every listener. token is the admin bearer token
// ("" for none). opts carries the proxy's logger, stdout, path and load
// function; its Metrics and History are filled in here. On error nothing
// stays bound.
func newStack(cfg *config.Config, token string, opts proxy.Options) (*stack, error) {
	reg := prometheus.NewRegistry()
	history := accesslog.NewHistoryRings(cfg.Admin.RequestHistory, cfg.Admin.RequestHistoryFailures, cfg.Admin.RequestHistoryBytes)
	opts.Metrics, opts.History = metrics.New(reg), history
	opts.EventLoops = eventLoops(os.Getenv("FULCRUM_IO"))
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	srv, err := proxy.New(cfg, opts)
	if err != nil {
		return nil, err
	}
	reg.MustRegister(srv.DiscoveryCollector(), srv.ClusterCollector())
	var control admin.Controller = srv
	if cfg.Cluster != nil {
		control = proxy.FleetControl{Server: srv} // registrations go to the fleet too
	}
	mode, _ := config.ParseMode(cfg.Admin.SocketMode) // validated
	adm := &admin.Server{Address: cfg.Admin.Address, Token: token, Socket: cfg.Admin.Socket, Gatherer: reg,
		SocketMode: mode, AllowedHosts: cfg.Admin.AllowedHosts, Pprof: cfg.Admin.Pprof,
		Groups: srv.TargetGroups, History: history, Logger: opts.Logger, Control: control,
		Queues: srv.QueueLengths, QueueMax: srv.QueueMaxima, Frontends: frontends(srv), Discovery: srv.Discovery, Fleet: srv.Fleet, AdminStateChanged: srv.ShareAdminState, Version: versionString(), Started: time.Now()}
	if err := adm.Listen(); err != nil {
		return nil, err
	}
	if err := srv.Listen(); err != nil {
		adm.Close()
		return nil, err
	}
	return &stack{srv: srv, adm: adm, history: history}, nil
}

// eventLoops maps FULCRUM_IO to proxy.Options.EventLoops: "goroutine"
// puts every listener on the goroutine layer (-1), "loop" or "" on event
// loops (0: one per GOMAXPROCS). It exists so that the end-to-end suite
// runs against both layers while both exist (issue 15); it is not a
// configuration setting.
func eventLoops(v string) int {
	if v == "goroutine" {
		return -1
	}
	return 0
}
