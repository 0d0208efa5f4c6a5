package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/fulcrumlb/fulcrum/internal/admin"
)

// statusWidth is the terminal width the table is laid out for.
const statusWidth = 80

func newStatus(stdout io.Writer) *cobra.Command {
	var af adminFlags
	var output string
	var watch bool
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "status [--admin URL | -c FILE] [-o table|json|csv] [--watch]",
		Short: "Show every target's health, traffic and top error from a running fulcrum",
		Long: "status reads /api/v1/target-groups from a running fulcrum's admin API and prints\n" +
			"one block per target group, one row per target: state, ALB reason, requests in\n" +
			"flight, requests and 5xx per second over the last minute, and the most frequent\n" +
			"error type of the last 5 minutes with the health evidence below it.\n\n" +
			"The admin URL is --admin, else admin.address from -c FILE, else\n" +
			"http://127.0.0.1:9901. The bearer token comes from --token-file, else from the\n" +
			"config's admin.token_file.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" && output != "csv" {
				return &exitError{code: 2, err: fmt.Errorf("-o: %q is not table, json or csv", output)}
			}
			c, err := af.client()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			tty := isTerminal(stdout)
			for {
				var buf bytes.Buffer
				if err := c.status(ctx, &buf, output, lipgloss.NewRenderer(stdout)); err != nil {
					return &exitError{code: 1, err: err}
				}
				if watch && tty {
					io.WriteString(stdout, "\x1b[H\x1b[2J") // home, clear: refresh in place
				}
				stdout.Write(buf.Bytes())
				if !watch {
					return nil
				}
				select {
				case <-ctx.Done():
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
	f.DurationVar(&interval, "interval", 2*time.Second, "refresh interval with --watch")
	return cmd
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}

func (c *adminClient) status(ctx context.Context, w *bytes.Buffer, output string, r *lipgloss.Renderer) error {
	var resp struct {
		TargetGroups []admin.TargetGroupView `json:"target_groups"`
	}
	raw, err := c.get(ctx, "/api/v1/target-groups", &resp)
	if err != nil {
		return err
	}
	switch output {
	case "json":
		w.Write(raw)
	case "csv":
		cw := csv.NewWriter(w)
		cw.Write([]string{"target_group", "target", "state", "reason", "admin_state", "in_flight", "requests_per_second", "status_5xx_per_second", "top_error", "top_error_count_5m"})
		for _, g := range resp.TargetGroups {
			for _, t := range g.Targets {
				top, n := t.TopError()
				cw.Write([]string{g.Name, t.Address, t.State, t.Reason, t.AdminState, strconv.FormatInt(t.InFlight, 10),
					perSecond(t.Requests.M1), perSecond(t.Status5xx.M1), top, strconv.FormatInt(n, 10)})
			}
		}
		cw.Flush()
	default:
		writeStatusTable(w, resp.TargetGroups, r)
	}
	return nil
}

func perSecond(perMinute int64) string {
	return strconv.FormatFloat(float64(perMinute)/60, 'f', 1, 64)
}

// writeStatusTable lays the groups out for an 80-column terminal: a
// header line per group, a row per target, and under a target that is not
// healthy or has errors, one line of evidence.
func writeStatusTable(w io.Writer, groups []admin.TargetGroupView, r *lipgloss.Renderer) {
	bold := r.NewStyle().Bold(true)
	dim := r.NewStyle().Faint(true)
	stateStyle := map[string]lipgloss.Style{
		"healthy":     r.NewStyle().Foreground(lipgloss.Color("2")),
		"unavailable": r.NewStyle().Foreground(lipgloss.Color("2")),
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
		head := fmt.Sprintf("%s  %d/%d healthy", g.Name, g.Healthy, len(g.Targets))
		if g.FailOpen {
			head += "  FAIL-OPEN: no healthy target, routing to all"
		}
		fmt.Fprintln(w, bold.Render(truncate(head, statusWidth)))
		fmt.Fprintln(w, dim.Render(fmt.Sprintf("  %-21s %-9s %-19s %4s %6s %6s", "TARGET", "STATE", "REASON", "INFL", "REQ/S", "5XX/S")))
		for _, t := range g.Targets {
			state := t.State
			if t.AdminState != "ready" {
				state = t.AdminState
			}
			reason := strings.TrimPrefix(strings.TrimPrefix(t.Reason, "Target."), "Elb.")
			cell := fmt.Sprintf("%-9s", truncate(state, 9))
			if st, ok := stateStyle[t.State]; ok {
				cell = st.Render(cell)
			}
			fmt.Fprintf(w, "  %-21s %s %-19s %4d %6s %6s\n", truncate(t.Address, 21), cell, truncate(reason, 19),
				t.InFlight, perSecond(t.Requests.M1), perSecond(t.Status5xx.M1))
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
				fmt.Fprintln(w, dim.Render(truncate("    └ "+strings.Join(notes, ": "), statusWidth)))
			}
		}
	}
}

// truncate shortens s to n runes, ending with "…" when cut.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
