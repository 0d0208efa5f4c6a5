package cli

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/admin"
	"github.com/fulcrumlb/fulcrum/internal/proxy"
)

// adminFromSocket asks the runtime socket at path for the admin API's
// bound address (show info's Admin_address), for an admin.address with
// port 0, whose real port only the running process knows.
func adminFromSocket(path string) (string, error) {
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		return "", fmt.Errorf("admin.address has port 0, and the runtime socket %s does not answer: %w", path, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("show info\n")); err != nil {
		return "", fmt.Errorf("runtime socket %s: %w", path, err)
	}
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Admin_address: "); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("runtime socket %s: show info has no Admin_address", path)
}

// frontends adapts the proxy's listener loads to show stat's FRONTEND
// rows.
func frontends(srv *proxy.Server) func() []admin.Frontend {
	return func() []admin.Frontend {
		var out []admin.Frontend
		for _, l := range srv.ListenerLoads() {
			out = append(out, admin.Frontend{Name: l.Name, Open: l.Open, Limit: l.Max, BytesIn: l.BytesIn, BytesOut: l.BytesOut})
		}
		return out
	}
}
