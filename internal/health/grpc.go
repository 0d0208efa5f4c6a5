//lint:file-ignore SA1019 golang.org/x/net/http2 is marked deprecated for net/http's bundled copy, whose stream and GOAWAY error types are unexported: classifying stream failures by type needs x/net's.

package health

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"golang.org/x/net/http2"

	"github.com/fulcrumlb/fulcrum/internal/config"
	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/target"
)

// healthCheckPath is the standard gRPC health service's method
// (https://github.com/grpc/grpc/blob/master/doc/health-checking.md).
const healthCheckPath = "/grpc.health.v1.Health/Check"

// H2Prober checks targets of HTTP2 and GRPC target groups over HTTP/2,
// a new connection per check (h2c with prior knowledge, or TLS with ALPN
// h2), as ALB checks them with the group's protocol version
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html).
// An HTTP check is a GET of Path matched as HTTPProber's. A gRPC check
// is one unary call of Path with an empty request message, its
// grpc-status matched against Matcher's gRPC codes (ALB: 0-99, default
// 12); when Path is grpc.health.v1.Health/Check, an answer with status 0
// must also say SERVING: a NOT_SERVING reply fails the check (ALB looks
// at the code only).
type H2Prober struct {
	// GRPC makes the check a gRPC call; otherwise it is an HTTP GET.
	GRPC bool
	// Dialer connects; its TLS config, when set, makes the check TLS
	// (ALPN h2 is added).
	Dialer *target.Dialer
	// Port overrides the target's port; 0 means the traffic port.
	Port int
	// Path is the request path; for gRPC the method,
	// /package.service/method.
	Path string
	// Timeout bounds the whole check.
	Timeout time.Duration
	// Matcher accepts gRPC status codes (GRPC) or HTTP status codes.
	Matcher config.Matcher
}

// h2ProberFor is ProberFor for an HTTP2 or GRPC group's check: TLS when
// the check or, by default, the group's protocol is https.
func h2ProberFor(tc config.TargetGroup, groupTLS *tls.Config) *H2Prober {
	hc := tc.HealthCheck
	var checkTLS *tls.Config
	if hc.Protocol == "https" || (hc.Protocol == "" || hc.Protocol == "grpc") && tc.Protocol == "https" {
		checkTLS = groupTLS
		if checkTLS == nil {
			checkTLS = &tls.Config{InsecureSkipVerify: true}
		}
		checkTLS = checkTLS.Clone()
		checkTLS.NextProtos = []string{http2.NextProtoTLS}
	}
	p := &H2Prober{
		Dialer:  &target.Dialer{Timeout: hc.Timeout.D(), TLS: checkTLS},
		Port:    int(hc.Port),
		Path:    hc.Path,
		Timeout: hc.Timeout.D(),
		Matcher: hc.Matcher,
	}
	if tc.GRPCHealthCheck() {
		p.GRPC, p.Path, p.Matcher = true, tc.GRPCHealthPath(), tc.GRPCMatcher()
	}
	return p
}

// Probe checks address and returns the result; Status is the HTTP
// status, a gRPC code goes in the description.
func (p *H2Prober) Probe(ctx context.Context, address string) Result {
	start := time.Now()
	addr := address
	if p.Port != 0 {
		host, _, _ := net.SplitHostPort(address)
		addr = net.JoinHostPort(host, strconv.Itoa(p.Port))
	}
	res := Result{Address: addr}
	hp := &HTTPProber{Timeout: p.Timeout} // for its failure descriptions
	ctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	conn, err := p.Dialer.Dial(ctx, addr)
	if err != nil {
		var ae *failure.AttemptError
		if errors.As(err, &ae) && ae.Phase == failure.PhaseTLS && failure.NoApplicationProtocol(ae.Err) {
			ae.Err = fmt.Errorf("%w: the target offers no h2 with ALPN (%w)", errNoH2, ae.Err)
		}
		return hp.fail(res, start, err)
	}
	defer conn.Close()
	scheme := "http"
	if tc, ok := conn.(*tls.Conn); ok {
		scheme = "https"
		if np := tc.ConnectionState().NegotiatedProtocol; np != http2.NextProtoTLS {
			return hp.fail(res, start, &failure.AttemptError{Phase: failure.PhaseTLS, Target: addr,
				Err: fmt.Errorf("%w: the target selected %q with ALPN, not h2", errNoH2, np)})
		}
	}
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	cc, err := (&http2.Transport{DisableCompression: true}).NewClientConn(conn)
	if err != nil {
		return hp.fail(res, start, &failure.AttemptError{Phase: failure.PhaseWrite, Target: addr, Err: &failure.H2Error{Err: err}})
	}
	defer cc.Close()
	req := &http.Request{Method: http.MethodGet, URL: &url.URL{Scheme: scheme, Host: hostHeader(addr), Path: p.Path},
		Host: hostHeader(addr), Proto: "HTTP/2.0", ProtoMajor: 2,
		Header: http.Header{"User-Agent": {"ELB-HealthChecker/2.0"}, "Accept": {"*/*"}}}
	if p.GRPC {
		// An empty request message in gRPC's length-prefixed framing:
		// not compressed, length 0 (an empty HealthCheckRequest asks
		// for the server's overall health).
		frame := make([]byte, 5)
		req.Method, req.Body, req.ContentLength = http.MethodPost, io.NopCloser(bytes.NewReader(frame)), int64(len(frame))
		req.Header["Content-Type"], req.Header["Te"] = []string{"application/grpc"}, []string{"trailers"}
	}
	resp, err := cc.RoundTrip(req.WithContext(ctx))
	if err != nil {
		return hp.fail(res, start, &failure.AttemptError{Phase: failure.PhaseAwaitHeaders, Target: addr, Written: true, Err: &failure.H2Error{Err: err}})
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxCheckBody))
	resp.Body.Close()
	res.Status, res.Latency = resp.StatusCode, time.Since(start)
	if err != nil {
		return hp.fail(res, start, &failure.AttemptError{Phase: failure.PhaseBody, Target: addr, Written: true, Err: &failure.H2Error{Err: err}})
	}
	if !p.GRPC {
		if !p.Matcher.Match(resp.StatusCode) {
			res.Reason = target.ReasonResponseCodeMismatch
			res.Description = fmt.Sprintf("Health checks failed with these codes: [%d]", resp.StatusCode)
			return res
		}
		res.OK = true
		return res
	}
	gs := resp.Trailer.Get("Grpc-Status")
	if gs == "" {
		gs = resp.Header.Get("Grpc-Status") // a trailers-only answer
	}
	code, err := strconv.Atoi(gs)
	if err != nil {
		res.Reason, res.CheckReason = target.ReasonResponseCodeMismatch, checkReasonNoStatus
		res.Description = fmt.Sprintf("Health checks failed: no grpc-status in the answer (HTTP %d)", resp.StatusCode)
		return res
	}
	if !p.Matcher.Match(code) {
		res.Reason, res.CheckReason = target.ReasonResponseCodeMismatch, checkReasonUnexpected
		res.Description = fmt.Sprintf("Health checks failed with these gRPC codes: [%d]", code)
		return res
	}
	if code == 0 && p.Path == healthCheckPath {
		if st, ok := servingStatus(body); !ok || st != 1 {
			res.Reason, res.CheckReason = target.ReasonResponseCodeMismatch, checkReasonUnexpected
			res.Description = fmt.Sprintf("Health checks failed: grpc.health.v1 status %s", servingName(st))
			return res
		}
	}
	res.OK = true
	return res
}

// ALB's health check log reason codes of gRPC checks
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-health-check-logs.html).
const (
	checkReasonNoStatus   = "GRPCStatusHeaderEmpty"
	checkReasonUnexpected = "GRPCUnexpectedStatus"
)

// errNoH2 is a TLS target that did not select h2 with ALPN.
var errNoH2 = errors.New("no HTTP/2")

// servingStatus reads the status of a grpc.health.v1.HealthCheckResponse
// (field 1, an enum) from one length-prefixed gRPC message; an empty
// message is status 0 (UNKNOWN). ok is false for a malformed body.
func servingStatus(body []byte) (status uint64, ok bool) {
	if len(body) < 5 || body[0] != 0 {
		return 0, false
	}
	n := int(body[1])<<24 | int(body[2])<<16 | int(body[3])<<8 | int(body[4])
	msg := body[5:]
	if n > len(msg) {
		return 0, false
	}
	msg = msg[:n]
	for len(msg) > 0 {
		key, k := uvarint(msg)
		if k <= 0 {
			return 0, false
		}
		msg = msg[k:]
		switch key & 7 {
		case 0:
			v, k := uvarint(msg)
			if k <= 0 {
				return 0, false
			}
			msg = msg[k:]
			if key>>3 == 1 {
				status = v
			}
		case 2:
			l, k := uvarint(msg)
			if k <= 0 || uint64(len(msg)-k) < l {
				return 0, false
			}
			msg = msg[k+int(l):]
		default:
			return 0, false
		}
	}
	return status, true
}

// uvarint decodes a protobuf varint; k is its length, 0 or less when
// malformed.
func uvarint(b []byte) (v uint64, k int) {
	for i, c := range b {
		if i == 10 {
			return 0, -1
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}

func servingName(st uint64) string {
	switch st {
	case 0:
		return "UNKNOWN"
	case 1:
		return "SERVING"
	case 2:
		return "NOT_SERVING"
	case 3:
		return "SERVICE_UNKNOWN"
	}
	return strconv.FormatUint(st, 10)
}
