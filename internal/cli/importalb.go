package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/fulcrumlb/fulcrum/internal/albimport"
)

// newImport is `fulcrum import alb`: an ALB's describe-* JSON in, a
// Fulcrum configuration out.
func newImport(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "import", Short: "Write a Fulcrum configuration from another load balancer's settings"}
	var listeners, rules, groups, health string
	alb := &cobra.Command{
		Use:   "alb --listeners FILE [--rules FILE] --target-groups FILE [--target-health FILE]",
		Short: "Convert `aws elbv2 describe-*` JSON into a Fulcrum configuration",
		Long: "alb reads the JSON output of aws elbv2 describe-listeners, describe-rules (one\n" +
			"document per listener, concatenated), describe-target-groups and\n" +
			"describe-target-health (one document per target group, in describe-target-groups\n" +
			"order) and writes an equivalent configuration to standard output, with a\n" +
			"comment for each setting it cannot carry over (certificates held in ACM,\n" +
			"authenticate actions, target group attributes).",
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			var in albimport.Input
			for _, f := range []struct {
				path string
				dst  *[]byte
			}{{listeners, &in.Listeners}, {rules, &in.Rules}, {groups, &in.TargetGroups}, {health, &in.Health}} {
				if f.path == "" {
					continue
				}
				b, err := os.ReadFile(f.path)
				if err != nil {
					return &exitError{code: 1, err: err}
				}
				*f.dst = b
			}
			out, err := albimport.Convert(in)
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			_, err = fmt.Fprint(stdout, out)
			return err
		},
	}
	alb.Flags().StringVar(&listeners, "listeners", "", "describe-listeners JSON file")
	alb.Flags().StringVar(&rules, "rules", "", "describe-rules JSON file")
	alb.Flags().StringVar(&groups, "target-groups", "", "describe-target-groups JSON file")
	alb.Flags().StringVar(&health, "target-health", "", "describe-target-health JSON file")
	alb.MarkFlagRequired("listeners")
	cmd.AddCommand(alb)
	return cmd
}
