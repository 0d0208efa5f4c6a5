package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// grpcServer runs a real gRPC server with the standard health service on
// 127.0.0.1:0 (h2c, as gRPC servers serve without TLS).
func grpcServer(t *testing.T) (string, *health.Server) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(s, hs)
	done := make(chan struct{})
	go func() { defer close(done); s.Serve(ln) }()
	t.Cleanup(func() { s.Stop(); <-done })
	return ln.Addr().String(), hs
}

// listenerCert writes a self-signed certificate for 127.0.0.1 and
// returns the cert and key file paths.
func listenerCert(t *testing.T) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fulcrum-e2e"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, kf := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(kf, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	return cert, kf
}

// TestGRPCThroughFulcrum: a gRPC client reaches a real gRPC server
// through the fulcrum binary over an https listener (ALPN h2) and a GRPC
// target group (h2c): the gRPC health check makes the target healthy,
// unary and streaming calls pass with their statuses, and a group whose
// target is down answers UNAVAILABLE with Proxy-Status; the access log
// has each call.
func TestGRPCThroughFulcrum(t *testing.T) {
	addr, hs := grpcServer(t)
	dead := closedAddr(t)
	cert, key := listenerCert(t)
	f := startFulcrum(t, fmt.Sprintf(`
access_log: {path: "-"}
listeners:
  - {name: web, address: "127.0.0.1:0", protocol: https, tls: {cert_file: %q, key_file: %q}, default_target_group: greeter}
target_groups:
  - name: greeter
    protocol_version: GRPC
    health_check: {path: /grpc.health.v1.Health/Check, matcher: {grpc_code: "0"}, interval: 1s, timeout: 500ms, healthy_threshold: 1}
    targets: [{address: %q}]
`, cert, key, addr))
	f.healthIs(addr, "healthy")

	cc, err := grpc.NewClient("passthrough:///"+f.addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{InsecureSkipVerify: true})))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	client := healthpb.NewHealthClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()

	okCtx := metadata.AppendToOutgoingContext(ctx, "x-request-id", "grpc-ok")
	if r, err := client.Check(okCtx, &healthpb.HealthCheckRequest{}); err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Check: %v %v", r, err)
	}
	if line := f.accessLine("grpc-ok"); line[0] != "grpcs" || line[fELBStatus] != "200" || line[fTargetStatus] != "200" || line[fTarget] != addr {
		t.Errorf("access log of the OK call: %v", line)
	}
	_, err = client.Check(ctx, &healthpb.HealthCheckRequest{Service: "nope"})
	if st := status.Convert(err); st.Code() != codes.NotFound {
		t.Errorf("unknown service: %v, want the target's NOT_FOUND", err)
	}
	stream, err := client.Watch(ctx, &healthpb.HealthCheckRequest{Service: "svc"})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := stream.Recv(); err != nil || m.Status != healthpb.HealthCheckResponse_SERVICE_UNKNOWN {
		t.Fatalf("first Watch message: %v %v", m, err)
	}
	hs.SetServingStatus("svc", healthpb.HealthCheckResponse_SERVING)
	if m, err := stream.Recv(); err != nil || m.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("streamed update: %v %v", m, err)
	}

	// A group whose only target is down.
	f2 := startFulcrum(t, fmt.Sprintf(`
access_log: {path: "-"}
listeners:
  - {name: web, address: "127.0.0.1:0", protocol: https, tls: {cert_file: %q, key_file: %q}, default_target_group: down}
target_groups:
  - name: down
    protocol_version: GRPC
    health_check: {enabled: false}
    targets: [{address: %q}]
`, cert, key, dead))
	cc2, err := grpc.NewClient("passthrough:///"+f2.addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{InsecureSkipVerify: true})))
	if err != nil {
		t.Fatal(err)
	}
	defer cc2.Close()
	var hdr, trl metadata.MD
	downCtx := metadata.AppendToOutgoingContext(ctx, "x-request-id", "grpc-down")
	_, err = healthpb.NewHealthClient(cc2).Check(downCtx, &healthpb.HealthCheckRequest{}, grpc.Header(&hdr), grpc.Trailer(&trl))
	if st := status.Convert(err); st.Code() != codes.Unavailable || !strings.Contains(st.Message(), "connection_refused") {
		t.Fatalf("down target: %v, want UNAVAILABLE naming connection_refused", err)
	}
	ps := append(hdr.Get("proxy-status"), trl.Get("proxy-status")...)
	if len(ps) == 0 || !strings.Contains(ps[0], "error=connection_refused") {
		t.Errorf("Proxy-Status %v", ps)
	}
	if line := f2.accessLine("grpc-down"); line[fELBStatus] != "502" || line[fErrorReason] != "connection_refused" {
		t.Errorf("access log of the failed call: %v", line)
	}
}

// TestNginxHTTP2Target: nginx serving HTTP/2 with prior knowledge is an
// HTTP2 target: HTTP/1.1 clients reach it over HTTP/2, and its health
// check is sent over HTTP/2.
func TestNginxHTTP2Target(t *testing.T) {
	// runNginx's own listener speaks HTTP/1.1; a second one speaks
	// HTTP/2 with prior knowledge (nginx 1.22: "listen ... http2").
	h2addr := freeAddrs(t, 1)[0]
	runNginx(t, fmt.Sprintf(`listen %s http2; location / { return 200 "$server_protocol\n"; }`, h2addr))
	if !waitListening(h2addr, 5*time.Second) {
		t.Fatal("nginx's http2 listener did not start")
	}
	f := startFulcrum(t, fmt.Sprintf(`
access_log: {path: "-"}
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app}]
target_groups:
  - {name: app, protocol_version: HTTP2, health_check: {path: /healthz, interval: 1s, timeout: 500ms, healthy_threshold: 1}, targets: [{address: %q}]}
`, h2addr))
	f.healthIs(h2addr, "healthy")
	resp, body := get(t, http.DefaultClient, "http://"+f.addr+"/", "nginx-h2")
	if resp.StatusCode != 200 || body != "HTTP/2.0\n" {
		t.Fatalf("status %d body %q, want nginx to see HTTP/2.0", resp.StatusCode, body)
	}
	if line := f.accessLine("nginx-h2"); line[fTargetStatus] != "200" {
		t.Errorf("access log %v", line)
	}
}
