//lint:file-ignore SA1019 the h2c test target is x/net's http2.Server (deprecated for net/http's bundled copy), a real HTTP/2 server independent of net/http's.

package doctor

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/fulcrumlb/fulcrum/internal/config"
	"github.com/fulcrumlb/fulcrum/internal/failure"
)

// runGroup runs doctor over one target group written as YAML flow and
// returns the report.
func runGroup(t *testing.T, group string) *Report {
	t.Helper()
	cfg, err := config.Load([]byte("listeners: [{name: web, address: \"127.0.0.1:0\", default_target_group: g}]\ntarget_groups: [" + group + "]\n"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := Run(ctx, cfg, Options{ProbeTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// probe returns the report's probe of kind, or fails the test.
func probe(t *testing.T, rep *Report, kind string) Probe {
	t.Helper()
	for _, p := range rep.Probes {
		if p.Kind == kind {
			return p
		}
	}
	t.Fatalf("no %s probe in %+v", kind, rep.Probes)
	return Probe{}
}

// errorFinding returns the error finding with id, or fails the test.
func errorFinding(t *testing.T, rep *Report, id string) Finding {
	t.Helper()
	for _, f := range rep.Findings {
		if f.ID == id && f.Severity == SeverityError {
			return f
		}
	}
	t.Fatalf("no error finding %s in %+v", id, rep.Findings)
	return Finding{}
}

func noErrors(t *testing.T, rep *Report) {
	t.Helper()
	if rep.Errors() != 0 {
		t.Errorf("error findings for a good target: %+v", rep.Findings)
	}
}

// grpcTarget runs a grpc-go server with the standard health service on
// 127.0.0.1:0.
func grpcTarget(t *testing.T) (string, *health.Server) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(grpc.MaxConcurrentStreams(7))
	hs := health.NewServer()
	healthpb.RegisterHealthServer(s, hs)
	done := make(chan struct{})
	go func() { defer close(done); s.Serve(ln) }()
	t.Cleanup(func() { s.Stop(); <-done })
	return ln.Addr().String(), hs
}

// TestH2GRPCTarget: a gRPC target is probed over h2c: its SETTINGS and
// its health service's answer are evidence, and NOT_SERVING is an error.
func TestH2GRPCTarget(t *testing.T) {
	addr, hs := grpcTarget(t)
	group := fmt.Sprintf("{name: g, protocol_version: GRPC, health_check: {path: /grpc.health.v1.Health/Check, matcher: \"0\", timeout: 2s}, targets: [{address: %q}]}", addr)
	rep := runGroup(t, group)
	noErrors(t, rep)
	t.Logf("h2-settings: %s", probe(t, rep, "h2-settings").Detail)
	if p := probe(t, rep, "h2-settings"); p.Outcome != "ok" || !strings.Contains(p.Detail, "MAX_CONCURRENT_STREAMS=7") || !strings.Contains(p.Detail, "MAX_FRAME_SIZE=") {
		t.Errorf("settings probe %+v", p)
	}
	if p := probe(t, rep, "grpc-health"); p.Outcome != "serving" || !strings.Contains(p.Detail, "SERVING (gRPC code 0") {
		t.Errorf("health probe %+v", p)
	}
	for _, p := range rep.Probes {
		if p.Kind == "conformance" || p.Kind == "h2-alpn" {
			t.Errorf("probe %s on an h2c gRPC target: %+v", p.Kind, p)
		}
	}

	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	rep = runGroup(t, group)
	if p := probe(t, rep, "grpc-health"); p.Outcome != "not_serving" {
		t.Errorf("health probe %+v", p)
	}
	if f := errorFinding(t, rep, failure.CauseHealthCheckStatus); !strings.Contains(f.Evidence, "NOT_SERVING") {
		t.Errorf("finding %+v", f)
	}
}

// serveH2C serves h on 127.0.0.1:0 with x/net's http2.Server, h2c with
// prior knowledge, one ServeConn per connection.
func serveH2C(t *testing.T, srv *http2.Server, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { srv.ServeConn(c, &http2.ServeConnOpts{Handler: h}) })
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

// TestH2CTarget: an x/net HTTP/2 server on an HTTP2 group shows its
// SETTINGS and gets no error.
func TestH2CTarget(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 {
			w.WriteHeader(http.StatusHTTPVersionNotSupported)
		}
	})
	addr := serveH2C(t, &http2.Server{MaxConcurrentStreams: 3, MaxReadFrameSize: 1 << 20, IdleTimeout: 10 * time.Second}, ok)
	rep := runGroup(t, fmt.Sprintf("{name: g, protocol_version: HTTP2, health_check: {path: /, timeout: 2s}, targets: [{address: %q}]}", addr))
	noErrors(t, rep)
	p := probe(t, rep, "h2-settings")
	for _, want := range []string{"MAX_CONCURRENT_STREAMS=3", "MAX_FRAME_SIZE=1048576", "INITIAL_WINDOW_SIZE="} {
		if !strings.Contains(p.Detail, want) {
			t.Errorf("settings probe %+v lacks %s", p, want)
		}
	}
	if hc := probe(t, rep, "health-check"); hc.Outcome != "pass" {
		t.Errorf("health check %+v", hc)
	}
}

// TestH2TLSWithoutH2: a TLS target that offers only http/1.1 with ALPN
// on an https HTTP2 group is h2-not-negotiated, naming what it chose.
func TestH2TLSWithoutH2(t *testing.T) {
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	s.TLS = &tls.Config{NextProtos: []string{"http/1.1"}}
	s.StartTLS()
	t.Cleanup(s.Close)
	addr := s.Listener.Addr().String()
	rep := runGroup(t, fmt.Sprintf("{name: g, protocol: https, protocol_version: HTTP2, tls: {insecure_skip_verify: true}, health_check: {enabled: false}, targets: [{address: %q}]}", addr))
	f := errorFinding(t, rep, failure.CauseH2NotNegotiated)
	if !strings.Contains(f.Evidence, "selected http/1.1") || !strings.Contains(f.Evidence, "HTTP2") {
		t.Errorf("finding %+v", f)
	}
	if p := probe(t, rep, "h2-alpn"); p.Outcome != "not-negotiated" {
		t.Errorf("alpn probe %+v", p)
	}
}

// TestH2CGroupHTTP1Target: an HTTP/1.1-only server on an h2c group is
// named as such, and the HTTP/1.1 server's answer is the evidence.
func TestH2CGroupHTTP1Target(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(s.Close)
	addr := s.Listener.Addr().String()
	rep := runGroup(t, fmt.Sprintf("{name: g, protocol_version: GRPC, health_check: {enabled: false}, targets: [{address: %q}]}", addr))
	f := errorFinding(t, rep, failure.CauseH2ProtocolError)
	if !strings.Contains(f.Evidence, "HTTP/1.1 only") || !strings.Contains(f.Evidence, "protocol_version GRPC") || !strings.Contains(f.Evidence, `answered the HTTP/2 preface with "HTTP/1.1 `) {
		t.Errorf("finding %+v", f)
	}
	if p := probe(t, rep, "h2-settings"); p.Outcome != "error" {
		t.Errorf("settings probe %+v", p)
	}
}

// TestDiagnoseH2NeverAllGood: every failed HTTP/2 probe gives an error.
func TestDiagnoseH2NeverAllGood(t *testing.T) {
	for _, h := range []H2Info{
		{Done: true, Version: "HTTP2", Err: "reading the target's SETTINGS: EOF", Cause: failure.CauseTargetClosed},
		{Done: true, Version: "HTTP2", Err: "something"},
		{Done: true, Version: "GRPC", TLS: true, ALPN: "", Cause: failure.CauseH2NotNegotiated, Err: "x"},
		{Done: true, Version: "GRPC", Settings: true, InitialWindowSize: 65535, MaxFrameSize: 16384, Health: "UNAVAILABLE", HealthCode: 14, HealthErr: "down"},
	} {
		ev := base()
		ev.H2 = h
		fs := Diagnose(ev, now)
		if len(fs) == 0 || fs[0].Severity != SeverityError {
			t.Errorf("%+v: findings %+v", h, fs)
		}
	}
	ev := base()
	ev.H2 = H2Info{Done: true, Version: "GRPC", Settings: true, Health: "SERVING"}
	if fs := Diagnose(ev, now); len(fs) != 0 {
		t.Errorf("healthy h2 target: %+v", fs)
	}
}
