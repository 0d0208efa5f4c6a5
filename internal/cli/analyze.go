package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/fulcrumlb/fulcrum/internal/analyze"
)

// progressThreshold is the input size above which a terminal gets a
// progress bar.
const progressThreshold = 8 << 20

func newAnalyze(stdout, stderr io.Writer) *cobra.Command {
	var format, since, until, group, output, out string
	var haproxyFormat, nginxFormat, envoyFormat string
	var follow bool
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "analyze [flags] PATH...",
		Short: "Read load-balancer logs and say which side failed and why",
		Long: "analyze reads ALB (access and connection logs), Classic ELB, HAProxy, nginx\n" +
			"(error and access), Envoy and Istio, Traefik, Caddy and Fulcrum logs, bare or in\n" +
			"syslog, journald, docker, kubectl, CloudWatch or Loki envelopes, and ranks the\n" +
			"causes of failures, each with the log signature that identified it, example\n" +
			"lines and the fix. PATH is a file, a directory (read recursively), a glob, or -\n" +
			"for standard input; .gz files are read as they are. --follow keeps reading.\n" +
			"The format is detected per line unless --format says otherwise; custom formats\n" +
			"are given as their format strings (--haproxy-log-format, --nginx-log-format,\n" +
			"--envoy-log-format).",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, paths []string) error {
			if output != "text" && output != "json" && output != "html" {
				return &exitError{code: 2, err: fmt.Errorf("-o: %q is not text, json or html", output)}
			}
			o := analyze.Options{Format: format, TargetGroup: group, Stdin: cmd.InOrStdin(),
				HAProxyLogFormat: haproxyFormat, NginxLogFormat: nginxFormat, EnvoyLogFormat: envoyFormat}
			var err error
			if o.Since, err = parseWhen("--since", since); err != nil {
				return &exitError{code: 2, err: err}
			}
			if o.Until, err = parseWhen("--until", until); err != nil {
				return &exitError{code: 2, err: err}
			}
			if follow {
				return followReports(cmd, stdout, paths, o, output, interval)
			}
			var bar *mpb.Bar
			var prog *mpb.Progress
			if isTerminal(stderr) {
				o.Progress = func(done, total int64) {
					if total < progressThreshold {
						return
					}
					if bar == nil {
						prog = mpb.NewWithContext(cmd.Context(), mpb.WithOutput(stderr), mpb.WithWidth(40))
						bar = prog.New(total, mpb.BarStyle(), mpb.PrependDecorators(decor.Name("reading ")),
							mpb.AppendDecorators(decor.CountersKibiByte("% .1f / % .1f"), decor.Name(" "), decor.AverageSpeed(decor.SizeB1024(0), "% .1f")))
					}
					bar.SetCurrent(done)
				}
			}
			rep, err := analyze.Run(cmd.Context(), paths, o)
			if bar != nil {
				bar.SetTotal(-1, true)
				prog.Wait()
			}
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			var buf bytes.Buffer
			switch output {
			case "json":
				err = rep.WriteJSON(&buf)
			case "html":
				err = rep.WriteHTML(&buf)
			default:
				err = rep.WriteText(&buf)
			}
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			if out == "" || out == "-" {
				_, err = stdout.Write(buf.Bytes())
			} else {
				err = os.WriteFile(out, buf.Bytes(), 0o644)
			}
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			// A file of which no line parsed is an error: its report
			// would otherwise read as "nothing wrong".
			for _, in := range rep.Inputs {
				if in.Error == "" && in.Parsed == 0 {
					return &exitError{code: 2, err: fmt.Errorf("%s: no line parsed as %s (%d lines)", in.Path, in.Format, in.Lines)}
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", "auto", "auto, or one of "+strings.Join(analyze.FormatNames(), ", "))
	f.StringVar(&since, "since", "", "keep entries at or after this time (RFC 3339, or a duration ago such as 2h)")
	f.StringVar(&until, "until", "", "keep entries before this time (RFC 3339, or a duration ago)")
	f.StringVar(&group, "target-group", "", "keep entries of this target group (name, or ARN), backend or cluster")
	f.StringVarP(&output, "output", "o", "text", "text, json or html")
	f.BoolVar(&follow, "follow", false, "keep reading the files as they grow and rotate (like tail -F); report every --interval and at exit")
	f.DurationVar(&interval, "interval", 2*time.Second, "with --follow, how often the report is written")
	f.StringVar(&haproxyFormat, "haproxy-log-format", "", "HAProxy log-format string the logs were written with, as in haproxy.cfg")
	f.StringVar(&nginxFormat, "nginx-log-format", "", "nginx log_format directive (or its format string) the access logs were written with")
	f.StringVar(&envoyFormat, "envoy-log-format", "", "Envoy access log format string the logs were written with")
	f.StringVar(&out, "out", "", "write the report to this file instead of standard output")
	return cmd
}

// parseWhen parses an RFC 3339 time or a duration before now.
func parseWhen(flag, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return time.Now().Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%s: %q is neither an RFC 3339 time nor a duration", flag, v)
}

// followReports runs analyze.Follow until SIGINT or SIGTERM: on a
// terminal the 80-column summary, redrawn in place; otherwise (or with
// -o json) one JSON report per line.
func followReports(cmd *cobra.Command, stdout io.Writer, paths []string, o analyze.Options, output string, every time.Duration) error {
	if output == "html" {
		return &exitError{code: 2, err: fmt.Errorf("--follow: -o html is not live; use text or json")}
	}
	if every <= 0 {
		return &exitError{code: 2, err: fmt.Errorf("--interval: %v is not positive", every)}
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	tty := isTerminal(stdout)
	err := analyze.Follow(ctx, paths, o, every, func(r *analyze.Report) error {
		var buf bytes.Buffer
		switch {
		case output == "json":
			if err := r.WriteJSONLine(&buf); err != nil {
				return err
			}
		case tty:
			buf.WriteString("\x1b[H\x1b[2J") // home, clear: refresh in place
			if err := r.WriteSummary(&buf); err != nil {
				return err
			}
		default:
			if err := r.WriteSummary(&buf); err != nil {
				return err
			}
			buf.WriteString("\n")
		}
		_, err := stdout.Write(buf.Bytes())
		return err
	})
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	return nil
}
