package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// startSystem writes the system's config for the scenario into dir, starts
// it and waits for its listener. Every load balancer gets the same job:
// round robin over the scenario's targets, keep-alive to them, X-Forwarded-For,
// the access log only when logOn, health checks only in the refused
// scenario (where each uses what it has: active checks for Fulcrum and
// HAProxy, passive failure marking for nginx and Caddy).
func (e *env) startSystem(ctx context.Context, name string, sc scenario, logOn bool, dir string) (*proc, error) {
	port := lbPort(name)
	targets := e.targets(sc)
	checks := sc.targets == "refused"
	accessLog := filepath.Join(dir, "access.log")
	var p *proc
	var err error
	if sc.grpc {
		name = "grpc:" + name
	}
	switch name {
	case "grpc:fulcrum", "grpc:haproxy", "grpc:nginx":
		p, err = e.startGRPCSystem(ctx, strings.TrimPrefix(name, "grpc:"), sc, dir, port)
	case "fulcrum":
		p, err = e.startFulcrum(ctx, name, abs(e.o.fulcrum), dir, port, targets, sc.https, checks, logOn, accessLog)
	case "fulcrum-edge":
		// The edge build: the same code without the Kubernetes provider
		// (make build-edge), for the peak-RSS goal's row.
		p, err = e.startFulcrum(ctx, name, abs(e.o.edge), dir, port, targets, sc.https, checks, logOn, accessLog)
	case "fulcrum-1t":
		// One thread running Go code, as HAProxy's nbthread 1: the
		// core-matched comparison on a machine shared with the client
		// and the backends.
		p, err = e.startFulcrum(ctx, name, abs(e.o.fulcrum), dir, port, targets, sc.https, checks, logOn, accessLog, "GOMAXPROCS=1")
	case "fulcrum-edge-1t":
		// The edge build with one thread: the one shape whose row holds
		// all four of issue 15's goal figures (CPU, req/s and p99 against
		// HAProxy's nbthread 1, and the peak RSS the edge build is for).
		p, err = e.startFulcrum(ctx, name, abs(e.o.edge), dir, port, targets, sc.https, checks, logOn, accessLog, "GOMAXPROCS=1")
	case "fulcrum-gr":
		// The same build on its goroutine layer (a goroutine per
		// connection), beside its event loops (issue 15).
		p, err = e.startFulcrum(ctx, name, abs(e.o.fulcrum), dir, port, targets, sc.https, checks, logOn, accessLog, "FULCRUM_IO=goroutine")
	case "fulcrum-base":
		p, err = e.startFulcrum(ctx, name, abs(e.o.baseline), dir, port, targets, sc.https, checks, logOn, accessLog)
	case "haproxy":
		p, err = e.startHAProxy(ctx, dir, port, targets, sc.https, checks, logOn, 1)
	case "haproxy-2t":
		// HAProxy with as many threads as Fulcrum has loops on this
		// 2-core machine: the thread-matched comparison for fulcrum's
		// default, as fulcrum-1t is for HAProxy's nbthread 1.
		p, err = e.startHAProxy(ctx, dir, port, targets, sc.https, checks, logOn, 2)
	case "nginx":
		p, err = e.startNginxLB(ctx, dir, port, targets, sc.https, logOn, accessLog)
	case "caddy":
		p, err = e.startCaddy(ctx, dir, port, targets, sc.https, checks, logOn, accessLog)
	case "goproxy":
		args := []string{"-listen", addr(port), "-backends", "http://" + strings.Join(targets, ",http://")}
		if sc.https {
			args = append(args, "-tls-cert", e.cert, "-tls-key", e.key)
		}
		p, err = startProc(ctx, name, dir, nil, abs(e.o.goproxy), args...)
	case "evproto-epoll", "evproto-gnet", "evproto-epoll-log", "evproto-gnet-log", "evproto-epoll1", "evproto-gnet1":
		// The event-loop prototypes of issue 15 (bench/evproto): plain
		// HTTP only; one loop per CPU, or one loop for the names ending
		// in 1 (as HAProxy runs nbthread 1); the -log systems run with
		// the access log on.
		if sc.https {
			return nil, fmt.Errorf("%s: the prototypes serve plain HTTP only", name)
		}
		layer := strings.TrimSuffix(strings.TrimPrefix(name, "evproto-"), "-log")
		args := []string{"-listen", addr(port), "-targets", strings.Join(targets, ",")}
		if l, ok := strings.CutSuffix(layer, "1"); ok {
			layer = l
			args = append(args, "-loops", "1")
		}
		args = append(args, "-layer", layer)
		if logOn || strings.HasSuffix(name, "-log") {
			args = append(args, "-access-log", accessLog)
		}
		p, err = startProc(ctx, name, dir, nil, abs(e.o.evproto), args...)
	default:
		return nil, fmt.Errorf("unknown system %q", name)
	}
	if err != nil {
		return nil, err
	}
	if err := waitPort(ctx, port, p); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

func abs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

func write(path, content string) error { return os.WriteFile(path, []byte(content), 0o644) }

// startFulcrum runs bin (fulcrum or the fulcrum-base baseline) with the
// same config; name is the process's label, extraEnv its added
// environment ("GOMAXPROCS=1").
func (e *env) startFulcrum(ctx context.Context, name, bin, dir string, port int, targets []string, https, checks, logOn bool, accessLog string, extraEnv ...string) (*proc, error) {
	var b strings.Builder
	b.WriteString("admin: {address: \"127.0.0.1:0\", pprof: true}\nshutdown_grace: 1s\n")
	if logOn {
		fmt.Fprintf(&b, "access_log: {path: %q}\n", accessLog)
	}
	proto := "http"
	tls := ""
	if https {
		proto = "https"
		tls = fmt.Sprintf(", tls: {cert_file: %q, key_file: %q}", e.cert, e.key)
	}
	fmt.Fprintf(&b, "listeners: [{name: web, address: %q, protocol: %s%s, default_target_group: app}]\n", addr(port), proto, tls)
	hc := "{enabled: false}"
	if checks {
		hc = "{interval: 2s, timeout: 1s, healthy_threshold: 1, unhealthy_threshold: 1}"
	}
	fmt.Fprintf(&b, "target_groups:\n  - name: app\n    health_check: %s\n    targets:\n", hc)
	for _, t := range targets {
		fmt.Fprintf(&b, "      - address: %q\n", t)
	}
	cfg := filepath.Join(dir, "fulcrum.yaml")
	if err := write(cfg, b.String()); err != nil {
		return nil, err
	}
	return startProc(ctx, name, dir, extraEnv, bin, "serve", "-c", cfg, "--log-level", "info")
}

// startHAProxy runs HAProxy with nbthread threads (haproxyConfig).
func (e *env) startHAProxy(ctx context.Context, dir string, port int, targets []string, https, checks, logOn bool, threads int) (*proc, error) {
	cfg := filepath.Join(dir, "haproxy.cfg")
	if err := write(cfg, haproxyConfig(port, targets, e.pem, https, checks, logOn, threads)); err != nil {
		return nil, err
	}
	// With the log on, HAProxy's stdout (its process log file) is the
	// access log.
	return startProc(ctx, "haproxy", dir, nil, "haproxy", "-db", "-f", cfg)
}

// haproxyConfig is HAProxy's configuration for the job every system gets:
// nbthread threads, round robin over targets, http-reuse safe, the
// httplog line on stdout when logOn, TLS with pem when https, checks
// every 2 s when checks.
func haproxyConfig(port int, targets []string, pem string, https, checks, logOn bool, threads int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global\n  nbthread %d\n  maxconn 8000\n", threads)
	b.WriteString("defaults\n  mode http\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n  http-reuse safe\n  option forwardfor\n  retries 3\n  option redispatch 1\n")
	if logOn {
		// HAProxy logs through syslog; "stdout" goes to its log file, one
		// httplog line per request.
		b.WriteString("  log stdout format raw local0\n  option httplog\n")
	}
	bind := addr(port)
	if https {
		bind += " ssl crt " + pem
	}
	fmt.Fprintf(&b, "frontend fe\n  bind %s\n  default_backend be\nbackend be\n  balance roundrobin\n", bind)
	check := ""
	if checks {
		check = " check inter 2s fall 1 rise 1"
	}
	for i, t := range targets {
		fmt.Fprintf(&b, "  server s%d %s%s\n", i, t, check)
	}
	return b.String()
}

func (e *env) startNginxLB(ctx context.Context, dir string, port int, targets []string, https, logOn bool, accessLog string) (*proc, error) {
	var up strings.Builder
	for _, t := range targets {
		fmt.Fprintf(&up, "    server %s;\n", t)
	}
	log := "access_log off;"
	if logOn {
		log = "access_log " + accessLog + " combined;"
	}
	listen := fmt.Sprintf("listen %s;", addr(port))
	if https {
		listen = fmt.Sprintf("listen %s ssl;\n    ssl_certificate %s;\n    ssl_certificate_key %s;", addr(port), e.cert, e.key)
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
  %[2]s
  keepalive_requests 10000000;
  client_body_temp_path %[1]s/body;
  # Keep 16 KiB bodies in memory, as the other systems do.
  client_body_buffer_size 64k;
  proxy_temp_path %[1]s/proxy;
  upstream be {
%[3]s    keepalive 512;
    keepalive_requests 10000000;
  }
  server {
    %[4]s
    location / {
      proxy_pass http://be;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
}
`, dir, log, up.String(), listen)
	cfg := filepath.Join(dir, "nginx.conf")
	if err := write(cfg, conf); err != nil {
		return nil, err
	}
	return startProc(ctx, "nginx", dir, nil, "nginx", "-p", dir, "-e", "stderr", "-c", cfg)
}

func (e *env) startCaddy(ctx context.Context, dir string, port int, targets []string, https, checks, logOn bool, accessLog string) (*proc, error) {
	site := "http://" + addr(port)
	tls := ""
	if https {
		site = "https://" + addr(port)
		tls = fmt.Sprintf("  tls %s %s\n", e.cert, e.key)
	}
	log := ""
	if logOn {
		log = fmt.Sprintf("  log {\n    output file %s\n  }\n", accessLog)
	}
	passive := ""
	if checks {
		passive = "    lb_try_duration 2s\n    fail_duration 10s\n"
	}
	conf := fmt.Sprintf(`{
  admin off
  auto_https off
}
%s {
%s%s  reverse_proxy %s {
    lb_policy round_robin
%s    transport http {
      keepalive 60s
      keepalive_idle_conns_per_host 512
    }
  }
}
`, site, tls, log, strings.Join(targets, " "), passive)
	cfg := filepath.Join(dir, "Caddyfile")
	if err := write(cfg, conf); err != nil {
		return nil, err
	}
	home := filepath.Join(dir, "caddy-home")
	os.MkdirAll(home, 0o755)
	envv := []string{"HOME=" + home, "XDG_DATA_HOME=" + home, "XDG_CONFIG_HOME=" + home}
	return startProc(ctx, "caddy", dir, envv, "caddy", "run", "--config", cfg, "--adapter", "caddyfile")
}
