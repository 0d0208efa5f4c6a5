package proxy

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/fulcrumlb/fulcrum/internal/config"
	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/httpmsg"
)

// gRPC status codes Fulcrum answers with
// (https://grpc.github.io/grpc/core/md_doc_statuscodes.html).
const (
	grpcUnknown           = 2
	grpcDeadlineExceeded  = 4
	grpcPermissionDenied  = 7
	grpcResourceExhausted = 8
	grpcUnimplemented     = 12
	grpcInternal          = 13
	grpcUnavailable       = 14
	grpcUnauthenticated   = 16
)

// grpcRequest reports whether r is a gRPC call: HTTP/2 with a content
// type of application/grpc, application/grpc+proto and the like
// (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md).
func grpcRequest(r *httpmsg.Request) bool {
	if r.ProtoMajor != 2 {
		return false
	}
	ct := r.Header.Get("Content-Type")
	return ct == "application/grpc" || strings.HasPrefix(ct, "application/grpc+") || strings.HasPrefix(ct, "application/grpc;")
}

// grpcCode is the gRPC status a gRPC client gets where an HTTP client
// gets status: gRPC's own mapping of HTTP statuses
// (https://github.com/grpc/grpc/blob/master/doc/http-grpc-status-mapping.md),
// so 502, 503 and 504 are UNAVAILABLE (14), which clients retry; a 504
// from a timeout is DEADLINE_EXCEEDED (4) only when the client's own
// deadline ran out, which Fulcrum does not see, so it stays UNAVAILABLE.
func grpcCode(status int) int {
	switch status {
	case 400, 500:
		return grpcInternal
	case 401:
		return grpcUnauthenticated
	case 403:
		return grpcPermissionDenied
	case 404, 464, 501:
		return grpcUnimplemented
	case 408:
		return grpcDeadlineExceeded
	case 413, 414, 431:
		return grpcResourceExhausted
	case 429, 502, 503, 504:
		return grpcUnavailable
	}
	return grpcUnknown
}

// answerGRPC is answer for a gRPC call: a gRPC client reads failures
// from grpc-status, not the HTTP status, so Fulcrum answers HTTP 200 with
// a trailers-only response (grpc-status, a percent-encoded grpc-message
// naming the error type and request id) and the same Proxy-Status as
// any answer. The access log keeps the HTTP status an HTTP client would
// have got, so error accounting stays one; its grpc_status field is what
// the gRPC client saw.
func (h *Handler) answerGRPC(q *request, c failure.Class, detail string) {
	et, status := c.Type, c.Status()
	rec := q.rec
	rec.Error, rec.ErrorDetail, rec.ELBStatus, rec.TargetStatus = et, detail, status, 0
	rec.TargetProcessing, rec.ResponseProcessing = -1, -1
	if status == 460 || status == 0 {
		return
	}
	grpcType(q)
	code := grpcCode(status)
	rec.GRPCStatus = strconv.Itoa(code)
	h.Metrics.GRPCRequest(h.Listener, rec.TargetGroup, rec.GRPCStatus)
	hdr := q.w.Header()
	clear(hdr)
	msg := strconv.Itoa(status) + " " + http.StatusText(status) + ": " + et.String() + " (request id " + q.id + ")"
	hdr["Server"] = []string{"fulcrum"}
	hdr["Proxy-Status"] = []string{proxyStatus(et, publicDetail(q, detail))}
	hdr["Content-Type"] = []string{"application/grpc"}
	hdr["X-Request-Id"] = []string{q.id}
	hdr["Grpc-Status"] = []string{rec.GRPCStatus}
	hdr["Grpc-Message"] = []string{grpcMessage(msg)}
	q.w.WriteHeader(http.StatusOK)
	rec.SentBytes = int64(len(msg)) + 200
}

// grpcMessage percent-encodes a grpc-message value: bytes outside
// printable ASCII and '%' are escaped
// (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md).
func grpcMessage(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '%' {
			const hex = "0123456789ABCDEF"
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// grpcForwarded records a forwarded gRPC call: the target's
// grpc-status in the log and metrics, and ALB's log type grpcs for gRPC
// over TLS.
func (h *Handler) grpcForwarded(q *request, x *exchange) {
	rec := q.rec
	if rec.GRPCStatus = x.resp.Trailer.Get("Grpc-Status"); rec.GRPCStatus == "" {
		// A trailers-only response carries it in the header. The value
		// aliases the connection's head buffer (attemptSpace), and the
		// record and the metric label outlive the request.
		rec.GRPCStatus = strings.Clone(x.headerValue("Grpc-Status"))
	}
	if rec.GRPCStatus != "" {
		h.Metrics.GRPCRequest(h.Listener, rec.TargetGroup, rec.GRPCStatus)
	}
	grpcType(q)
}

// grpcType sets the access log's type of a gRPC call over TLS to grpcs,
// as ALB logs it
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-access-logs.html).
func grpcType(q *request) {
	if q.r.TLS != nil && grpcRequest(q.r) {
		q.rec.Type = "grpcs"
	}
}

// statusIncompatibleProtocol is ALB's 464: the request's protocol does
// not fit the target group's protocol version
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-troubleshooting.html).
const statusIncompatibleProtocol = 464

// refuseProtocol answers 464 (http_request_denied; a gRPC client gets
// UNIMPLEMENTED) and reports true when the request cannot be carried to
// the target group, as ALB refuses it: a gRPC call to an HTTP1 group, or
// a request to a GRPC group that is not an HTTP/2 POST. An HTTP/1.1
// request to an HTTP2 group, which ALB refuses too, is translated and
// forwarded.
func (h *Handler) refuseProtocol(q *request) bool {
	var why string
	switch v := q.group.cfg.Version(); {
	case v == config.ProtocolHTTP1 && grpcRequest(q.r):
		why = "a gRPC call cannot reach target group " + q.group.Name + ", whose protocol_version is HTTP1 (set GRPC)"
	case v == config.ProtocolGRPC && (q.r.ProtoMajor != 2 || q.r.Method != http.MethodPost):
		why = "target group " + q.group.Name + " is GRPC: it takes HTTP/2 POST requests, not " + q.r.Proto + " " + q.r.Method
	default:
		return false
	}
	h.fail(q, &failure.ClientError{Denied: true, Status: statusIncompatibleProtocol, Err: errors.New(why)})
	return true
}
