package failure

import (
	"net"
	"strings"
)

// FixFor returns the cause's fix with its placeholders filled in for one
// target: TARGET_IP and NAME become the host, TARGET the host:port, PORT
// the port, /PATH and /HEALTH_PATH the given paths. A placeholder with
// nothing to fill it stays as written. target is host:port; path and
// healthPath start with "/" or are empty.
func (c Cause) FixFor(target, path, healthPath string) string {
	if target == "" {
		return c.Fix
	}
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		host, port = target, ""
	}
	pairs := []string{"TARGET_IP", host, "TARGET", target, "NAME", host}
	if port != "" {
		pairs = append(pairs, "PORT", port)
	}
	if healthPath != "" {
		pairs = append(pairs, "/HEALTH_PATH", healthPath)
	}
	if path != "" {
		pairs = append(pairs, "/PATH", path)
	}
	return strings.NewReplacer(pairs...).Replace(c.Fix)
}
