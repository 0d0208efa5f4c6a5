package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Fixed loopback ports of the benchmark. The backends listen on
// backendA/B; refusedPort is never bound; the 1,000-target nginx listens
// on thousandBase and the 999 ports after it.
const (
	backendA     = 9201
	backendB     = 9202
	refusedPort  = 9203
	thousandBase = 9300
	thousandN    = 1000
)

// lbPort gives every system its own listener port.
func lbPort(system string) int {
	switch system {
	case "fulcrum":
		return 8091
	case "fulcrum-base":
		return 8096
	case "fulcrum-edge":
		return 8088
	case "fulcrum-1t":
		return 8090
	case "fulcrum-edge-1t":
		return 8086
	case "fulcrum-gr":
		return 8089
	case "haproxy":
		return 8092
	case "haproxy-2t":
		return 8087
	case "nginx":
		return 8093
	case "caddy":
		return 8094
	case "evproto-epoll", "evproto-epoll-log", "evproto-epoll1":
		return 8097
	case "evproto-gnet", "evproto-gnet-log", "evproto-gnet1":
		return 8098
	}
	return 8095 // goproxy
}

// env is the run's working state: directories, certificates and the
// backend processes.
type env struct {
	o        options
	tmp      string
	cert     string
	key      string
	pem      string // cert+key for HAProxy
	backends []*proc
	thousand *proc
	// backendA's process, for the direct rows; grpcDirect the first
	// greeter's, for gRPC scenarios.
	direct     *proc
	grpcDirect *proc
}

func newEnv(o options) (*env, error) {
	tmp, err := filepath.Abs(filepath.Join(o.out, "tmp"))
	if err != nil {
		return nil, err
	}
	e := &env{o: o, tmp: tmp}
	if err := e.writeCert(); err != nil {
		return nil, err
	}
	// 64 KiB body for the 64k scenario.
	if err := os.WriteFile(filepath.Join(tmp, "64k.bin"), make([]byte, 64<<10), 0o644); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *env) close() {
	for _, p := range e.backends {
		p.stop()
	}
}

// writeCert makes a self-signed ECDSA certificate for 127.0.0.1.
func (e *env) writeCert() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	e.cert, e.key, e.pem = filepath.Join(e.tmp, "cert.pem"), filepath.Join(e.tmp, "key.pem"), filepath.Join(e.tmp, "haproxy.pem")
	for path, b := range map[string][]byte{e.cert: certPEM, e.key: keyPEM, e.pem: append(append([]byte{}, certPEM...), keyPEM...)} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// startBackends runs the two nginx backends and the 1,000-port one.
func (e *env) startBackends(ctx context.Context) error {
	for _, port := range []int{backendA, backendB} {
		p, err := e.startNginxBackend(ctx, fmt.Sprintf("backend-%d", port), []int{port})
		if err != nil {
			return err
		}
		e.backends = append(e.backends, p)
		if port == backendA {
			e.direct = p
		}
	}
	ports := make([]int, thousandN)
	for i := range ports {
		ports[i] = thousandBase + i
	}
	p, err := e.startNginxBackend(ctx, "backend-1000", ports)
	if err != nil {
		return err
	}
	e.backends = append(e.backends, p)
	e.thousand = p
	if wantsGRPC(e.o) {
		return e.startGRPCBackends(ctx)
	}
	return nil
}

func (e *env) startNginxBackend(ctx context.Context, name string, ports []int) (*proc, error) {
	dir := filepath.Join(e.tmp, name)
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		return nil, err
	}
	var listens strings.Builder
	for _, p := range ports {
		fmt.Fprintf(&listens, "    listen 127.0.0.1:%d;\n", p)
	}
	conf := fmt.Sprintf(`worker_processes 1;
worker_rlimit_nofile 20000;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 16000; }
http {
  access_log off;
  keepalive_requests 10000000;
  keepalive_timeout 300s;
  client_body_temp_path %[1]s/body;
  server {
%[2]s    location = /64k { alias %[3]s/64k.bin; default_type application/octet-stream; }
    location / { return 200 "hello\n"; }
  }
}
`, dir, listens.String(), e.tmp)
	cfg := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	p, err := startProc(ctx, name, dir, nil, "nginx", "-p", dir, "-e", "stderr", "-c", cfg)
	if err != nil {
		return nil, err
	}
	return p, waitPort(ctx, ports[len(ports)-1], p)
}

// targets returns host:port of the scenario's targets.
func (e *env) targets(sc scenario) []string {
	switch sc.targets {
	case "refused":
		return []string{addr(backendA), addr(backendB), addr(refusedPort)}
	case "grpc":
		return []string{addr(grpcBackendA), addr(grpcBackendB)}
	case "thousand":
		ts := make([]string, thousandN)
		for i := range ts {
			ts[i] = addr(thousandBase + i)
		}
		return ts
	case "thousand2":
		return []string{addr(thousandBase), addr(thousandBase + 1)}
	}
	return []string{addr(backendA), addr(backendB)}
}

func addr(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }

// proc is a started process group: the system under test or a backend.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	log  *os.File
}

// startProc starts name's command in its own process group, with output
// to DIR/NAME.log.
func startProc(ctx context.Context, name, dir string, extraEnv []string, bin string, args ...string) (*proc, error) {
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), extraEnv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{}), log: logf}
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// pgid is the process group id (the leader's pid).
func (p *proc) pgid() int { return p.cmd.Process.Pid }

// stop sends SIGTERM to the group, then SIGKILL after 5 s.
func (p *proc) stop() {
	syscall.Kill(-p.pgid(), syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		syscall.Kill(-p.pgid(), syscall.SIGKILL)
		<-p.done
	}
	// Children that outlive the leader (nginx workers) go too.
	syscall.Kill(-p.pgid(), syscall.SIGKILL)
	p.log.Close()
}

// waitPort waits until something accepts on 127.0.0.1:port, or p exits.
func waitPort(ctx context.Context, port int, p *proc) error {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			b, _ := os.ReadFile(p.log.Name())
			return fmt.Errorf("%s exited: %s", p.name, lastLines(string(b), 5))
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		c, err := net.DialTimeout("tcp", addr(port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s: nothing listens on port %d after 15 s", p.name, port)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
