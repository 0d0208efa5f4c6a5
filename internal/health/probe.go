package health

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/config"
	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/target"
)

// Result is the outcome of one health check.
type Result struct {
	// OK is true when the check passed.
	OK bool
	// Address is the host:port that was checked (the health-check port).
	Address string
	// Status is the HTTP status received, 0 for none.
	Status int
	// Latency is how long the check took.
	Latency time.Duration
	// Class classifies a connection-level failure; Type is None otherwise.
	Class failure.Class
	// Reason is the ALB reason code of a failure.
	Reason string
	// Description is the evidence, e.g. "connection refused on
	// 10.0.0.5:8081" or "Health checks failed with these codes: [503]".
	Description string
	// CheckReason, when set, is the health check log's reason code of a
	// failure instead of the one CheckReason derives: ALB's
	// GRPCStatusHeaderEmpty and GRPCUnexpectedStatus (grpc.go).
	CheckReason string
}

// Prober runs one kind of check against a target.
type Prober interface {
	Probe(ctx context.Context, address string) Result
}

// HTTPProber checks targets as ALB does: a new connection per check, then
// for http and https a GET of Path with User-Agent ELB-HealthChecker/2.0
// and Host set to the checked address; for tcp, the connect alone.
type HTTPProber struct {
	// Dialer connects; its TLS config makes the check https.
	Dialer *target.Dialer
	// TCP makes the check a plain connect.
	TCP bool
	// Port overrides the target's port; 0 means the traffic port.
	Port int
	// Path is the request path.
	Path string
	// Timeout bounds the whole check.
	Timeout time.Duration
	// Matcher accepts status codes.
	Matcher config.Matcher
}

// maxCheckBody bounds how much of a check response body is read.
const maxCheckBody = 64 << 10

// Probe checks address and returns the result. It never returns early
// without a reason and description on failure.
func (p *HTTPProber) Probe(ctx context.Context, address string) Result {
	start := time.Now()
	addr := address
	if p.Port != 0 {
		host, _, _ := net.SplitHostPort(address)
		addr = net.JoinHostPort(host, strconv.Itoa(p.Port))
	}
	res := Result{Address: addr}
	ctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	conn, err := p.Dialer.Dial(ctx, addr)
	if err != nil {
		return p.fail(res, start, err)
	}
	defer conn.Close()
	if p.TCP {
		res.OK, res.Latency = true, time.Since(start)
		return res
	}
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	req := "GET " + p.Path + " HTTP/1.1\r\nHost: " + hostHeader(addr) +
		"\r\nUser-Agent: ELB-HealthChecker/2.0\r\nAccept: */*\r\nConnection: close\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		return p.fail(res, start, &failure.AttemptError{Phase: failure.PhaseWrite, Target: addr, Written: true, Err: err})
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return p.fail(res, start, &failure.AttemptError{Phase: failure.PhaseAwaitHeaders, Target: addr, Written: true, Err: err})
	}
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxCheckBody))
	resp.Body.Close()
	res.Status, res.Latency = resp.StatusCode, time.Since(start)
	if err != nil {
		return p.fail(res, start, &failure.AttemptError{Phase: failure.PhaseBody, Target: addr, Written: true, Err: err})
	}
	if !p.Matcher.Match(resp.StatusCode) {
		res.Reason = target.ReasonResponseCodeMismatch
		res.Description = fmt.Sprintf("Health checks failed with these codes: [%d]", resp.StatusCode)
		return res
	}
	res.OK = true
	return res
}

func (p *HTTPProber) fail(res Result, start time.Time, err error) Result {
	res.Latency = time.Since(start)
	res.Class = failure.Classify(err)
	what := strings.ReplaceAll(res.Class.Type.String(), "_", " ")
	switch {
	case res.Class.Type.Timeout():
		res.Reason = target.ReasonTimeout
		res.Description = fmt.Sprintf("Request timed out after %s: %s on %s", p.Timeout, what, res.Address)
	case res.Class.Type == failure.ConnectionRefused, res.Class.Type == failure.DestinationIPUnroutable, res.Class.Type == failure.ConnectionTerminated:
		res.Reason = target.ReasonFailedHealthChecks
		res.Description = fmt.Sprintf("%s on %s", what, res.Address)
	default: // the error text is the evidence: a TLS alert, a malformed header
		res.Reason = target.ReasonFailedHealthChecks
		res.Description = fmt.Sprintf("%s on %s: %v", what, res.Address, unwrapAttempt(err))
	}
	return res
}

// unwrapAttempt returns the error below an AttemptError, whose own text
// repeats the phase and address already in the description.
func unwrapAttempt(err error) error {
	if ae, ok := err.(*failure.AttemptError); ok {
		return ae.Err
	}
	return err
}

// hostHeader is the Host of a check: the address, without the port when it
// is 80 or 443 (ALB-TS24).
func hostHeader(addr string) string {
	host, port, _ := net.SplitHostPort(addr)
	if port == "80" || port == "443" {
		return host
	}
	return addr
}

// ProberFor returns the prober a target group's health_check configures:
// an *H2Prober for an HTTP2 or GRPC group's http, https or grpc check
// (grpc.go), else an *HTTPProber.
// groupTLS is the group's client TLS (target.ClientTLS); https checks of
// an http group verify nothing, as ALB's do.
func ProberFor(tc config.TargetGroup, groupTLS *tls.Config) Prober {
	if tc.GRPCHealthCheck() || tc.HTTP2() && tc.HealthCheck.Protocol != "tcp" {
		return h2ProberFor(tc, groupTLS)
	}
	hc := tc.HealthCheck
	proto := hc.Protocol
	if proto == "" {
		proto = tc.Protocol
	}
	var checkTLS *tls.Config
	if proto == "https" {
		checkTLS = groupTLS
		if checkTLS == nil {
			checkTLS = &tls.Config{InsecureSkipVerify: true}
		}
	}
	return &HTTPProber{
		Dialer:  &target.Dialer{Timeout: hc.Timeout.D(), TLS: checkTLS},
		TCP:     proto == "tcp",
		Port:    int(hc.Port),
		Path:    hc.Path,
		Timeout: hc.Timeout.D(),
		Matcher: hc.Matcher,
	}
}
