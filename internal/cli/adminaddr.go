package cli

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"time"
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
