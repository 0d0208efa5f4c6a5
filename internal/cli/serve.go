package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os/signal"
	"sync"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/fulcrumlb/fulcrum/internal/accesslog"
	"github.com/fulcrumlb/fulcrum/internal/admin"
	"github.com/fulcrumlb/fulcrum/internal/config"
	"github.com/fulcrumlb/fulcrum/internal/metrics"
	"github.com/fulcrumlb/fulcrum/internal/proxy"
)

func newServe(stdout, stderr io.Writer) *cobra.Command {
	var path, logFormat, logLevel string
	cmd := &cobra.Command{
		Use:   "serve -c FILE",
		Short: "Run the load balancer in the foreground",
		Long: "serve loads and validates the configuration, binds every listener, and proxies\n" +
			"until SIGTERM or SIGINT, then drains in-flight requests for shutdown_grace and\n" +
			"exits 0. Operational logs go to stderr.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := newLogger(stderr, logFormat, logLevel)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			cfg, err := config.LoadFile(path)
			if err != nil {
				return configFailure(err)
			}
			return serve(cmd.Context(), cfg, logger, stdout)
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "fulcrum.yaml", "configuration file")
	cmd.Flags().StringVar(&logFormat, "log-format", "text", "operational log format: text or json")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}

// serve runs the load balancer and its admin server until SIGTERM or
// SIGINT. The admin server keeps answering while the listeners drain.
func serve(ctx context.Context, cfg *config.Config, logger *slog.Logger, stdout io.Writer) error {
	token := ""
	if cfg.Admin.TokenFile != "" {
		t, err := admin.ReadToken(cfg.Admin.TokenFile)
		if err != nil {
			return &exitError{code: 1, err: err}
		}
		token = t
	}
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	history := accesslog.NewHistory(cfg.Admin.RequestHistory)
	srv, err := proxy.New(cfg, proxy.Options{Logger: logger, Stdout: stdout, Metrics: m, History: history})
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	adm := &admin.Server{Address: cfg.Admin.Address, Token: token, Socket: cfg.Admin.Socket, Gatherer: reg,
		Groups: srv.TargetGroups, History: history, Logger: logger}
	if err := adm.Listen(); err != nil {
		return &exitError{code: 1, err: err}
	}
	if err := srv.Listen(); err != nil {
		adm.Close()
		return &exitError{code: 1, err: err}
	}
	logger.Info("admin started", "address", adm.Addr(), "socket", cfg.Admin.Socket, "token", token != "")
	admCtx, stopAdmin := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := adm.Serve(admCtx); err != nil {
			logger.Error("admin server failed", "error", err)
		}
	})
	defer func() {
		stopAdmin()
		wg.Wait()
	}()
	sigCtx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := srv.Serve(sigCtx, cfg.ShutdownGrace.D()); err != nil {
		return &exitError{code: 1, err: err}
	}
	return nil
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: %q is not text or json", format)
}
