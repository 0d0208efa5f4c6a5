package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/fulcrumlb/fulcrum/internal/config"
)

func newValidate(stdout io.Writer) *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "validate [FILE | -c FILE]",
		Short: "Check a configuration file without starting anything (like nginx -t)",
		Long: "validate loads the configuration strictly and prints \"ok\", or every problem\n" +
			"as \"path (line N): message\", one per line, and exits 1. The file is FILE,\n" +
			"else -c (nginx -t -c, haproxy -c -f).",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if cmd.Flags().Changed("config") && path != args[0] {
					return &exitError{code: 2, err: fmt.Errorf("validate: the file is given twice (%s and -c %s); give one", args[0], path)}
				}
				path = args[0]
			}
			if _, err := config.LoadFile(path); err != nil {
				return configFailure(err)
			}
			fmt.Fprintf(stdout, "%s: ok\n", path)
			return nil
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "fulcrum.yaml", "configuration file")
	return cmd
}

// configFailure turns a load error into exit code 1 with every problem on
// its own line.
func configFailure(err error) error {
	var cerr *config.Error
	if errors.As(err, &cerr) {
		return &exitError{code: 1, err: fmt.Errorf("%d configuration problem(s):\n%w", len(cerr.Problems), cerr)}
	}
	return &exitError{code: 1, err: err}
}
