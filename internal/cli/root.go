// Package cli is Fulcrum's command line: one file per subcommand, each
// built by a function that takes its dependencies, so commands are testable
// and hold no package-level state.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Version is the release version, set at build time with
// -ldflags "-X github.com/fulcrumlb/fulcrum/internal/cli.Version=v1.2.3".
var Version = "dev"

// exitError carries an exit code through cobra without printing usage.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// Main runs the command line with args (without the program name) and
// returns the process exit code: 0 on success, 1 on a failure the command
// reported, 2 on a usage error.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintln(stderr, ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "fulcrum:", err)
	return 2
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "fulcrum",
		Short:         "An HTTP load balancer that tells you why your backends fail",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.Version = versionString() // fulcrum --version
	root.SetVersionTemplate("fulcrum {{.Version}}\n")
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newServe(stdout, stderr), newValidate(stdout), newStatus(stdout), newTargets(stdout), newReload(stdout), newAnalyze(stdout, stderr), newDoctor(stdout, stderr), newDemo(stdout), newVersion(stdout), newImport(stdout))
	return root
}
