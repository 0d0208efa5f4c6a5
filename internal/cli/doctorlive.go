package cli

import (
	"context"
	"net/http"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/admin"
	"github.com/fulcrumlb/fulcrum/internal/cluster"
	"github.com/fulcrumlb/fulcrum/internal/config"
	"github.com/fulcrumlb/fulcrum/internal/doctor"
)

// doctorLiveTimeout bounds reading a running fulcrum's live data for
// doctor, both admin calls together.
const doctorLiveTimeout = 3 * time.Second

// doctorAdmin is the admin client doctor reads live data through: adminURL
// (--admin) when set, else cfg's admin.address by the same rules as every
// other command (configAdminBase); nil when neither names an address.
func doctorAdmin(cfg *config.Config, cfgPath, adminURL, token string) *adminClient {
	base := adminURL
	if base == "" {
		var err error
		if base, err = configAdminBase(cfg, cfgPath); err != nil {
			return nil // no address to ask: doctor runs on its probes alone
		}
	}
	return &adminClient{base: adminBase(base), token: token, http: &http.Client{Timeout: doctorLiveTimeout}}
}

// doctorLive reads what doctor needs from a running fulcrum: its target
// groups (GET /api/v1/target-groups), its last 1000 requests (GET
// /api/v1/requests?limit=1000) and, with a cluster section, the fleet
// view (GET /api/v1/fleet), within doctorLiveTimeout. It returns nil
// when c is nil or the target groups cannot be read; requests that cannot
// be read are left out.
func doctorLive(ctx context.Context, c *adminClient) *doctor.LiveData {
	if c == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, doctorLiveTimeout)
	defer cancel()
	var groups struct {
		TargetGroups []admin.TargetGroupView `json:"target_groups"`
	}
	if _, err := c.get(ctx, "/api/v1/target-groups", &groups); err != nil || groups.TargetGroups == nil {
		return nil
	}
	live := &doctor.LiveData{TargetGroups: groups.TargetGroups}
	var reqs struct {
		Requests []admin.RequestView `json:"requests"`
	}
	if _, err := c.get(ctx, "/api/v1/requests?limit=1000", &reqs); err == nil {
		live.Requests = reqs.Requests
	}
	var fleet cluster.Fleet
	if _, err := c.get(ctx, "/api/v1/fleet", &fleet); err == nil && fleet.Instance != "" {
		live.Fleet = &fleet // a 404 means no cluster section
	}
	return live
}
