package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/fulcrumlb/fulcrum/internal/admin"
	"github.com/fulcrumlb/fulcrum/internal/config"
	"github.com/fulcrumlb/fulcrum/internal/heapprofile"
	"github.com/fulcrumlb/fulcrum/internal/proxy"
)

func newServe(stdout, stderr io.Writer) *cobra.Command {
	var path, logFormat, logLevel string
	cmd := &cobra.Command{
		Use:   "serve -c FILE",
		Short: "Run the load balancer in the foreground",
		Long: "serve loads and validates the configuration, binds every listener, and proxies\n" +
			"until SIGTERM or SIGINT, then drains in-flight requests for shutdown_grace and\n" +
			"exits 0. SIGHUP (or fulcrum reload) reads the file again and applies it without\n" +
			"dropping a request; a file with problems changes nothing. Operational logs go\n" +
			"to stderr.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := newLogger(stderr, logFormat, logLevel)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			src, err := config.ReadLimited(path, config.MaxConfigFile)
			if err != nil {
				return configFailure(fmt.Errorf("read config: %w", err))
			}
			cfg, err := config.LoadAt(src, filepath.Dir(path))
			if err != nil {
				return configFailure(err)
			}
			load := func() (*config.Config, []byte, error) {
				src, err := config.ReadLimited(path, config.MaxConfigFile)
				if err != nil {
					return nil, nil, fmt.Errorf("read config: %w", err)
				}
				cfg, err := config.LoadAt(src, filepath.Dir(path))
				return cfg, src, err
			}
			// cluster.config_key: the configuration comes from etcd (configkey.go).
			ck, err := newConfigKey(cfg, filepath.Dir(path), load, logger)
			if err != nil {
				return configFailure(err)
			}
			var watch func(context.Context, *sync.WaitGroup, func())
			if ck != nil {
				load, watch = ck.load, ck.run
				if kc, ksrc, err := ck.load(); err != nil {
					logger.Error("cluster.config_key has problems; starting with the configuration file", "error", err)
				} else {
					cfg, src = kc, ksrc
				}
			}
			if abs, err := filepath.Abs(path); err == nil {
				path = abs // reported by GET /api/v1/config, compared by `fulcrum reload -c`
			}
			return serve(cmd.Context(), cfg, logger, stdout, proxy.Options{Load: load, Source: src, Path: path}, watch)
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "fulcrum.yaml", "configuration file")
	cmd.Flags().StringVar(&logFormat, "log-format", "text", "operational log format: text or json")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}

// serve runs the load balancer and its admin server until SIGTERM or
// SIGINT, reloading on SIGHUP. The admin server keeps answering while the
// listeners drain. opts carries how to read the file again.
//
// watch, when not nil, runs until serve returns and calls its reload
// function when the configuration's source changed (cluster.config_key).
func serve(ctx context.Context, cfg *config.Config, logger *slog.Logger, stdout io.Writer, opts proxy.Options, watch func(context.Context, *sync.WaitGroup, func())) error {
	gogc := setServeGCPercent(os.Getenv("GOGC"))
	logger.Debug("garbage collector target", "gogc", gogc)
	if cfg.Admin.Pprof {
		// /debug/pprof/heap has samples from here on; package
		// initialisation ran without (internal/heapprofile).
		heapprofile.Restore(os.Getenv("GODEBUG"))
	}
	token := ""
	if cfg.Admin.TokenFile != "" {
		t, err := admin.ReadToken(cfg.Admin.TokenFile)
		if err != nil {
			return &exitError{code: 1, err: err}
		}
		token = t
	}
	opts.Logger, opts.Stdout = logger, stdout
	st, err := newStack(cfg, token, opts)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	srv, adm := st.srv, st.adm
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
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
	if watch != nil {
		watch(sigCtx, &wg, func() { srv.Reload(sigCtx) }) // logs and counts its outcome
	}
	wg.Go(func() {
		for {
			select {
			case <-sigCtx.Done():
				return
			case <-hup:
				logger.Info("SIGHUP: reloading the configuration")
				srv.Reload(sigCtx) // logs and counts its outcome
			case <-usr1:
				logger.Info("SIGUSR1: reopening the access log")
				srv.ReopenLogs()
			}
		}
	})
	if err := srv.Serve(sigCtx, cfg.ShutdownGrace.D()); err != nil {
		return &exitError{code: 1, err: err}
	}
	return nil
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %q is not debug, info, warn or error: %w", level, err)
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
