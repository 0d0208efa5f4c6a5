package cli

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fulcrumlb/fulcrum/internal/config"
)

func newVersion(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, VCS revision, Go version and discovery providers",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprintf(stdout, "fulcrum %s (%s, %s/%s)\n", versionString(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			// Like haproxy -vv's feature list: which providers this
			// binary carries (make build-edge leaves kubernetes out).
			fmt.Fprintf(stdout, "discovery providers: %s\n", strings.Join(config.DiscoveryTypes(), ", "))
			return nil
		},
	}
}

// versionString is the release version set with -ldflags, else the
// module version and VCS revision the Go toolchain stamped into the
// binary (debug.ReadBuildInfo): "v1.2.3", or "(devel) rev 0123456789ab
// modified 2026-11-22T10:00:00Z" for a build from a git checkout. It is
// "dev" only when the binary carries neither.
func versionString() string {
	if Version != "dev" {
		return Version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Version
	}
	return buildVersion(bi)
}

// buildVersion formats a build's module version and VCS settings.
func buildVersion(bi *debug.BuildInfo) string {
	v := bi.Main.Version
	var rev, at, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = " modified"
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	if rev == "" {
		if v == "(devel)" {
			return "dev"
		}
		return v
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	out := v + " rev " + rev + modified
	if at != "" {
		out += " " + at
	}
	return out
}
