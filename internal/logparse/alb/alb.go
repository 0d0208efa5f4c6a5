// Package alb parses AWS Application Load Balancer access logs
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-access-logs.html), in every field-count era
// (24, 25, 27, 29, 30 and later trailing fields, which are ignored), and
// Fulcrum's own ALB-format log, whose error_reason holds RFC 9209 error
// types. Causes follow the AWS troubleshooting signatures
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-troubleshooting.html).
package alb

import (
	"fmt"
	"strings"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/logparse"
)

// types are the first field's values of ALB access log lines.
func isType(b []byte) bool {
	switch string(b) {
	case "http", "https", "h2", "grpcs", "ws", "wss":
		return true
	}
	return false
}

// Sniff reports whether line looks like an ALB access log line: a known
// type, then an ISO 8601 time.
func Sniff(line []byte) bool {
	s := logparse.NewScanner(line)
	typ, ok := s.Next()
	if !ok || !isType(typ) {
		return false
	}
	ts, ok := s.Next()
	return ok && len(ts) > 20 && ts[4] == '-' && ts[10] == 'T'
}

// record holds the raw fields the cause rules read.
type record struct {
	rpt, tpt, rspt   time.Duration
	elb, target      int
	targetDash       bool
	actions          string
	errorReason      string
	targetGroupDash  bool
	targetAddrMissed bool
}

// Parse parses one ALB line into e.
func Parse(line []byte, e *logparse.Entry) error {
	*e = logparse.Entry{Kind: logparse.Request}
	s := logparse.NewScanner(line)
	var f [13][]byte
	for i := range f {
		v, ok := s.Next()
		if !ok {
			return fmt.Errorf("alb: %d fields, want at least 13 (through \"request\")", i)
		}
		f[i] = v
	}
	if !isType(f[0]) {
		return fmt.Errorf("alb: type %q is not http, https, h2, grpcs, ws or wss", f[0])
	}
	t, err := time.Parse(time.RFC3339Nano, string(f[1]))
	if err != nil {
		return fmt.Errorf("alb: time %q: %w", f[1], err)
	}
	e.Time = t
	e.Client = logparse.Dash(f[3])
	e.Target = logparse.Dash(f[4])
	r := record{rpt: logparse.Seconds(f[5]), tpt: logparse.Seconds(f[6]), rspt: logparse.Seconds(f[7])}
	r.elb = logparse.Status(f[8])
	r.target = logparse.Status(f[9])
	r.targetDash = string(f[9]) == "-"
	r.targetAddrMissed = e.Target == ""
	e.Status, e.TargetStatus, e.TargetTime = r.elb, r.target, r.tpt
	e.Method, e.URL = logparse.SplitRequest(f[12])
	// Optional fields, by era: user_agent ssl_cipher ssl_protocol
	// target_group_arn trace_id domain_name chosen_cert_arn
	// matched_rule_priority request_creation_time actions_executed
	// redirect_url error_reason target:port_list target_status_code_list
	// classification classification_reason conn_trace_id ...; later
	// fields, ALB's or Fulcrum's own, are ignored (ALB documents that
	// fields may be added at the end).
	var opt [16][]byte
	n := 0
	for ; n < len(opt); n++ {
		v, ok := s.Next()
		if !ok {
			break
		}
		opt[n] = v
	}
	if n > 3 {
		e.Group = logparse.Dash(opt[3])
		r.targetGroupDash = e.Group == ""
	}
	if n > 9 {
		r.actions = string(opt[9])
	}
	if n > 11 {
		r.errorReason = logparse.Dash(opt[11])
	}
	if n > 15 {
		e.Classification, e.ClassificationReason = logparse.Dash(opt[14]), logparse.Dash(opt[15])
	}
	attribute(r, e)
	return nil
}

// attribute names the cause of one ALB line from its status codes,
// timings, actions and error reason.
func attribute(r record, e *logparse.Entry) {
	switch {
	case r.elb == 0:
		return
	case r.elb == 460:
		e.Cause, e.Signature = failure.CauseClientClosed, "elb_status_code 460"
		return
	case r.elb < 500:
		return
	}
	// An ALB-produced status: the target sent none.
	if !r.targetDash && r.target == r.elb {
		e.Cause, e.Signature = failure.CauseTarget5xx, fmt.Sprintf("elb_status_code %d = target_status_code %d", r.elb, r.target)
		return
	}
	if r.actions != "" && !strings.Contains(r.actions, "forward") {
		// fixed-response or redirect: a rule answered, no target was
		// involved (actions_executed in
		// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-access-logs.html).
		e.Excluded, e.Signature = true, fmt.Sprintf("%d from actions_executed %q", r.elb, r.actions)
		return
	}
	e.LBError = true
	if et, ok := failure.ParseErrorType(r.errorReason); ok {
		// Fulcrum's own log: the error type is the classification.
		e.Cause, e.Signature = failure.CauseOf(et, false), fmt.Sprintf("%d with error_reason %s", r.elb, r.errorReason)
		return
	}
	timings := fmt.Sprintf("timings %s %s %s", secs(r.rpt), secs(r.tpt), secs(r.rspt))
	allNA := r.rpt < 0 && r.tpt < 0 && r.rspt < 0
	switch {
	case r.elb == 503 && r.targetAddrMissed:
		e.Cause, e.Signature = failure.CauseNoHealthyTargets, `503 with target "-" (no registered or healthy target)`
	case r.errorReason != "" && strings.Contains(r.errorReason, "TLS"):
		e.Cause, e.Signature = failure.CauseTLSHandshakeFailed, fmt.Sprintf("%d with error_reason %s", r.elb, r.errorReason)
	case r.elb == 502 && allNA:
		e.Cause, e.Signature = failure.CauseTargetNotListening, `502 with target_status_code "-" and `+timings+" (TCP RST on connect)"
	case r.elb == 502 && r.rpt >= 0 && r.rspt < 0:
		// Target closed the connection with a request outstanding
		// (AWS KC-502). The analyzer tells a keep-alive race (a target
		// that otherwise answers) from a dying target.
		e.Cause, e.Signature = failure.CauseKeepaliveRace, `502 with target_status_code "-" and `+timings+" (target closed the connection under a request)"
	case r.elb == 504 && allNA:
		e.Cause, e.Signature = failure.CauseTargetPortFiltered, "504 with "+timings+" (connect timeout)"
	case r.elb == 504:
		e.Cause, e.Signature = failure.CauseTargetResponseTimeout, "504 with "+timings+" (no response within the idle timeout)"
	case r.elb == 502:
		e.Cause, e.Signature = failure.CauseInvalidResponse, `502 with target_status_code "-" and `+timings+" (malformed response or TLS error)"
	default:
		e.Cause, e.Signature = failure.CauseLBError, fmt.Sprintf("%d with target_status_code \"-\"", r.elb)
	}
}

// secs shows a timing as the signature needs it: "-1" (not applicable)
// or "≥0" (measured), so one signature covers every line of a kind.
func secs(d time.Duration) string {
	if d < 0 {
		return "-1"
	}
	return "≥0"
}
