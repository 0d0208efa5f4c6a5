// Package doctor probes a configuration's listeners and targets live and
// explains what it finds: the troubleshooting operators do by hand with
// telnet, curl -v, ss -ltnp, openssl s_client and tcpdump, done by
// Fulcrum itself.
//
// Probes gather evidence (evidence.go, probe.go); pure rules turn
// evidence into findings from the catalogue shared with analyze
// (rules.go, failure.Catalogue), table-tested without a network.
package doctor

import (
	"time"

	"github.com/fulcrumlb/fulcrum/internal/failure"
)

// Severity ranks findings.
type Severity string

// The severities, worst first.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
	SeverityInfo    Severity = "info"
)

// Finding is one thing doctor found, with its evidence and fix.
type Finding struct {
	ID          string   `json:"id"`
	Severity    Severity `json:"severity"`
	TargetGroup string   `json:"target_group,omitempty"`
	Target      string   `json:"target,omitempty"`
	Summary     string   `json:"summary"`
	Evidence    string   `json:"evidence"`
	Fix         string   `json:"fix"`
}

// Probe is one probe's outcome, for the report.
type Probe struct {
	Kind        string  `json:"kind"`
	TargetGroup string  `json:"target_group,omitempty"`
	Target      string  `json:"target,omitempty"`
	Address     string  `json:"address"`
	Outcome     string  `json:"outcome"`
	Millis      float64 `json:"ms"`
	Detail      string  `json:"detail,omitempty"`
}

// Connect is the outcome of a TCP connect: ok, refused, timeout,
// unreachable, dns or error, with the failure class when it failed.
type Connect struct {
	Done     bool
	Address  string
	Outcome  string
	Class    failure.Class
	Duration time.Duration
	Detail   string
}

// OK reports whether the connect succeeded: it was made and carries no
// failure class.
func (c Connect) OK() bool { return c.Done && c.Class.Type == failure.None }

// TLSInfo is the outcome of a TLS handshake and certificate check.
type TLSInfo struct {
	Done         bool
	Version      string
	Cipher       string
	ALPN         string
	Subject      string
	NotAfter     time.Time
	HandshakeErr string
	// HandshakeClass is the handshake failure's class.
	HandshakeClass failure.Class
	// VerifyErr is set when the chain or name does not verify, even when
	// the group skips verification.
	VerifyErr  string
	SkipVerify bool
}

// HealthCheck is the configured health check's outcome.
type HealthCheck struct {
	Done    bool
	Address string
	Path    string
	OK      bool
	Status  int
	Class   failure.Class
	Latency time.Duration
	Timeout time.Duration
	Matcher string
	Detail  string
}

// Conformance is what a byte-for-byte read of one response showed.
type Conformance struct {
	Done       bool
	Path       string
	Status     int
	StatusLine string
	// Problems are violations of RFC 9112 framing or header syntax, each
	// with the offending bytes.
	Problems []string
	// Framing is content-length, chunked, close or none.
	Framing string
	// Answered is true once a response byte came; Latency is from the
	// request written to the first byte, or to the failure; Timeout the
	// wait.
	Answered bool
	Latency  time.Duration
	Timeout  time.Duration
	// Err is the failure for display; Class is what rules read.
	Err   string
	Class failure.Class
}

// KeepAlive is how long the target kept an idle connection open.
type KeepAlive struct {
	Done bool
	// IdleClose is when the target closed the idle connection; zero when
	// it was still open at Limit.
	IdleClose time.Duration
	Limit     time.Duration
	// Source says how IdleClose is known: "Keep-Alive header", "learned
	// by the running Fulcrum", "Connection: close" or "waited".
	Source string
	Err    string
	Class  failure.Class
}

// Evidence is everything probed about one target, with the settings the
// rules compare it against.
type Evidence struct {
	TargetGroup string
	Target      string
	HTTPS       bool
	// HealthPort is true when health checks use another port than
	// traffic.
	HealthPort bool
	// PoolIdle is the group's keepalive_idle_timeout; ListenerIdle the
	// shortest idle timeout of the listeners routing to the group.
	PoolIdle, ListenerIdle time.Duration

	DNS         Connect // Outcome "ok" or "dns"; Detail lists answers
	Traffic     Connect
	Health      Connect // the health-check port, when it differs
	TLS         TLSInfo
	Check       HealthCheck
	Conformance Conformance
	// Recheck is the health path asked again with a longer wait after
	// the health check timed out: did the target answer late, or never?
	Recheck   Conformance
	KeepAlive KeepAlive
	// H2 is the HTTP/2 probe of an HTTP2 or GRPC group's target
	// (h2probe.go), which replaces Conformance and KeepAlive there.
	H2 H2Info
	// Live holds per error type counts of the last 5 minutes from the
	// admin API, with 5xx and requests; nil without admin.
	Live *Live
}

// Live is what a running Fulcrum reported about the target.
type Live struct {
	State      string
	Reason     string
	Requests5m int64
	Status5xx  int64
	Errors5m   map[string]int64
	// Requests and errors (all types) over the last 1 and 15 minutes, and
	// the p99 response time, to see errors rise with load.
	Requests1m, Requests15m int64
	Errors1m, Errors15m     int64
	P99                     time.Duration
	// KeepAlive is the idle-close time the running Fulcrum learned; 0
	// when unknown.
	KeepAlive time.Duration
}

// GroupEvidence is what is known about a target group as a whole: its
// registrations and, from a running Fulcrum, the LB-generated 5xx of its
// recent requests.
type GroupEvidence struct {
	Name string
	// Routed is true when a listener routes to the group.
	Routed bool
	// Targets counts registered targets (the live count when Live).
	Targets int
	// States counts targets per health state, from the live data.
	States map[string]int
	Live   bool
	// LB5xx counts recent requests Fulcrum itself answered with 5xx, per
	// RFC 9209 error type; Recent is how many recent requests were read.
	LB5xx  map[string]int
	Recent int
}
