package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/config"
)

// TestConfigIsAValue: the server keeps its own copy of the configuration
// it is given, by New and by a reload, so a caller that edits its Config
// afterwards (rules, conditions, actions, targets) changes neither the
// routing nor what the server takes for its running configuration: a
// reload of the same file then finds nothing to change.
func TestConfigIsAValue(t *testing.T) {
	v1, v2 := named("v1", nil), named("v2", nil)
	defer v1.Close()
	defer v2.Close()
	text := fmt.Sprintf(`
listeners:
  - name: web
    address: "127.0.0.1:0"
    default_target_group: v1
    rules:
      - priority: 10
        conditions: [{field: path_pattern, values: ["/api/*"]}]
        action: {type: forward, target_group: v2}
target_groups:
  - {name: v1, health_check: {enabled: false}, targets: [{address: %q}]}
  - {name: v2, health_check: {enabled: false}, targets: [{address: %q}]}
`, hostPort(v1.URL), hostPort(v2.URL))
	load := func() *config.Config {
		c, err := config.Load([]byte(text))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// edit changes everything routing reads, in place, through the
	// caller's slices and pointers.
	edit := func(c *config.Config) {
		l := &c.Listeners[0]
		l.DefaultTargetGroup = "v2"
		l.Rules[0].Conditions[0].Values[0].Value = "/nothing/*"
		l.Rules[0].Action.TargetGroup = "v1"
		c.TargetGroups[1].Targets[0].Address = "127.0.0.1:1"
	}
	var last *config.Config // the latest one the server loaded
	c := load()
	s, err := New(c, Options{Logger: slog.New(slog.DiscardHandler),
		Load: func() (*config.Config, []byte, error) { last = load(); return last, []byte(text), nil }})
	if err != nil {
		t.Fatal(err)
	}
	edit(c)
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- s.Serve(ctx, 5*time.Second) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	addr := s.Addrs()["web"]
	hc := &http.Client{}
	defer hc.CloseIdleConnections()
	check := func(when string) {
		t.Helper()
		for path, want := range map[string]string{"/api/x": "v2", "/other": "v1"} {
			if code, body, _ := getBody(t, hc, "http://"+addr+path); code != 200 || body != want {
				t.Errorf("%s: %s got %d %q, want 200 %q", when, path, code, body, want)
			}
		}
	}
	check("after editing New's config")

	reload := func(when string) {
		t.Helper()
		for {
			changes, err := s.Reload(t.Context())
			if errors.Is(err, ErrNotServing) {
				runtime.Gosched() // Serve has not marked itself serving yet
				continue
			}
			if err != nil || len(changes) != 0 {
				t.Errorf("%s: reloading the same file: changes %q, error %v; want none", when, changes, err)
			}
			return
		}
	}
	reload("after editing New's config")
	edit(last)
	check("after editing the reloaded config")
	reload("after editing the reloaded config")
	check("after the second reload")
}
