package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fulcrumlb/fulcrum/internal/config"
	"github.com/fulcrumlb/fulcrum/internal/target"
)

// fakeControl registers into and drains targets of the fixture's group,
// and reloads by returning a scripted outcome.
type fakeControl struct {
	g         *target.Group
	reloadErr error
	info      config.Info
}

func (f *fakeControl) Register(_ context.Context, group, addr string, weight int) error {
	if group != f.g.Name {
		return fmt.Errorf("%w: %s", target.ErrUnknownGroup, group)
	}
	t := target.New(group, addr, weight, target.Health{State: target.StateInitial, Reason: target.ReasonInitialHealthChecking, Since: t0})
	t.SetRuntime(true)
	return f.g.Add(t)
}

func (f *fakeControl) Deregister(_ context.Context, group, addr string) error {
	t := f.g.Find(addr)
	if group != f.g.Name || t == nil {
		return fmt.Errorf("%w: %s", target.ErrUnknownTarget, addr)
	}
	t.StartDraining(t0, "Target deregistration is in progress")
	return nil
}

func (f *fakeControl) Reload(context.Context) ([]string, error) {
	if f.reloadErr != nil {
		f.info.LastReload = &config.ReloadOutcome{At: t0, Error: f.reloadErr.Error(), Problems: config.Problems(f.reloadErr)}
		return nil, f.reloadErr
	}
	f.info.LastReload = &config.ReloadOutcome{At: t0, OK: true, Changes: []string{"target 10.0.0.3:80 added to web"}}
	return f.info.LastReload.Changes, nil
}

func (f *fakeControl) ConfigInfo() config.Info { return f.info }

func send(t *testing.T, h http.Handler, method, path, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var v map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("%s %s: not JSON: %s", method, path, rec.Body)
	}
	return rec.Code, v
}

func TestControlEndpoints(t *testing.T) {
	s, g := fixture()
	fc := &fakeControl{g: g, info: config.Info{Path: "/etc/fulcrum.yaml", Source: "listeners: []\n", LoadedAt: t0}}
	s.Control = fc
	h := s.Handler()

	code, v := send(t, h, "POST", "/api/v1/target-groups/web/targets", `{"address": "10.0.0.3:80", "weight": 2}`)
	if code != 201 || v["address"] != "10.0.0.3:80" || v["state"] != "initial" || v["registered_by"] != "api" || v["weight"] != 2.0 {
		t.Errorf("register: %d %v", code, v)
	}
	if code, v := send(t, h, "POST", "/api/v1/target-groups/web/targets", `{"address": "10.0.0.3:80"}`); code != 409 {
		t.Errorf("register twice: %d %v", code, v)
	}
	if code, _ := send(t, h, "POST", "/api/v1/target-groups/nope/targets", `{"address": "10.0.0.3:80"}`); code != 404 {
		t.Errorf("unknown group: %d", code)
	}
	if code, v := send(t, h, "POST", "/api/v1/target-groups/web/targets", `{"addr": "x"}`); code != 400 || !strings.Contains(v["detail"].(string), "unknown field") {
		t.Errorf("bad body: %d %v", code, v)
	}
	code, v = send(t, h, "DELETE", "/api/v1/target-groups/web/targets/10.0.0.1:80", "")
	if code != 202 || v["state"] != "draining" || v["reason"] != target.ReasonDeregistrationInProgress {
		t.Errorf("deregister: %d %v", code, v)
	}
	if code, _ := send(t, h, "DELETE", "/api/v1/target-groups/web/targets/10.9.9.9:80", ""); code != 404 {
		t.Errorf("deregister unknown: %d", code)
	}

	code, v = send(t, h, "POST", "/api/v1/reload", "")
	if code != 200 || v["result"] != "success" || fmt.Sprint(v["changes"]) != "[target 10.0.0.3:80 added to web]" {
		t.Errorf("reload: %d %v", code, v)
	}
	_, err := config.Load([]byte("listeners: []\nbogus: 1\n"))
	fc.reloadErr = err
	code, v = send(t, h, "POST", "/api/v1/reload", "")
	probs, _ := v["problems"].([]any)
	if code != 422 || v["result"] != "failure" || len(probs) != 2 {
		t.Fatalf("broken reload: %d %v", code, v)
	}
	if p := probs[0].(map[string]any); p["path"] != "listeners" && p["path"] != "bogus" {
		t.Errorf("problem = %v", p)
	}
	code, v = send(t, h, "GET", "/api/v1/config", "")
	if code != 200 || v["path"] != "/etc/fulcrum.yaml" || v["source"] != "listeners: []\n" || v["last_reload_error"] == "" ||
		v["last_reload"].(map[string]any)["result"] != "failure" {
		t.Errorf("config: %d %v", code, v)
	}
}
