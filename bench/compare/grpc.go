package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Ports of the two bench/grpcbackend greeters of the grpc-c50 scenario.
const (
	grpcBackendA = 9211
	grpcBackendB = 9212
)

// wantsGRPC reports whether the run has a gRPC scenario, which needs the
// gRPC backends.
func wantsGRPC(o options) bool {
	for _, n := range o.scenarios {
		if sc, ok := scenarioByName(n); ok && sc.grpc {
			return true
		}
	}
	return false
}

// startGRPCBackends runs the two greeters; the first is the direct row.
func (e *env) startGRPCBackends(ctx context.Context) error {
	for _, port := range []int{grpcBackendA, grpcBackendB} {
		name := fmt.Sprintf("grpcbackend-%d", port)
		dir := filepath.Join(e.tmp, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		p, err := startProc(ctx, name, dir, nil, abs(e.o.grpcBackend), "-listen", addr(port))
		if err != nil {
			return err
		}
		e.backends = append(e.backends, p)
		if port == grpcBackendA {
			e.grpcDirect = p
		}
		if err := waitPort(ctx, port, p); err != nil {
			return err
		}
	}
	return nil
}

// nginxHasGRPC reports whether the nginx binary has the grpc module:
// it is built in unless configured --without-http_grpc_module
// (https://nginx.org/en/docs/http/ngx_http_grpc_module.html), and needs
// http_v2.
func nginxHasGRPC() bool {
	out, err := exec.Command("nginx", "-V").CombinedOutput()
	s := string(out)
	return err == nil && strings.Contains(s, "--with-http_v2_module") && !strings.Contains(s, "--without-http_grpc_module")
}

// grpcCapable reports whether system can run a gRPC scenario, and why
// not. Caddy, the plain httputil proxy and the pre-HTTP/2 baseline
// build are left out.
func grpcCapable(system string, nginxGRPC bool) (bool, string) {
	switch system {
	case "direct", "fulcrum", "haproxy":
		return true, ""
	case "nginx":
		if nginxGRPC {
			return true, ""
		}
		return false, "nginx has no grpc module (nginx -V)"
	case "fulcrum-base":
		return false, "the baseline build predates HTTP/2 to targets"
	}
	return false, "not set up for gRPC in this harness"
}

// startGRPCSystem starts a load balancer for a gRPC scenario: an h2c
// listener (https listener with ALPN h2 when sc.https) forwarding unary
// calls round robin over the two greeters with HTTP/2 to them, no access
// log and no health checks.
func (e *env) startGRPCSystem(ctx context.Context, name string, sc scenario, dir string, port int) (*proc, error) {
	targets := e.targets(sc)
	switch name {
	case "fulcrum":
		var b strings.Builder
		b.WriteString("admin: {address: \"127.0.0.1:0\"}\nshutdown_grace: 1s\n")
		l := "protocol: http, h2c: true"
		if sc.https {
			l = fmt.Sprintf("protocol: https, tls: {cert_file: %q, key_file: %q}", e.cert, e.key)
		}
		fmt.Fprintf(&b, "listeners: [{name: web, address: %q, %s, default_target_group: greeter}]\n", addr(port), l)
		b.WriteString("target_groups:\n  - name: greeter\n    protocol_version: GRPC\n    health_check: {enabled: false}\n    targets:\n")
		for _, t := range targets {
			fmt.Fprintf(&b, "      - address: %q\n", t)
		}
		cfg := filepath.Join(dir, "fulcrum.yaml")
		if err := write(cfg, b.String()); err != nil {
			return nil, err
		}
		return startProc(ctx, name, dir, nil, abs(e.o.fulcrum), "serve", "-c", cfg, "--log-level", "info")
	case "haproxy":
		// proto h2 on the bind is h2c with prior knowledge; on a server
		// line it speaks HTTP/2 to the target
		// (https://docs.haproxy.org/2.6/configuration.html#5.1-proto).
		bind := addr(port) + " proto h2"
		if sc.https {
			bind = addr(port) + " ssl crt " + e.pem + " alpn h2"
		}
		var b strings.Builder
		b.WriteString("global\n  nbthread 1\n  maxconn 8000\n")
		b.WriteString("defaults\n  mode http\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n  http-reuse safe\n  option forwardfor\n")
		fmt.Fprintf(&b, "frontend fe\n  bind %s\n  default_backend be\nbackend be\n  balance roundrobin\n", bind)
		for i, t := range targets {
			fmt.Fprintf(&b, "  server s%d %s proto h2\n", i, t)
		}
		cfg := filepath.Join(dir, "haproxy.cfg")
		if err := write(cfg, b.String()); err != nil {
			return nil, err
		}
		return startProc(ctx, "haproxy", dir, nil, "haproxy", "-db", "-f", cfg)
	case "nginx":
		var up strings.Builder
		for _, t := range targets {
			fmt.Fprintf(&up, "    server %s;\n", t)
		}
		listen := fmt.Sprintf("listen %s http2;", addr(port))
		if sc.https {
			listen = fmt.Sprintf("listen %s ssl http2;\n    ssl_certificate %s;\n    ssl_certificate_key %s;", addr(port), e.cert, e.key)
		}
		if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
			return nil, err
		}
		conf := fmt.Sprintf(`worker_processes 2;
worker_rlimit_nofile 20000;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 16000; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  upstream be {
%[2]s    keepalive 512;
    keepalive_requests 10000000;
  }
  server {
    %[3]s
    http2_max_requests 10000000;
    keepalive_requests 10000000;
    location / {
      grpc_pass grpc://be;
      grpc_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
}
`, dir, up.String(), listen)
		cfg := filepath.Join(dir, "nginx.conf")
		if err := write(cfg, conf); err != nil {
			return nil, err
		}
		return startProc(ctx, "nginx", dir, nil, "nginx", "-p", dir, "-e", "stderr", "-c", cfg)
	}
	return nil, fmt.Errorf("system %s does not run gRPC scenarios", name)
}

// grpcLoad runs bench/grpcload against port for the scenario; its output
// is in wrk's format.
func (e *env) grpcLoad(ctx context.Context, sc scenario, port, seconds int) (string, error) {
	args := []string{"-addr", addr(port), "-c", fmt.Sprint(sc.conns), "-d", fmt.Sprintf("%ds", seconds)}
	if sc.https {
		args = append(args, "-tls")
	}
	out, err := exec.CommandContext(ctx, abs(e.o.grpcLoad), args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("grpcload %s: %w: %s", strings.Join(args, " "), err, lastLines(string(out), 3))
	}
	return string(out), nil
}
