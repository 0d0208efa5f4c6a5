package cli

import (
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/fulcrumlb/fulcrum/internal/admin"
)

// newTargets builds `fulcrum targets register|deregister TG ADDRESS`, which
// wrap POST and DELETE /api/v1/target-groups/{name}/targets.
func newTargets(stdout io.Writer) *cobra.Command {
	var af adminFlags
	var weight int
	cmd := &cobra.Command{
		Use:   "targets",
		Short: "Register or deregister targets of a running fulcrum",
		Long: "targets changes a running fulcrum's target groups through its admin API.\n" +
			"Runtime registrations survive a reload; a deregistered target drains for\n" +
			"its group's deregistration_delay.",
	}
	register := &cobra.Command{
		Use:   "register TARGET_GROUP HOST:PORT [--weight N]",
		Short: "Register a target; it gets traffic once it passes healthy_threshold checks",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := af.client()
			if err != nil {
				return err
			}
			var v admin.TargetView
			path := "/api/v1/target-groups/" + url.PathEscape(args[0]) + "/targets"
			if _, err := c.do(cmd.Context(), "POST", path, admin.RegisterRequest{Address: args[1], Weight: weight}, &v); err != nil {
				return &exitError{code: 1, err: err}
			}
			fmt.Fprintf(stdout, "registered %s in %s: %s (%s)\n", v.Address, args[0], v.State, v.Description)
			return nil
		},
	}
	register.Flags().IntVar(&weight, "weight", 1, "weight, 1..1000")
	deregister := &cobra.Command{
		Use:   "deregister TARGET_GROUP HOST:PORT",
		Short: "Deregister a target: it drains, then leaves after deregistration_delay",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := af.client()
			if err != nil {
				return err
			}
			var v admin.TargetView
			path := "/api/v1/target-groups/" + url.PathEscape(args[0]) + "/targets/" + url.PathEscape(args[1])
			if _, err := c.do(cmd.Context(), "DELETE", path, nil, &v); err != nil {
				return &exitError{code: 1, err: err}
			}
			fmt.Fprintf(stdout, "deregistering %s from %s: %s, %s in flight\n", v.Address, args[0], v.State, strconv.FormatInt(v.InFlight, 10))
			return nil
		},
	}
	af.add(register)
	af.add(deregister)
	cmd.AddCommand(register, deregister)
	return cmd
}

// newReload builds `fulcrum reload`, which wraps POST /api/v1/reload and
// prints what changed or every problem of the new file.
func newReload(stdout io.Writer) *cobra.Command {
	var af adminFlags
	cmd := &cobra.Command{
		Use:   "reload [--admin URL | -c FILE]",
		Short: "Reload a running fulcrum's configuration file",
		Long: "reload asks a running fulcrum to read its configuration file again (as SIGHUP\n" +
			"does). A file with problems changes nothing: every problem is printed with its\n" +
			"path and line, and reload exits 1.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := af.client()
			if err != nil {
				return err
			}
			if af.config != "" {
				// The server reloads the file it was started with; -c must
				// name that file, or "reloaded" would be a lie about FILE.
				var cv admin.ConfigView
				if _, err := c.do(cmd.Context(), "GET", "/api/v1/config", nil, &cv); err != nil {
					return &exitError{code: 1, err: err}
				}
				if !sameFile(af.config, cv.Path) {
					return &exitError{code: 1, err: fmt.Errorf("fulcrum at %s serves %q, not %q: reload reads the server's own file; restart it with -c %s to switch files", c.base, cv.Path, af.config, af.config)}
				}
			}
			var v admin.ReloadView
			body, err := c.do(cmd.Context(), "POST", "/api/v1/reload", nil, &v)
			if err != nil {
				if jerr := jsonUnmarshal(body, &v); jerr != nil || v.Result == "" {
					return &exitError{code: 1, err: err}
				}
				msg := "reload failed; the running configuration stays:"
				for _, p := range v.Problems {
					msg += fmt.Sprintf("\n  %s (line %d): %s", p.Path, p.Line, p.Message)
				}
				if len(v.Problems) == 0 {
					msg += " " + v.Error
				}
				return &exitError{code: 1, err: fmt.Errorf("%s", msg)}
			}
			fmt.Fprintln(stdout, "reloaded")
			for _, ch := range v.Changes {
				fmt.Fprintln(stdout, "  "+ch)
			}
			return nil
		},
	}
	af.add(cmd)
	return cmd
}

// sameFile reports whether paths a and b name the same file: equal
// absolute paths, or os.SameFile when both exist.
func sameFile(a, b string) bool {
	if b == "" {
		return false
	}
	aa, errA := filepath.Abs(a)
	ab, errB := filepath.Abs(b)
	if errA == nil && errB == nil && aa == ab {
		return true
	}
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}
