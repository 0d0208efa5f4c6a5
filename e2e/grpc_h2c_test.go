package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// TestGRPCOverH2CListener: a gRPC client with prior knowledge reaches a
// gRPC server through an http listener with h2c: true.
func TestGRPCOverH2CListener(t *testing.T) {
	addr, hs := grpcServer(t)
	f := startFulcrum(t, fmt.Sprintf(`
access_log: {path: "-"}
listeners: [{name: web, address: "127.0.0.1:0", h2c: true, default_target_group: greeter}]
target_groups:
  - {name: greeter, protocol_version: GRPC, health_check: {path: /grpc.health.v1.Health/Check, matcher: "0", interval: 1s, timeout: 500ms, healthy_threshold: 1}, targets: [{address: %q}]}
`, addr))
	f.healthIs(addr, "healthy")
	cc, err := grpc.NewClient("passthrough:///"+f.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	client := healthpb.NewHealthClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	okCtx := metadata.AppendToOutgoingContext(ctx, "x-request-id", "h2c-ok")
	if r, err := client.Check(okCtx, &healthpb.HealthCheckRequest{}); err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Check: %v %v", r, err)
	}
	if line := f.accessLine("h2c-ok"); line[fELBStatus] != "200" || line[fTarget] != addr || !strings.Contains(strings.Join(line, " "), "HTTP/2.0") {
		t.Errorf("access log of the call: %v", line)
	}
	_, err = client.Check(ctx, &healthpb.HealthCheckRequest{Service: "nope"})
	if st := status.Convert(err); st.Code() != codes.NotFound {
		t.Errorf("unknown service: %v", err)
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
}
