package doctor

import (
	"fmt"
	"strings"
)

// The fleet's finding IDs (docs/fleet.md): what the instances of a
// cluster see of a target, compared.
const (
	// FleetTargetFailing: every instance sees the same failure.
	FleetTargetFailing = "fleet-target-failing-everywhere"
	// FleetPathProblem: only some instances see it.
	FleetPathProblem = "fleet-path-problem"
	// FleetStoreUnreachable: this instance does not reach etcd.
	FleetStoreUnreachable = "fleet-store-unreachable"
)

// fleetFindings turns the fleet view's verdicts into findings: a
// failure every instance sees is the target's (error), one that only some
// see points at the network path from them (warning). only limits them
// to one target group when set.
func fleetFindings(d *LiveData, only string) []Finding {
	if d == nil || d.Fleet == nil {
		return nil
	}
	f := d.Fleet
	var out []Finding
	if !f.Connected {
		out = append(out, Finding{ID: FleetStoreUnreachable, Severity: SeverityWarning, Target: f.Instance,
			Summary:  "This instance does not reach the cluster's etcd: it serves with what it knows, and the fleet view is stale",
			Evidence: fmt.Sprintf("live: %s", f.Error),
			Fix:      "Check cluster.etcd.endpoints and the etcd members' health (etcdctl endpoint health); routing goes on meanwhile"})
	}
	for _, t := range f.Targets {
		if only != "" && t.TargetGroup != only {
			continue
		}
		for _, v := range t.Verdicts {
			switch {
			case v.Everywhere:
				out = append(out, Finding{ID: FleetTargetFailing, Severity: SeverityError, TargetGroup: t.TargetGroup, Target: t.Address,
					Summary:  "Every instance of the fleet sees this target fail: the target itself, not the network path",
					Evidence: "fleet: " + v.Text,
					Fix:      fmt.Sprintf("Look at the target %s itself (process, port, logs): all %d instances see %s", t.Address, v.Of, v.What)})
			case len(v.Instances) < v.Of:
				out = append(out, Finding{ID: FleetPathProblem, Severity: SeverityWarning, TargetGroup: t.TargetGroup, Target: t.Address,
					Summary:  "Only some instances of the fleet see this target fail: suspect the network path from them",
					Evidence: "fleet: " + v.Text,
					Fix: fmt.Sprintf("Check the path from %s to %s (routes, security groups, NAT, MTU, the instance's own resources); the other instances reach it",
						strings.Join(v.Instances, ", "), t.Address)})
			}
		}
	}
	return out
}
