package cli

import (
	"fmt"
	"io"
	"net/url"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/fulcrumlb/fulcrum/internal/admin"
)

// newTargets builds `fulcrum targets register|deregister TG ADDRESS`, which
// wrap POST and DELETE /api/v1/target-groups/{name}/targets.
func newTargets(stdout io.Writer) *cobra.Command {
	var adminURL, cfgPath, tokenFile string
	var weight int
	cmd := &cobra.Command{
		Use:   "targets",
		Short: "Register or deregister targets of a running fulcrum",
		Long: "targets changes a running fulcrum's target groups through its admin API.\n" +
			"Runtime registrations survive a reload; a deregistered target drains for\n" +
			"its group's deregistration_delay.",
	}
	addFlags := func(c *cobra.Command) {
		f := c.Flags()
		f.StringVar(&adminURL, "admin", "", "admin API URL (default from -c, else http://127.0.0.1:9901)")
		f.StringVarP(&cfgPath, "config", "c", "", "configuration file to take admin.address and admin.token_file from")
		f.StringVar(&tokenFile, "token-file", "", "file holding the admin bearer token")
	}
	register := &cobra.Command{
		Use:   "register TARGET_GROUP HOST:PORT [--weight N]",
		Short: "Register a target; it gets traffic once it passes healthy_threshold checks",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAdminClient(adminURL, cfgPath, tokenFile)
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
			c, err := newAdminClient(adminURL, cfgPath, tokenFile)
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
	addFlags(register)
	addFlags(deregister)
	cmd.AddCommand(register, deregister)
	return cmd
}

// newReload builds `fulcrum reload`, which wraps POST /api/v1/reload and
// prints what changed or every problem of the new file.
func newReload(stdout io.Writer) *cobra.Command {
	var adminURL, cfgPath, tokenFile string
	cmd := &cobra.Command{
		Use:   "reload [--admin URL | -c FILE]",
		Short: "Reload a running fulcrum's configuration file",
		Long: "reload asks a running fulcrum to read its configuration file again (as SIGHUP\n" +
			"does). A file with problems changes nothing: every problem is printed with its\n" +
			"path and line, and reload exits 1.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newAdminClient(adminURL, cfgPath, tokenFile)
			if err != nil {
				return err
			}
			var v admin.ReloadView
			body, err := c.do(cmd.Context(), "POST", "/api/v1/reload", nil, &v)
			if err != nil {
				if jerr := jsonUnmarshal(body, &v); jerr != nil || v.Result == "" {
					return &exitError{code: 1, err: err}
				}
				msg := "reload failed; the running configuration stays: " + v.Error
				for _, p := range v.Problems {
					msg += fmt.Sprintf("\n  %s (line %d): %s", p.Path, p.Line, p.Message)
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
	f := cmd.Flags()
	f.StringVar(&adminURL, "admin", "", "admin API URL (default from -c, else http://127.0.0.1:9901)")
	f.StringVarP(&cfgPath, "config", "c", "", "configuration file to take admin.address and admin.token_file from")
	f.StringVar(&tokenFile, "token-file", "", "file holding the admin bearer token")
	return cmd
}
