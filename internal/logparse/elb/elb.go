// Package elb parses AWS Classic Load Balancer access logs
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/classic/access-log-collection.html): HTTP and TCP/SSL listener lines, with or
// without the user agent and TLS fields added in 2015, and backend status
// "-" or "0" when the ELB answered. Causes follow the Classic ELB error
// pages (https://docs.aws.amazon.com/elasticloadbalancing/latest/classic/ts-elb-http-errors.html).
package elb

import (
	"fmt"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/logparse"
)

// Sniff reports whether line starts with an ISO 8601 time and then a
// load balancer name, as Classic ELB lines do.
func Sniff(line []byte) bool {
	s := logparse.NewScanner(line)
	ts, ok := s.Next()
	if !ok || len(ts) < 20 || ts[4] != '-' || ts[10] != 'T' {
		return false
	}
	name, ok := s.Next()
	return ok && len(name) > 0 && name[0] != '"'
}

// Parse parses one Classic ELB line into e.
func Parse(line []byte, e *logparse.Entry) error {
	*e = logparse.Entry{Kind: logparse.Request}
	s := logparse.NewScanner(line)
	var f [12][]byte
	for i := range f {
		v, ok := s.Next()
		if !ok {
			return fmt.Errorf("elb: %d fields, want at least 12 (through \"request\")", i)
		}
		f[i] = v
	}
	t, err := time.Parse(time.RFC3339Nano, string(f[0]))
	if err != nil {
		return fmt.Errorf("elb: time %q: %w", f[0], err)
	}
	e.Time, e.Group = t, string(f[1])
	e.Client, e.Target = logparse.Dash(f[2]), logparse.Dash(f[3])
	rpt, bpt, rspt := logparse.Seconds(f[4]), logparse.Seconds(f[5]), logparse.Seconds(f[6])
	e.Status, e.TargetStatus, e.TargetTime = logparse.Status(f[7]), logparse.Status(f[8]), bpt
	e.Method, e.URL = logparse.SplitRequest(f[11])
	if e.Status < 500 {
		return nil
	}
	if e.TargetStatus == e.Status {
		e.Cause, e.Signature = failure.CauseTarget5xx, fmt.Sprintf("elb_status_code %d = backend_status_code %d", e.Status, e.TargetStatus)
		return nil
	}
	e.LBError = true
	allNA := rpt < 0 && bpt < 0 && rspt < 0
	switch {
	case e.Status == 503 && e.Target == "":
		e.Cause, e.Signature = failure.CauseNoHealthyTargets, `503 with backend "-" (no healthy instances, or surge queue full)`
	case e.Status == 504 && allNA:
		// Classic ELB: the instance closed the connection, or was slower
		// than the idle timeout; -1 timings mean it never answered.
		e.Cause, e.Signature = failure.CauseKeepaliveRace, "504 with timings -1 -1 -1 (instance closed the connection; keep-alive shorter than the idle timeout)"
	case e.Status == 504:
		e.Cause, e.Signature = failure.CauseTargetResponseTimeout, "504 (instance slower than the idle timeout)"
	case e.Status == 502:
		e.Cause, e.Signature = failure.CauseInvalidResponse, "502 (the ELB could not parse the instance's response)"
	default:
		e.Cause, e.Signature = failure.CauseLBError, fmt.Sprintf("%d from the ELB", e.Status)
	}
	return nil
}
