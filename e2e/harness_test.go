// Package e2e runs the fulcrum binary against real backend processes and
// sockets: Go servers with scripted faults, and nginx.
package e2e

import (
	"bufio"
	"context"
	"encoding/json"
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

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fulcrum-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "fulcrum")
	build := exec.Command("go", "build", "-race", "-o", binary, "../cmd/fulcrum")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build fulcrum:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// waitTimeout bounds every wait for an event from a process.
const waitTimeout = 20 * time.Second

// fulcrum is a running `fulcrum serve` with its access log on stdout and
// JSON operational logs on stderr.
type fulcrum struct {
	t     *testing.T
	cmd   *exec.Cmd
	addr  string
	admin string // the admin server's URL
	path  string // the configuration file, for reloads

	mu     sync.Mutex
	cond   *sync.Cond
	access []string
	events []map[string]any
	done   bool
	exit   chan error
}

// startFulcrum writes cfg to a file and runs fulcrum serve on it. It
// returns once the listener named web is bound. A cfg without an admin
// section gets one on 127.0.0.1:0, so parallel tests never collide.
func startFulcrum(t *testing.T, cfg string) *fulcrum {
	t.Helper()
	if !strings.Contains(cfg, "\nadmin:") && !strings.HasPrefix(cfg, "admin:") {
		cfg = "admin: {address: \"127.0.0.1:0\"}\n" + cfg
	}
	path := filepath.Join(t.TempDir(), "fulcrum.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	f := &fulcrum{t: t, exit: make(chan error, 1), path: path}
	f.cond = sync.NewCond(&f.mu)
	f.cmd = exec.Command(binary, "serve", "-c", path, "--log-format", "json", "--log-level", "debug")
	stdout, _ := f.cmd.StdoutPipe()
	stderr, _ := f.cmd.StderrPipe()
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var readers sync.WaitGroup
	readers.Go(func() { f.read(stdout, false) })
	readers.Go(func() { f.read(stderr, true) })
	go func() {
		readers.Wait()
		err := f.cmd.Wait()
		f.mu.Lock()
		f.done = true
		f.cond.Broadcast()
		f.mu.Unlock()
		f.exit <- err
	}()
	t.Cleanup(func() {
		f.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-f.exit:
		case <-time.After(waitTimeout):
			f.cmd.Process.Kill()
		}
	})
	ev := f.waitEvent("admin started", nil)
	f.admin = "http://" + ev["address"].(string)
	ev = f.waitEvent("listener started", func(e map[string]any) bool { return e["listener"] == "web" })
	f.addr = ev["address"].(string)
	return f
}

func (f *fulcrum) read(r io.Reader, events bool) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		f.mu.Lock()
		if events {
			var e map[string]any
			if json.Unmarshal([]byte(line), &e) == nil {
				f.events = append(f.events, e)
			}
		} else {
			f.access = append(f.access, line)
		}
		f.cond.Broadcast()
		f.mu.Unlock()
	}
}

// waitFor blocks until cond holds over the collected output, the process
// exits, or waitTimeout passes.
func (f *fulcrum) waitFor(what string, cond func() bool) {
	f.t.Helper()
	timer := time.AfterFunc(waitTimeout, func() { f.mu.Lock(); f.cond.Broadcast(); f.mu.Unlock() })
	defer timer.Stop()
	deadline := time.Now().Add(waitTimeout)
	f.mu.Lock()
	defer f.mu.Unlock()
	for !cond() {
		if f.done || time.Now().After(deadline) {
			f.t.Fatalf("gave up waiting for %s; events: %v", what, f.events)
		}
		f.cond.Wait()
	}
}

// waitEvent waits for an operational log line with msg that matches.
func (f *fulcrum) waitEvent(msg string, match func(map[string]any) bool) map[string]any {
	f.t.Helper()
	var found map[string]any
	f.waitFor("log "+msg, func() bool {
		for _, e := range f.events {
			if e["msg"] == msg && (match == nil || match(e)) {
				found = e
				return true
			}
		}
		return false
	})
	return found
}

// healthIs waits until target's last health change went to state.
func (f *fulcrum) healthIs(tgt, state string) map[string]any {
	f.t.Helper()
	var last map[string]any
	f.waitFor(tgt+" "+state, func() bool {
		last = nil
		for _, e := range f.events {
			if e["msg"] == "target health changed" && e["target"] == tgt {
				last = e
			}
		}
		return last != nil && last["to"] == state
	})
	return last
}

// accessLine waits for the access log line whose request id (the
// trailing field after ALB's, fRequestID) is id and returns its fields,
// split as ALB's format quotes them.
func (f *fulcrum) accessLine(id string) []string {
	f.t.Helper()
	var line string
	f.waitFor("access log line "+id, func() bool {
		for _, l := range f.access {
			if strings.HasSuffix(l, ` "`+id+`"`) {
				line = l
				return true
			}
		}
		return false
	})
	return splitALB(line)
}

func (f *fulcrum) accessLines() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.access...)
}

// stop sends SIGTERM and returns the exit error.
func (f *fulcrum) stop() error {
	f.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-f.exit:
		f.exit <- err
		return err
	case <-time.After(waitTimeout):
		return fmt.Errorf("fulcrum did not exit")
	}
}

// splitALB splits an ALB log line into fields, keeping quoted fields whole
// (without their quotes).
func splitALB(line string) []string {
	var out []string
	for line != "" {
		if line[0] == '"' {
			end := 1
			for end < len(line) && (line[end] != '"' || line[end-1] == '\\') {
				end++
			}
			out = append(out, line[1:end])
			line = strings.TrimPrefix(line[min(end+1, len(line)):], " ")
			continue
		}
		field, rest, _ := strings.Cut(line, " ")
		out = append(out, field)
		line = rest
	}
	return out
}

// ALB field indexes (zero-based; field order of
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-access-logs.html#access-log-entry-format).
const (
	fTarget       = 4
	fTargetTime   = 6
	fELBStatus    = 8
	fTargetStatus = 9
	fTargetGroup  = 16
	fTraceID      = 17 // X-Amzn-Trace-Id
	fErrorReason  = 24
	fTargetList   = 25
	fStatusList   = 26
	// fClassification and fClassificationReason are the desync verdict
	// (ALB's fields 28 and 29).
	fClassification       = 27
	fClassificationReason = 28
	// fRequestID is Fulcrum's request id (X-Request-Id), the field after
	// ALB's last (request_transform_status).
	fRequestID = 33
)

// get sends a GET with a request id through fulcrum.
func get(t *testing.T, client *http.Client, url, id string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), "GET", url, nil)
	req.Header.Set("X-Request-Id", id)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

// freePort returns a port that was free a moment ago, for processes such as
// nginx that cannot bind port 0 and report it.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// freePorts returns n distinct ports on 127.0.0.1 that were free a moment
// ago, for a process that cannot bind port 0 and report it (haproxy,
// nginx, etcd). All n listeners are open at once, so no two are the same
// port: two calls of freePort in a row can get the same port back, and
// haproxy would then bind two frontends on it with SO_REUSEPORT and split
// the test's connections between them.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports
}

// freeAddrs is freePorts as "127.0.0.1:port" addresses.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	addrs := make([]string, n)
	for i, p := range freePorts(t, n) {
		addrs[i] = fmt.Sprintf("127.0.0.1:%d", p)
	}
	return addrs
}

// closedAddr returns an address on which nothing listens, for the rest of
// the test: the port stays bound to a socket that never listens, so a
// connection to it is refused (RST) and no other listener or process can
// take the port while the test runs.
func closedAddr(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
}
