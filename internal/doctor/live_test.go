package doctor

import (
	"testing"

	"github.com/fulcrumlb/fulcrum/internal/admin"
)

// TestLiveByTarget: the live data the CLI passes becomes per-target
// counts and per-group states and LB-generated 5xx; nil is no live data.
func TestLiveByTarget(t *testing.T) {
	if l, g := liveByTarget(nil); l != nil || g != nil {
		t.Errorf("nil live data gave %v %v", l, g)
	}
	d := &LiveData{
		TargetGroups: []admin.TargetGroupView{{Name: "app", Targets: []admin.TargetView{
			{Address: "10.0.0.1:80", State: "healthy"},
			{Address: "10.0.0.2:80", State: "unhealthy", Reason: "Target.FailedHealthChecks",
				Errors: map[string]admin.WindowView{"connection_refused": {M1: 1, M5: 4, M15: 9}}},
		}}},
		Requests: []admin.RequestView{
			{TargetGroup: "app", Status: 502, ErrorType: "connection_refused"},
			{TargetGroup: "app", Status: 502, TargetStatus: 502},
			{TargetGroup: "app", Status: 200, TargetStatus: 200},
			{TargetGroup: "other", Status: 503},
		},
	}
	live, groups := liveByTarget(d)
	down := live["app/10.0.0.2:80"]
	if down == nil || down.State != "unhealthy" || down.Errors5m["connection_refused"] != 4 || down.Errors1m != 1 || down.Errors15m != 9 {
		t.Errorf("unhealthy target %+v", down)
	}
	g := groups["app"]
	if g == nil || g.Targets != 2 || g.States["healthy"] != 1 || g.States["unhealthy"] != 1 || g.Recent != 3 || len(g.LB5xx) != 1 || g.LB5xx["connection_refused"] != 1 {
		t.Errorf("group %+v", g)
	}
}
