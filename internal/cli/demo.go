package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/spf13/cobra"

	"github.com/fulcrumlb/fulcrum/internal/config"
	"github.com/fulcrumlb/fulcrum/internal/doctor"
	"github.com/fulcrumlb/fulcrum/internal/proxy"
)

func newDemo(stdout io.Writer) *cobra.Command {
	var listen string
	var duration, dieAfter time.Duration
	cmd := &cobra.Command{
		Use:   "demo [--duration 20s]",
		Short: "Run Fulcrum in front of built-in failing targets and show what it explains",
		Long: "demo starts Fulcrum on 127.0.0.1:8080 in front of four built-in local targets: a healthy one,\n" +
			"one whose process dies after a few seconds, one that closes idle connections after 1s, and\n" +
			"one that sends an invalid header. It drives light traffic for --duration, then prints\n" +
			"`fulcrum status` and `fulcrum doctor`. No config, no setup.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), stdout, listen, duration, dieAfter)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "address of the demo listener")
	cmd.Flags().DurationVar(&duration, "duration", 20*time.Second, "how long to drive traffic before the report")
	cmd.Flags().DurationVar(&dieAfter, "die-after", 5*time.Second, "when the dying target's process stops")
	return cmd
}

// demoTargets are the built-in targets, each on 127.0.0.1:0.
type demoTargets struct {
	healthy, dying, shortKeepalive, badHeader string
	closers                                   []func()
}

func (d *demoTargets) close() {
	for _, c := range d.closers {
		c()
	}
}

func startDemoTargets(dieAfter time.Duration) (*demoTargets, error) {
	d := &demoTargets{}
	serve := func(idle time.Duration, h http.HandlerFunc) (string, *http.Server, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", nil, err
		}
		srv := &http.Server{Handler: h, IdleTimeout: idle, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		d.closers = append(d.closers, func() { srv.Close() })
		return ln.Addr().String(), srv, nil
	}
	hello := func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hello from a healthy target\n") }
	var err error
	if d.healthy, _, err = serve(0, hello); err != nil {
		return nil, err
	}
	var dying *http.Server
	if d.dying, dying, err = serve(0, hello); err != nil {
		d.close()
		return nil, err
	}
	die := time.AfterFunc(dieAfter, func() { dying.Close() }) // the process "dies": its port refuses
	d.closers = append(d.closers, func() { die.Stop() })
	if d.shortKeepalive, _, err = serve(time.Second, hello); err != nil {
		d.close()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		d.close()
		return nil, err
	}
	d.badHeader = ln.Addr().String()
	var wg sync.WaitGroup
	d.closers = append(d.closers, func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-Debug Info: broken\r\n\r\nok\n")
				}
			})
		}
	})
	return d, nil
}

func runDemo(ctx context.Context, stdout io.Writer, listen string, duration, dieAfter time.Duration) error {
	targets, err := startDemoTargets(dieAfter)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	defer targets.close()
	yaml := fmt.Sprintf(`admin: {address: "127.0.0.1:0"}
shutdown_grace: 2s
listeners: [{name: demo, address: %q, default_target_group: app}]
target_groups:
  - name: app
    connect_timeout: 2s
    health_check: {interval: 2s, timeout: 1s, healthy_threshold: 2, unhealthy_threshold: 2}
    targets:
      - address: %q
      - address: %q
      - address: %q
      - address: %q
`, listen, targets.healthy, targets.dying, targets.shortKeepalive, targets.badHeader)
	cfg, err := config.Load([]byte(yaml))
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	st, err := newStack(cfg, "", proxy.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("%w (another fulcrum demo running? try --listen 127.0.0.1:0)", err)}
	}
	srv, adm := st.srv, st.adm
	addr := srv.Addrs()["demo"]
	fmt.Fprintf(stdout, "fulcrum demo: Fulcrum on http://%s, admin on http://%s\n", addr, adm.Addr())
	fmt.Fprintf(stdout, "targets: %s healthy, %s dies after %s, %s closes idle connections after 1s, %s sends an invalid header\n",
		targets.healthy, targets.dying, dieAfter, targets.shortKeepalive, targets.badHeader)
	fmt.Fprintf(stdout, "driving light traffic for %s ...\n", duration)

	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { adm.Serve(runCtx) })
	wg.Go(func() { srv.Serve(runCtx, 2*time.Second) })
	defer func() {
		stopRun()
		wg.Wait()
	}()

	var sent, okN, failed atomic.Int64
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	trafficCtx, stopTraffic := context.WithTimeout(ctx, duration)
	defer stopTraffic()
	tick := time.NewTicker(100 * time.Millisecond)
	report := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	defer report.Stop()
loop:
	for {
		select {
		case <-trafficCtx.Done():
			break loop
		case <-report.C:
			fmt.Fprintf(stdout, "  %d requests: %d ok, %d failed\n", sent.Load(), okN.Load(), failed.Load())
		case <-tick.C:
			wg.Go(func() {
				sent.Add(1)
				resp, err := client.Get("http://" + addr + "/")
				if err != nil {
					failed.Add(1)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode < 500 {
					okN.Add(1)
				} else {
					failed.Add(1)
				}
			})
		}
	}
	fmt.Fprintf(stdout, "  %d requests: %d ok, %d failed\n\n", sent.Load(), okN.Load(), failed.Load())

	var buf bytes.Buffer
	status := &adminClient{base: "http://" + adm.Addr(), http: &http.Client{Timeout: 5 * time.Second}}
	if err := status.status(context.WithoutCancel(ctx), &buf, "table", lipgloss.NewRenderer(stdout)); err != nil {
		return &exitError{code: 1, err: err}
	}
	fmt.Fprintf(stdout, "$ fulcrum status\n%s\n", buf.String())
	buf.Reset()
	// doctor probes what is running: a copy of the config with the bound
	// addresses, never the server's own.
	probe := *cfg
	probe.Listeners = slices.Clone(cfg.Listeners)
	probe.Listeners[0].Address = addr
	probe.Admin.Address = adm.Addr()
	rep, err := doctor.Run(context.WithoutCancel(ctx), &probe, doctor.Options{Live: doctorLive(context.WithoutCancel(ctx), status), KeepAliveLimit: 3 * time.Second, ProbeTimeout: 2 * time.Second})
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	rep.WriteText(&buf, lipgloss.NewRenderer(stdout))
	fmt.Fprintf(stdout, "$ fulcrum doctor\n%s", buf.String())
	fmt.Fprintln(stdout, "\nThe demo's targets are gone now. On your own setup: fulcrum doctor -c fulcrum.yaml;\n"+
		"while fulcrum serve runs, fulcrum status, and every failed request's story at\n"+
		"/api/v1/requests?failed=true on its admin.address. docs/doctor.md explains each finding.")
	return nil
}
