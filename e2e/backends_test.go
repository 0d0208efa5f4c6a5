package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// rawServer accepts connections on 127.0.0.1:0 and hands each to handle in
// its own goroutine. It stops, closing what it holds, at test cleanup.
func rawServer(t *testing.T, handle func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { defer c.Close(); handle(c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// readRequest reads one request head and its body from br.
func readRequest(br *bufio.Reader) (*http.Request, error) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, err
	}
	_, err = io.Copy(io.Discard, req.Body)
	return req, err
}

// respondOnce reads one request and writes raw, then returns.
func respondOnce(raw string) func(net.Conn) {
	return func(c net.Conn) {
		if _, err := readRequest(bufio.NewReader(c)); err != nil {
			return
		}
		c.Write([]byte(raw))
	}
}

// blackhole returns an address whose connects hang: a listening socket
// with a backlog of 0 whose queue is filled and never accepted, so the
// kernel drops further SYNs (as a firewall that drops packets would).
func blackhole(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := syscall.Getsockname(fd)
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	for range 4 { // fill the accept queue; later connects hang
		d := net.Dialer{Timeout: 200 * time.Millisecond}
		if c, err := d.Dial("tcp", addr); err == nil {
			t.Cleanup(func() { c.Close() })
		}
	}
	d := net.Dialer{Timeout: 300 * time.Millisecond}
	if c, err := d.Dial("tcp", addr); err == nil {
		c.Close()
		t.Skip("this kernel accepts connects beyond the backlog; cannot simulate dropped SYNs")
	}
	return addr
}

// nginx is a running nginx serving a fixed body, as a real target.
type nginx struct {
	addr string
	dir  string
	cmd  *exec.Cmd
}

// startNginx runs nginx on a free port, answering every request with 200
// and body name, and /healthz with 200. It skips the test when nginx is
// not installed, unless FULCRUM_E2E_REQUIRE_NGINX is set (CI).
func startNginx(t *testing.T, name string) *nginx {
	t.Helper()
	return runNginx(t, fmt.Sprintf(`location / { return 200 "%s\n"; }`, name))
}

// startNginxProxy runs nginx as a load balancer in front of upstream
// (host:port), logging upstream errors to n.dir/error.log.
func startNginxProxy(t *testing.T, upstream string) *nginx {
	t.Helper()
	return runNginx(t, fmt.Sprintf(`location / { proxy_pass http://%s; proxy_next_upstream off; }`, upstream))
}

// runNginx runs nginx on a free port with the given server locations.
func runNginx(t *testing.T, locations string) *nginx {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		for _, p := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx"} {
			if _, serr := os.Stat(p); serr == nil {
				bin, err = p, nil
			}
		}
	}
	if err != nil {
		if os.Getenv("FULCRUM_E2E_REQUIRE_NGINX") != "" {
			t.Fatal("nginx is required (FULCRUM_E2E_REQUIRE_NGINX is set) but not installed")
		}
		t.Skip("nginx is not installed")
	}
	dir := t.TempDir()
	n := &nginx{dir: dir}
	for try := 0; try < 5; try++ {
		n.addr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
		conf := fmt.Sprintf(`daemon off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path %[1]s; proxy_temp_path %[1]s; fastcgi_temp_path %[1]s; uwsgi_temp_path %[1]s; scgi_temp_path %[1]s;
  keepalive_requests 100000;
  server {
    listen %[2]s;
    %[3]s
  }
}
`, dir, n.addr, locations)
		if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		n.cmd = exec.Command(bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"))
		n.cmd.Stderr = os.Stderr
		if err := n.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if waitListening(n.addr, 5*time.Second) {
			t.Cleanup(n.kill)
			return n
		}
		n.kill()
	}
	t.Fatalf("nginx did not start; error log: %s", readFile(filepath.Join(dir, "error.log")))
	return nil
}

// kill stops nginx at once, workers included.
func (n *nginx) kill() {
	if n.cmd.Process == nil {
		return
	}
	n.cmd.Process.Signal(syscall.SIGTERM) // nginx: fast shutdown
	done := make(chan struct{})
	go func() { n.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		n.cmd.Process.Kill()
		<-done
	}
	n.cmd.Process = nil
}

func waitListening(addr string, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			return true
		}
		time.Sleep(20 * time.Millisecond) // polling a process's startup, not timing logic
	}
	return false
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return strings.TrimSpace(string(b))
}
