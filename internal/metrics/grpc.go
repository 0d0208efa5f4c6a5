package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// newGRPC is fulcrum_grpc_requests_total: gRPC calls by listener,
// target group and grpc-status (ALB GrpcRequestCount, with the status).
func newGRPC() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fulcrum_grpc_requests_total",
		Help: "gRPC calls answered, by listener, target group and grpc-status (0..16, or other), from the target or Fulcrum's own answer (ALB GrpcRequestCount).",
	}, []string{"listener", "target_group", "grpc_status"})
}

// GRPCRequest counts one gRPC call that ended with status, the
// grpc-status value as sent; values other than the 17 codes of
// https://grpc.github.io/grpc/core/md_doc_statuscodes.html are counted
// as "other", so a target cannot grow the label set.
func (m *Metrics) GRPCRequest(listener, group, status string) {
	if m == nil {
		return
	}
	if n, err := strconv.Atoi(status); err != nil || n < 0 || n > 16 {
		status = "other"
	}
	m.grpc.WithLabelValues(listener, group, status).Inc()
}
