package cli

import (
	"fmt"
	"io"
	"log/slog"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/fulcrumlb/fulcrum/internal/config"
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
			srv, err := proxy.New(cfg, logger, stdout)
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			if err := srv.Listen(); err != nil {
				return &exitError{code: 1, err: err}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			if err := srv.Serve(ctx, cfg.ShutdownGrace.D()); err != nil {
				return &exitError{code: 1, err: err}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "fulcrum.yaml", "configuration file")
	cmd.Flags().StringVar(&logFormat, "log-format", "text", "operational log format: text or json")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
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
