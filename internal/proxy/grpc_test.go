//lint:file-ignore SA1019 golang.org/x/net/http2 is marked deprecated for net/http's bundled copy, whose stream and GOAWAY error types are unexported: classifying stream failures by type needs x/net's.

package proxy

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/fulcrumlb/fulcrum/internal/accesslog"
	"github.com/fulcrumlb/fulcrum/internal/metrics"
)

// grpcTarget runs a real gRPC server (the health service, which has a
// unary and a server-streaming method) on 127.0.0.1:0.
func grpcTarget(t *testing.T) (string, *health.Server) {
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

// grpcThroughFulcrum starts Fulcrum for cfg and serves its listener's
// Handler over h2c with golang.org/x/net/http2's server, as the h2c
// listener setting does, and returns a gRPC client to it.
func grpcThroughFulcrum(t *testing.T, cfg string) (healthpb.HealthClient, *accesslog.History, *prometheus.Registry) {
	t.Helper()
	hist := accesslog.NewHistory(100)
	reg := prometheus.NewRegistry()
	s, _ := startServerOpts(t, cfg, Options{Logger: slog.New(slog.DiscardHandler), History: hist, Metrics: metrics.New(reg)})
	front := httptest.NewServer(h2c.NewHandler(s.listeners["web"].handler, &http2.Server{}))
	t.Cleanup(front.Close)
	cc, err := grpc.NewClient("passthrough:///"+hostPort(front.URL), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return healthpb.NewHealthClient(cc), hist, reg
}

func grpcGroup(targets ...string) string {
	var ts []string
	for _, a := range targets {
		ts = append(ts, fmt.Sprintf("{address: %q}", a))
	}
	return fmt.Sprintf(`
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: greeter}]
target_groups: [{name: greeter, protocol_version: GRPC, health_check: {enabled: false}, targets: [%s]}]
`, strings.Join(ts, ", "))
}

// TestGRPCThroughFulcrum: unary and server-streaming calls pass, with the
// target's grpc-status and message, in trailers and trailers-only
// responses; the log and metrics carry the status.
func TestGRPCThroughFulcrum(t *testing.T) {
	addr, hs := grpcTarget(t)
	client, hist, reg := grpcThroughFulcrum(t, grpcGroup(addr))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	var hdr metadata.MD
	resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Header(&hdr))
	if err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Check: %v %v", resp, err)
	}
	ids := hdr.Get("x-request-id")
	if len(ids) != 1 {
		t.Fatalf("no X-Request-Id in %v", hdr)
	}
	if rec, ok := hist.Get(ids[0]); !ok || rec.GRPCStatus != "0" || rec.ELBStatus != 200 {
		t.Errorf("record of the OK call: %+v", rec)
	}

	// grpc-status 5 from the target, in a trailers-only response.
	_, err = client.Check(ctx, &healthpb.HealthCheckRequest{Service: "nope"})
	if st := status.Convert(err); st.Code() != codes.NotFound || !strings.Contains(st.Message(), "unknown service") {
		t.Fatalf("unknown service: %v", err)
	}

	stream, err := client.Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := stream.Recv(); err != nil || m.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("first Watch message: %v %v", m, err)
	}
	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	if m, err := stream.Recv(); err != nil || m.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("streamed update: %v %v", m, err)
	}
	cancel()

	if got := counter(t, reg, "fulcrum_grpc_requests_total", map[string]string{"listener": "web", "target_group": "greeter", "grpc_status": "5"}); got != 1 {
		t.Errorf("grpc_requests_total{grpc_status=5} = %v, want 1", got)
	}
}

// TestGRPCDeadTargetUnavailable: when no target answers, the gRPC client
// gets UNAVAILABLE (ALB's 502) with Proxy-Status, not an HTTP error it
// cannot read.
func TestGRPCDeadTargetUnavailable(t *testing.T) {
	client, hist, reg := grpcThroughFulcrum(t, grpcGroup(closedPort(t)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var hdr, trl metadata.MD
	_, err := client.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Header(&hdr), grpc.Trailer(&trl))
	st := status.Convert(err)
	if st.Code() != codes.Unavailable || !strings.Contains(st.Message(), "connection_refused") {
		t.Fatalf("dead target: %v, want UNAVAILABLE naming connection_refused", err)
	}
	ps := append(hdr.Get("proxy-status"), trl.Get("proxy-status")...)
	if len(ps) == 0 || !strings.Contains(ps[0], "error=connection_refused") {
		t.Errorf("Proxy-Status %v (header %v, trailer %v)", ps, hdr, trl)
	}
	recs := hist.Recent(10, true)
	if len(recs) != 1 || recs[0].GRPCStatus != "14" || recs[0].ELBStatus != 502 {
		t.Errorf("records %+v", recs)
	}
	if got := counter(t, reg, "fulcrum_grpc_requests_total", map[string]string{"listener": "web", "target_group": "greeter", "grpc_status": "14"}); got != 1 {
		t.Errorf("grpc_requests_total{grpc_status=14} = %v, want 1", got)
	}
}

// TestH2FullDuplexEarlyEnd: a target that streams its answer while the
// client still streams its body, then ends the response before the
// client half-closed (as a gRPC server ending a bidi call): the client
// gets every chunk and the end at once, not after the idle timeout.
func TestH2FullDuplexEarlyEnd(t *testing.T) {
	addr, _ := h2cTarget(t, &http2.Server{}, func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 64)
		for {
			n, err := r.Body.Read(buf)
			if n > 0 {
				w.Write(buf[:n])
				w.(http.Flusher).Flush()
				if strings.Contains(string(buf[:n]), "end") {
					return
				}
			}
			if err != nil {
				return
			}
		}
	})
	s, _ := startServer(t, fmt.Sprintf(`
listeners: [{name: web, address: "127.0.0.1:0", idle_timeout: 10s, default_target_group: app}]
target_groups: [{name: app, protocol_version: HTTP2, health_check: {enabled: false}, targets: [{address: %q}]}]
`, addr))
	front := httptest.NewServer(h2c.NewHandler(s.listeners["web"].handler, &http2.Server{}))
	defer front.Close()
	tr := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, a string, _ *tls.Config) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, a)
	}}
	defer tr.CloseIdleConnections()
	pr, pw := io.Pipe()
	defer pw.Close()
	req, _ := http.NewRequest("POST", front.URL+"/duplex", pr)
	start := time.Now()
	go pw.Write([]byte("one ")) // the target answers once it has a chunk
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 64)
	for i, chunk := range []string{"one ", "end"} {
		if i > 0 {
			go pw.Write([]byte(chunk))
		}
		n, err := resp.Body.Read(buf)
		if err != nil || string(buf[:n]) != chunk {
			t.Fatalf("read %q, %v; want %q", buf[:n], err, chunk)
		}
	}
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Fatalf("end of the response: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the response ended after %s; want at once, not at the idle timeout", d)
	}
}

// TestGRPCCodeAndMessage: Fulcrum's statuses map to gRPC codes as gRPC's
// HTTP mapping says, and grpc-message is percent-encoded.
func TestGRPCCodeAndMessage(t *testing.T) {
	for status, want := range map[int]int{502: 14, 503: 14, 504: 14, 400: 13, 408: 4, 431: 8, 460: 2, 501: 12} {
		if got := grpcCode(status); got != want {
			t.Errorf("grpcCode(%d) = %d, want %d", status, got, want)
		}
	}
	if got := grpcMessage("100% caf\u00e9\n"); got != "100%25 caf%C3%A9%0A" {
		t.Errorf("grpcMessage = %q", got)
	}
}

// TestIncompatibleProtocol464: as ALB, a gRPC call to an HTTP1 group and
// an HTTP/1.1 request to a GRPC group are refused with 464 (a gRPC client
// gets UNIMPLEMENTED) instead of reaching a target that cannot serve them.
func TestIncompatibleProtocol464(t *testing.T) {
	addr, _ := grpcTarget(t)
	client, hist, _ := grpcThroughFulcrum(t, fmt.Sprintf(`
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: plain}]
target_groups: [{name: plain, health_check: {enabled: false}, targets: [{address: %q}]}]
`, addr))
	_, err := client.Check(context.Background(), &healthpb.HealthCheckRequest{})
	if st := status.Convert(err); st.Code() != codes.Unimplemented || !strings.Contains(st.Message(), "http_request_denied") {
		t.Fatalf("gRPC to an HTTP1 group: %v, want UNIMPLEMENTED", err)
	}
	recs := hist.Recent(10, true)
	if len(recs) != 1 || recs[0].ELBStatus != 464 || !strings.Contains(recs[0].ErrorDetail, "protocol_version is HTTP1") || len(recs[0].Attempts) != 0 {
		t.Errorf("records %+v", recs)
	}

	_, lb := startServer(t, grpcGroup(addr))
	resp, err := http.Get("http://" + lb + "/grpc.health.v1.Health/Check")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 464 || !strings.Contains(resp.Header.Get("Proxy-Status"), "http_request_denied") {
		t.Errorf("HTTP/1.1 to a GRPC group: %d %q, want 464", resp.StatusCode, resp.Header.Get("Proxy-Status"))
	}
}

// TestGRPCThroughHTTP2Group: a gRPC call may use an HTTP2 group (ALB
// allows it when the targets speak gRPC): it passes with its status.
func TestGRPCThroughHTTP2Group(t *testing.T) {
	addr, _ := grpcTarget(t)
	client, hist, _ := grpcThroughFulcrum(t, strings.Replace(grpcGroup(addr), "protocol_version: GRPC", "protocol_version: HTTP2", 1))
	if r, err := client.Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Check: %v %v", r, err)
	}
	if recs := hist.Recent(10, false); len(recs) != 1 || recs[0].GRPCStatus != "0" {
		t.Errorf("records %+v", recs)
	}
}
