package config

import (
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// maxExpandedNodes bounds the YAML node count after aliases are expanded.
// A real configuration has a few thousand nodes; an alias fan-out ("billion
// laughs") of a few KB expands to millions.
const maxExpandedNodes = 100000

// maxProblems is how many problems a configuration error lists; the rest
// are counted in one last line.
const maxProblems = 100

// expandedSize returns the node count of n with every alias expanded,
// stopping once it passes limit. memo holds the sizes already known.
func expandedSize(n *yaml.Node, memo map[*yaml.Node]int, limit int) int {
	if n == nil {
		return 0
	}
	if n.Kind == yaml.AliasNode {
		return 1 + expandedSize(n.Alias, memo, limit)
	}
	if v, ok := memo[n]; ok {
		return v
	}
	memo[n] = limit + 1 // a node reached again while being sized is a cycle
	size := 1
	for _, c := range n.Content {
		size += expandedSize(c, memo, limit)
		if size > limit {
			break
		}
	}
	memo[n] = size
	return size
}

// resources checks what serve would otherwise fail on or be hurt by:
// the admin socket, history bound and host names, log directories, and
// listeners that cannot all bind.
func (s *schema) resources(c *Config) {
	a := c.Admin
	if a.RequestHistoryBytes < 1<<20 || a.RequestHistoryBytes > 16<<30 {
		s.add("admin.request_history_bytes", "%d is out of range 1048576..17179869184 (1 MiB..16 GiB)", a.RequestHistoryBytes)
	}
	if _, err := ParseMode(a.SocketMode); err != nil {
		s.add("admin.socket_mode", "%v", err)
	}
	if a.Socket != "" {
		if err := CheckSocketPath(a.Socket); err != nil {
			s.add("admin.socket", "%v", err)
		}
	}
	for i, h := range a.AllowedHosts {
		if h == "" {
			s.add(fmt.Sprintf("admin.allowed_hosts[%d]", i), "must not be empty")
		}
	}
	if c.AccessLog != nil {
		s.logDir("access_log.path", c.AccessLog.Path)
	}
	if c.HealthCheckLog != nil {
		s.logDir("health_check_log.path", c.HealthCheckLog.Path)
	}
	for i, l := range c.Listeners {
		p := fmt.Sprintf("listeners[%d].address", i)
		if overlaps(l.Address, a.Address) {
			s.add(p, "%q uses the admin port (admin.address %q)", l.Address, a.Address)
		}
		for j, o := range c.Listeners[:i] {
			if l.Address != o.Address && overlaps(l.Address, o.Address) && !(l.ReusePort && o.ReusePort) {
				s.add(p, "%q cannot be bound while listeners[%d] binds %q: the same port on an overlapping address", l.Address, j, o.Address)
			}
		}
	}
}

// logDir checks that a log file's directory exists.
func (s *schema) logDir(path, file string) {
	if file == "" || file == "-" {
		return
	}
	dir := filepath.Dir(file)
	st, err := os.Stat(dir)
	switch {
	case err != nil:
		s.add(path, "directory %s: %v", dir, err)
	case !st.IsDir():
		s.add(path, "%s is not a directory", dir)
	}
}

// ParseMode parses an octal file mode such as "0660".
func ParseMode(v string) (fs.FileMode, error) {
	m, err := strconv.ParseUint(v, 8, 32)
	if err != nil || m > 0o777 {
		return 0, fmt.Errorf("%q is not an octal file mode 0000..0777", v)
	}
	return fs.FileMode(m), nil
}

// CheckSocketPath reports why a Unix socket cannot be created at path:
// its directory is missing, or something other than a socket is there
// (only a stale socket may be replaced).
func CheckSocketPath(path string) error {
	if st, err := os.Stat(filepath.Dir(path)); err != nil {
		return fmt.Errorf("directory %s: %w", filepath.Dir(path), err)
	} else if !st.IsDir() {
		return fmt.Errorf("%s is not a directory", filepath.Dir(path))
	}
	st, err := os.Lstat(path)
	if err != nil {
		return nil // nothing there: it will be created
	}
	if st.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket (%s); only a stale socket is replaced", path, st.Mode().Type())
	}
	return nil
}

// overlaps reports whether two listen addresses cannot both be bound:
// the same non-zero port on the same IP, or on any IP when either is the
// wildcard. Host names other than localhost are not resolved.
func overlaps(x, y string) bool {
	hx, px, err1 := net.SplitHostPort(x)
	hy, py, err2 := net.SplitHostPort(y)
	if err1 != nil || err2 != nil || px != py || px == "0" || px == "" {
		return false
	}
	ix, iy := bindIP(hx), bindIP(hy)
	if ix == nil || iy == nil {
		return hx == hy
	}
	return ix.IsUnspecified() || iy.IsUnspecified() || ix.Equal(iy)
}

func bindIP(h string) net.IP {
	switch h {
	case "":
		return net.IPv4zero
	case "localhost":
		return net.IPv4(127, 0, 0, 1)
	}
	return net.ParseIP(h)
}
