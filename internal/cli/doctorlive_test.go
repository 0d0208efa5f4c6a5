package cli

import (
	"context"
	"testing"

	"github.com/fulcrumlb/fulcrum/internal/admin"
	"github.com/fulcrumlb/fulcrum/internal/config"
)

// TestDoctorLive: the CLI reads doctor's live data through the admin
// client, with the token; without the token, with no address or with
// nothing listening, doctor gets none.
func TestDoctorLive(t *testing.T) {
	srv, tokFile := statusAdmin(t)
	tok, err := admin.ReadToken(tokFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{}
	ctx := context.Background()
	live := doctorLive(ctx, doctorAdmin(cfg, "f.yaml", srv.URL+"/", tok))
	if live == nil || len(live.TargetGroups) != 1 || len(live.TargetGroups[0].Targets) != 2 {
		t.Fatalf("live data %+v", live)
	}
	if got := live.TargetGroups[0].Targets[1]; got.State != "unhealthy" || got.Errors["connection_refused"].M5 != 7 {
		t.Errorf("refusing target %+v", got)
	}
	if l := doctorLive(ctx, doctorAdmin(cfg, "f.yaml", srv.URL, "")); l != nil {
		t.Errorf("without the token: %+v", l)
	}
	cfg.Admin.Address = "127.0.0.1:0" // port chosen at start, no socket
	if c := doctorAdmin(cfg, "f.yaml", "", tok); c != nil {
		t.Errorf("port 0 gave a client for %s", c.base)
	}
	srv.Close()
	if l := doctorLive(ctx, doctorAdmin(cfg, "f.yaml", srv.URL, tok)); l != nil {
		t.Errorf("nothing listening: %+v", l)
	}
}
