//lint:file-ignore SA1019 golang.org/x/net/http2 is marked deprecated for net/http's bundled copy; Fulcrum's HTTP/2 is x/net's.

package health

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"

	"google.golang.org/grpc"
	ghealth "google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/fulcrumlb/fulcrum/internal/config"
	"github.com/fulcrumlb/fulcrum/internal/target"
)

// grpcHealthTarget runs a real gRPC server with the standard health
// service on 127.0.0.1:0.
func grpcHealthTarget(t *testing.T) (string, *ghealth.Server) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	hs := ghealth.NewServer()
	healthpb.RegisterHealthServer(s, hs)
	done := make(chan struct{})
	go func() { defer close(done); s.Serve(ln) }()
	t.Cleanup(func() { s.Stop(); <-done })
	return ln.Addr().String(), hs
}

// grpcGroup loads a GRPC target group whose health_check is hc (YAML).
func grpcGroup(t *testing.T, hc string) config.TargetGroup {
	t.Helper()
	c, err := config.Load(fmt.Appendf(nil, `
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: g}]
target_groups: [{name: g, protocol_version: GRPC, health_check: %s, targets: [{address: "127.0.0.1:1"}]}]
`, hc))
	if err != nil {
		t.Fatal(err)
	}
	return c.TargetGroups[0]
}

// TestGRPCProber: ALB's gRPC health check against a real gRPC server:
// the default path and matcher (12, UNIMPLEMENTED) pass; the health
// service with matcher 0 passes while SERVING and fails NOT_SERVING; a
// code the matcher does not list and a dead port fail with the reason.
func TestGRPCProber(t *testing.T) {
	addr, hs := grpcHealthTarget(t)
	ctx := context.Background()
	cases := []struct {
		name, hc   string
		notServing bool
		ok         bool
		desc       string
	}{
		{"ALB defaults: /AWS.ALB/healthcheck answers 12", `{}`, false, true, ""},
		{"health service, matcher 0", `{path: /grpc.health.v1.Health/Check, matcher: "0"}`, false, true, ""},
		{"health service, ALB's mapping form", `{protocol: grpc, path: /grpc.health.v1.Health/Check, matcher: {grpc_code: "0-2"}}`, false, true, ""},
		{"NOT_SERVING fails", `{path: /grpc.health.v1.Health/Check, matcher: "0"}`, true, false, "NOT_SERVING"},
		{"code not in the matcher", `{matcher: "0"}`, false, false, "gRPC codes: [12]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := healthpb.HealthCheckResponse_SERVING
			if tc.notServing {
				st = healthpb.HealthCheckResponse_NOT_SERVING
			}
			hs.SetServingStatus("", st)
			p := ProberFor(grpcGroup(t, tc.hc), nil)
			if hp, ok := p.(*H2Prober); !ok || !hp.GRPC {
				t.Fatalf("ProberFor gave %T, want a gRPC prober", p)
			}
			r := p.Probe(ctx, addr)
			if r.OK != tc.ok || !strings.Contains(r.Description, tc.desc) {
				t.Errorf("result %+v, want ok=%v with %q", r, tc.ok, tc.desc)
			}
			if !tc.ok && (r.Reason != target.ReasonResponseCodeMismatch || CheckReason(r) != "GRPCUnexpectedStatus") {
				t.Errorf("reason %q, log reason %q", r.Reason, CheckReason(r))
			}
		})
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	r := ProberFor(grpcGroup(t, `{}`), nil).Probe(ctx, dead)
	if r.OK || r.Reason != target.ReasonFailedHealthChecks || !strings.Contains(r.Description, "connection refused") {
		t.Errorf("dead target: %+v", r)
	}
}

// TestH2ProberHTTP: an HTTP2 group's HTTP check goes over HTTP/2 (h2c
// with prior knowledge) and matches the HTTP status.
func TestH2ProberHTTP(t *testing.T) {
	status := 200
	var mu sync.Mutex
	ts := httptest.NewServer(h2c.NewHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.ProtoMajor != 2 || r.URL.Path != "/healthz" || r.UserAgent() != "ELB-HealthChecker/2.0" {
			w.WriteHeader(http.StatusHTTPVersionNotSupported)
			return
		}
		w.WriteHeader(status)
	}), &http2.Server{}))
	defer ts.Close()
	c, err := config.Load([]byte(`
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: g}]
target_groups: [{name: g, protocol_version: HTTP2, health_check: {path: /healthz}}]
`))
	if err != nil {
		t.Fatal(err)
	}
	p := ProberFor(c.TargetGroups[0], nil)
	if hp, ok := p.(*H2Prober); !ok || hp.GRPC {
		t.Fatalf("ProberFor gave %T, want an HTTP/2 prober", p)
	}
	addr := strings.TrimPrefix(ts.URL, "http://")
	if r := p.Probe(context.Background(), addr); !r.OK || r.Status != 200 {
		t.Errorf("healthy: %+v", r)
	}
	mu.Lock()
	status = 503
	mu.Unlock()
	if r := p.Probe(context.Background(), addr); r.OK || r.Status != 503 || r.Description != "Health checks failed with these codes: [503]" {
		t.Errorf("unhealthy: %+v", r)
	}
}
