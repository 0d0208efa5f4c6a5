package cli

import (
	"bytes"
	"fmt"
	"io"
	"os/signal"
	"syscall"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/spf13/cobra"

	"github.com/fulcrumlb/fulcrum/internal/admin"
	"github.com/fulcrumlb/fulcrum/internal/config"
	"github.com/fulcrumlb/fulcrum/internal/doctor"
)

func newDoctor(stdout, stderr io.Writer) *cobra.Command {
	var cfgPath, adminURL, group, output, tokenFile string
	var keepalive, timeout time.Duration
	cmd := &cobra.Command{
		Use:   "doctor -c FILE [--admin URL] [--target-group NAME] [-o text|json|markdown]",
		Short: "Probe every listener and target and explain what fails, with evidence and a fix",
		Long: "doctor probes the configuration's listeners and targets live: DNS, TCP connect to the\n" +
			"traffic and health-check ports, TLS and the certificate, the configured health check,\n" +
			"one response read byte for byte, and how long the target keeps an idle connection.\n" +
			"With --admin (or when admin.address answers) it adds a running Fulcrum's live error\n" +
			"counts. It never sends more than a handful of requests to a target.\n\n" +
			"Exit status: 0 without error findings, 1 with at least one, 2 when doctor could not run.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" && output != "markdown" {
				return &exitError{code: 2, err: fmt.Errorf("-o: %q is not text, json or markdown", output)}
			}
			cfg, err := config.LoadFile(cfgPath)
			if err != nil {
				fe := configFailure(err).(*exitError)
				fe.code = 2 // doctor could not run
				return fe
			}
			if tokenFile == "" {
				tokenFile = cfg.Admin.TokenFile
			}
			token := ""
			if tokenFile != "" {
				if token, err = admin.ReadToken(tokenFile); err != nil {
					return &exitError{code: 2, err: err}
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			o := doctor.Options{TargetGroup: group, KeepAliveLimit: keepalive, ProbeTimeout: timeout,
				Live: doctorLive(ctx, doctorAdmin(cfg, cfgPath, adminURL, token))}
			var bars *doctorBars
			if isTerminal(stderr) {
				bars = newDoctorBars(ctx, stderr)
				o.Progress = bars
			}
			rep, err := doctor.Run(ctx, cfg, o)
			if bars != nil {
				bars.Wait()
			}
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			var buf bytes.Buffer
			switch output {
			case "json":
				err = rep.WriteJSON(&buf)
			case "markdown":
				err = rep.WriteMarkdown(&buf)
			default:
				err = rep.WriteText(&buf, lipgloss.NewRenderer(stdout))
			}
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			stdout.Write(buf.Bytes())
			if rep.Errors() > 0 {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&cfgPath, "config", "c", "fulcrum.yaml", "configuration file")
	f.StringVar(&adminURL, "admin", "", "admin API URL or host:port (default admin.address from -c, when it answers)")
	f.StringVar(&tokenFile, "token-file", "", "file holding the admin bearer token (default admin.token_file from -c)")
	f.StringVar(&group, "target-group", "", "probe only this target group")
	f.StringVarP(&output, "output", "o", "text", "text, json or markdown")
	f.DurationVar(&keepalive, "keepalive-probe", 5*time.Second, "how long to wait for a target to close an idle connection when neither its Keep-Alive header nor a running fulcrum tells")
	f.DurationVar(&timeout, "probe-timeout", 5*time.Second, "timeout of each connect, TLS and response probe")
	return cmd
}
