package doctor

import (
	"strings"
	"testing"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/cluster"
)

func TestFleetFindings(t *testing.T) {
	reports := map[string]cluster.Report{}
	for _, name := range []string{"lb-a", "lb-b", "lb-c"} {
		r := cluster.Report{Instance: name, Updated: time.Now(), Targets: []cluster.TargetReport{
			{TargetGroup: "api", Address: "10.0.0.5:80", State: "healthy", Errors5m: map[string]int64{"connection_refused": 3}},
			{TargetGroup: "api", Address: "10.0.0.6:80", State: "healthy"},
			{TargetGroup: "web", Address: "10.0.1.1:80", State: "healthy"},
		}}
		if name == "lb-b" {
			r.Targets[1].Errors5m = map[string]int64{"connection_timed_out": 2}
			r.Targets[2].Errors5m = map[string]int64{"connection_timed_out": 2}
		}
		reports[name] = r
	}
	f := cluster.Merge(cluster.Fleet{Instance: "lb-a", Connected: false, Error: "etcd publish: context deadline exceeded"}, reports)
	got := fleetFindings(&LiveData{Fleet: &f}, "api")
	if len(got) != 3 {
		t.Fatalf("findings %+v", got)
	}
	if got[0].ID != FleetStoreUnreachable || got[1].ID != FleetTargetFailing || got[1].Severity != SeverityError || got[1].Target != "10.0.0.5:80" {
		t.Errorf("findings %+v", got)
	}
	if p := got[2]; p.ID != FleetPathProblem || p.Target != "10.0.0.6:80" || !strings.Contains(p.Fix, "Check the path from lb-b to 10.0.0.6:80") {
		t.Errorf("path finding %+v", p)
	}
	if fleetFindings(&LiveData{}, "") != nil || fleetFindings(nil, "") != nil {
		t.Error("findings without a fleet")
	}
}
