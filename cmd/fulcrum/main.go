// Command fulcrum is an HTTP load balancer that tells its operators why
// their backends fail. See "fulcrum --help".
package main

import (
	"context"
	"os"

	"github.com/fulcrumlb/fulcrum/internal/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
