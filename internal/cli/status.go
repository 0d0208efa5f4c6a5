package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/fulcrumlb/fulcrum/internal/admin"
	"github.com/fulcrumlb/fulcrum/internal/failure"
)

// statusWidth is the narrowest terminal width the table is laid out for;
// a wider terminal gets wider address and evidence columns.
const statusWidth = 80

// defaultConfig is the configuration file commands read by default.
const defaultConfig = "fulcrum.yaml"

func newStatus(stdout io.Writer) *cobra.Command {
	var af adminFlags
	var output string
	var watch, fleet bool
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "status [--admin URL|HOST:PORT | -c FILE] [-o table|json|csv] [--watch] [--fleet]",
		Short: "Show every target's health, traffic and top error from a running fulcrum",
		Long: "status reads /api/v1/target-groups from a running fulcrum's admin API and prints\n" +
			"one block per target group, one row per target: state, ALB reason, requests in\n" +
			"flight, requests per second over the last minute, the 5xx the target sent (5XX/S,\n" +
			"ALB HTTPCode_Target_5XX) beside the 5xx Fulcrum sent for it (LB5XX/S, ALB\n" +
			"HTTPCode_ELB_5XX), and the most frequent error type of the last 5 minutes with\n" +
			"the health evidence below it. A group without targets says how many requests got 503.\n\n" +
			"The admin address is --admin (a URL or host:port), else admin.address from -c FILE\n" +
			"(default fulcrum.yaml when it exists), else 127.0.0.1:9901. The bearer token\n" +
			"comes from --token-file, else from the config's admin.token_file. With --watch on\n" +
			"a terminal the table refreshes in place and q quits.\n\n" +
			"With --fleet it reads /api/v1/fleet instead: every instance of the cluster, whether\n" +
			"this one reaches etcd, and each target as each instance sees it, with verdicts such\n" +
			"as \"connection_refused seen by 3 of 3 instances\" against \"only lb-b sees\n" +
			"target_timeout\" (a dead target against a network path problem).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" && output != "csv" {
				return &exitError{code: 2, err: fmt.Errorf("-o: %q is not table, json or csv", output)}
			}
			if af.url == "" && af.config == "" {
				if _, err := os.Stat(defaultConfig); err == nil {
					af.config = defaultConfig // like serve, validate and doctor
				}
			}
			c, err := af.client()
			if err != nil {
				return err
			}
			c.width = terminalWidth(stdout)
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			tty := isTerminal(stdout)
			var quit <-chan struct{}
			if watch && tty {
				var restore func()
				quit, restore = watchKeys(ctx, os.Stdin)
				defer restore()
			}
			for {
				var buf bytes.Buffer
				show := func() error { return c.status(ctx, &buf, output, lipgloss.NewRenderer(stdout)) }
				if fleet {
					show = func() error { return c.fleetStatus(ctx, &buf, output) }
				}
				if err := show(); err != nil {
					return &exitError{code: 1, err: err}
				}
				if watch && tty {
					io.WriteString(stdout, "\x1b[H\x1b[2J") // home, clear: refresh in place
					fmt.Fprintf(stdout, "refreshed %s, every %s; q quits\n\n", time.Now().Format("15:04:05"), interval)
				}
				stdout.Write(buf.Bytes())
				if !watch {
					return nil
				}
				select {
				case <-ctx.Done():
					return nil
				case <-quit:
					return nil
				case <-time.After(interval):
				}
				if !tty {
					io.WriteString(stdout, "\n")
				}
			}
		},
	}
	af.add(cmd)
	f := cmd.Flags()
	f.StringVarP(&output, "output", "o", "table", "table, json or csv")
	f.BoolVar(&watch, "watch", false, "refresh until interrupted")
	f.BoolVar(&fleet, "fleet", false, "show the fleet's view (cluster section): every target as each instance sees it")
	f.DurationVar(&interval, "interval", 2*time.Second, "refresh interval with --watch")
	return cmd
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}

func (c *adminClient) status(ctx context.Context, w *bytes.Buffer, output string, r *lipgloss.Renderer) error {
	var resp struct {
		// A pointer tells an answer without target_groups (not
		// Fulcrum's admin API) from an empty list.
		TargetGroups *[]admin.TargetGroupView `json:"target_groups"`
	}
	raw, err := c.get(ctx, "/api/v1/target-groups", &resp)
	if err != nil {
		return err
	}
	if resp.TargetGroups == nil {
		return fmt.Errorf("%s/api/v1/target-groups answered without target_groups: this is not a fulcrum admin API (check --admin or admin.address)", c.base)
	}
	groups := *resp.TargetGroups
	switch output {
	case "json":
		w.Write(raw)
	case "csv":
		cw := csv.NewWriter(w)
		cw.Write([]string{"target_group", "target", "state", "reason", "admin_state", "in_flight", "requests_per_second", "status_5xx_per_second", "top_error", "top_error_count_5m", "lb_5xx_per_second", "registered_by"})
		for _, g := range groups {
			for _, t := range g.Targets {
				top, n := t.TopError()
				cw.Write([]string{g.Name, t.Address, t.State, t.Reason, t.AdminState, strconv.FormatInt(t.InFlight, 10),
					perSecond(t.Requests.M1), perSecond(t.Status5xx.M1), top, strconv.FormatInt(n, 10), perSecond(lb5xx(t)), t.RegisteredBy})
			}
		}
		cw.Flush()
	default:
		writeStatusTable(w, groups, c.recentLB5xx(ctx), r, c.width)
	}
	return nil
}

// lb5xx counts a target's failed attempts of the last minute that
// Fulcrum answered with a 5xx of its own: ALB's HTTPCode_ELB_5XX_Count
// beside HTTPCode_Target_5XX_Count, HAProxy's econ and eresp.
func lb5xx(t admin.TargetView) int64 {
	var n int64
	for name, w := range t.Errors {
		if et, ok := failure.ParseErrorType(name); ok && et.Status() >= 500 {
			n += w.M1
		}
	}
	return n
}

// groupRecent is what the recent requests say about one target group.
type groupRecent struct{ requests, lb5xx int }

// recentLB5xx counts, per target group, the recent requests
// (/api/v1/requests) and those Fulcrum answered with a 5xx of its own; a
// group with no target shows them, since it has no target row. nil when
// the history cannot be read.
func (c *adminClient) recentLB5xx(ctx context.Context) map[string]groupRecent {
	var resp struct {
		Requests []admin.RequestView `json:"requests"`
	}
	if _, err := c.get(ctx, "/api/v1/requests?limit=1000", &resp); err != nil {
		return nil
	}
	out := map[string]groupRecent{}
	for _, r := range resp.Requests {
		g := out[r.TargetGroup]
		g.requests++
		if r.Status >= 500 && r.TargetStatus == 0 {
			g.lb5xx++
		}
		out[r.TargetGroup] = g
	}
	return out
}

func perSecond(perMinute int64) string {
	return strconv.FormatFloat(float64(perMinute)/60, 'f', 1, 64)
}

// writeStatusTable lays the groups out for a terminal width columns wide
// (80 at least): a header line per group, a row per target, and under a
// target that is not healthy or has errors, one line of evidence. 5XX/S
// counts the 5xx targets sent, LB5XX/S those Fulcrum sent for them.
func writeStatusTable(w io.Writer, groups []admin.TargetGroupView, recent map[string]groupRecent, r *lipgloss.Renderer, width int) {
	width = max(width, statusWidth)
	addrW := 19 + min(width-statusWidth, 26)
	bold := r.NewStyle().Bold(true)
	dim := r.NewStyle().Faint(true)
	red := r.NewStyle().Foreground(lipgloss.Color("1")).Bold(true)
	stateStyle := map[string]lipgloss.Style{
		"healthy":     r.NewStyle().Foreground(lipgloss.Color("2")),
		"unavailable": r.NewStyle().Foreground(lipgloss.Color("6")),
		"unhealthy":   r.NewStyle().Foreground(lipgloss.Color("1")).Bold(true),
		"initial":     r.NewStyle().Foreground(lipgloss.Color("3")),
		"draining":    r.NewStyle().Foreground(lipgloss.Color("3")),
		"unused":      dim,
	}
	if len(groups) == 0 {
		fmt.Fprintln(w, "no target groups")
	}
	for i, g := range groups {
		if i > 0 {
			fmt.Fprintln(w)
		}
		writeDiscovery := func() {
			for _, d := range g.Discovery {
				if d.Stale {
					fmt.Fprintln(w, red.Render(truncate(fmt.Sprintf("  %s: FAILING, kept %d targets", d.Provider, d.Targets), width)))
					fmt.Fprintln(w, dim.Render(truncateWords("    └ "+d.Error, width)))
				} else {
					fmt.Fprintln(w, dim.Render(truncate(fmt.Sprintf("  %s: %d targets", d.Provider, d.Targets), width)))
				}
			}
		}
		if len(g.Targets) == 0 {
			head := g.Name + "  no registered targets: every request gets 503"
			if rc, ok := recent[g.Name]; ok && rc.lb5xx > 0 {
				head += fmt.Sprintf(" (%d of the last %d requests)", rc.lb5xx, rc.requests)
			}
			fmt.Fprintln(w, red.Render(truncate(head, width)))
			writeDiscovery()
			continue
		}
		states := map[string]int{}
		for _, t := range g.Targets {
			states[t.State]++
		}
		head := fmt.Sprintf("%s  %d/%d healthy", g.Name, states["healthy"], len(g.Targets))
		if n := states["unavailable"]; n > 0 {
			head += fmt.Sprintf(", %d unavailable (health checks disabled)", n)
		}
		if n := states["draining"]; n > 0 {
			head += fmt.Sprintf(", %d draining", n)
		}
		if by := registeredBy(g.Targets); by != "" {
			head += "; " + by
		}
		if g.FailOpen {
			head += "  FAIL-OPEN: no healthy target, routing to all"
		}
		fmt.Fprintln(w, bold.Render(truncate(head, width)))
		writeDiscovery()
		fmt.Fprintln(w, dim.Render(fmt.Sprintf("  %-*s %-11s %-19s %4s %6s %6s %7s", addrW, "TARGET", "STATE", "REASON", "INFL", "REQ/S", "5XX/S", "LB5XX/S")))
		for _, t := range g.Targets {
			state := t.State
			if t.AdminState != "ready" {
				state = t.AdminState
			}
			reason := strings.TrimPrefix(strings.TrimPrefix(t.Reason, "Target."), "Elb.")
			cell := fmt.Sprintf("%-11s", truncate(state, 11))
			if st, ok := stateStyle[t.State]; ok {
				cell = st.Render(cell)
			}
			fmt.Fprintf(w, "  %-*s %s %-19s %4d %6s %6s %7s\n", addrW, truncate(t.Address, addrW), cell, truncate(reason, 19),
				t.InFlight, perSecond(t.Requests.M1), perSecond(t.Status5xx.M1), perSecond(lb5xx(t)))
			var notes []string
			if top, n := t.TopError(); n > 0 {
				notes = append(notes, fmt.Sprintf("%s ×%d in 5m", top, n))
			}
			if t.Description != "" {
				notes = append(notes, t.Description)
			} else if t.LastError != nil && t.LastError.Detail != "" && len(notes) > 0 {
				notes = append(notes, t.LastError.Detail)
			}
			if len(notes) > 0 {
				fmt.Fprintln(w, dim.Render(truncateWords("    └ "+strings.Join(notes, ": "), width)))
			}
		}
	}
}

// registeredBy sums up who registered a group's targets, for example
// "registered by dns 2, file 1"; "" when the file registered them all.
func registeredBy(ts []admin.TargetView) string {
	n := map[string]int{}
	for _, t := range ts {
		n[t.RegisteredBy]++
	}
	if len(n) == 0 || (len(n) == 1 && n["file"] > 0) {
		return ""
	}
	names := make([]string, 0, len(n))
	for k := range n {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = fmt.Sprintf("%s %d", k, n[k])
	}
	return "registered by " + strings.Join(parts, ", ")
}

// truncate shortens s to n runes, ending with "…" when cut.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// truncateWords shortens s to n runes at a word boundary where one falls
// in the last third, ending with "…" when cut.
func truncateWords(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	cut := n - 1
	for i := cut; i > 2*n/3; i-- {
		if r[i] == ' ' {
			cut = i
			break
		}
	}
	return strings.TrimRight(string(r[:cut]), " ") + "…"
}
