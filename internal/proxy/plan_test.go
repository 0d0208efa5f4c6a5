package proxy

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fulcrumlb/fulcrum/internal/config"
)

func TestPlan(t *testing.T) {
	web := config.Listener{Name: "web", Address: "127.0.0.1:8080", Protocol: "http", MaxConnections: 0, IdleTimeout: config.Duration(60 * time.Second)}
	reuse := web
	reuse.ReusePort = true
	app := config.TargetGroup{Name: "app", Targets: []config.Target{{Address: "10.0.0.1:80", Weight: 1}, {Address: "10.0.0.2:80", Weight: 1}}}
	base := &config.Config{Listeners: []config.Listener{web}, TargetGroups: []config.TargetGroup{app}}
	with := func(f func(c *config.Config)) *config.Config {
		c := *base
		c.Listeners = append([]config.Listener(nil), base.Listeners...)
		c.TargetGroups = append([]config.TargetGroup(nil), base.TargetGroups...)
		c.TargetGroups[0].Targets = append([]config.Target(nil), app.Targets...)
		f(&c)
		return &c
	}
	tests := []struct {
		name     string
		old, new *config.Config
		want     reloadPlan
		problems []config.Problem
	}{
		{name: "nothing changed", old: base, new: base,
			want: reloadPlan{Listeners: []listenerStep{{Name: "web", Action: listenerKeep, Address: web.Address}}}},
		{name: "limits on a kept listener", old: base, new: with(func(c *config.Config) {
			c.Listeners[0].MaxConnections = 10
			c.Listeners[0].IdleTimeout = config.Duration(5 * time.Second)
		}), want: reloadPlan{Listeners: []listenerStep{{Name: "web", Action: listenerKeep, Address: web.Address,
			Limits: []string{"max_connections 0 -> 10", "idle_timeout 1m0s -> 5s; it applies to waits for targets now, to HTTP/1.1 client connections from their next request, and to HTTP/2 connections from the next one (open ones get GOAWAY, finish their streams and reconnect)"}}}}},
		{name: "new default target group on a kept listener", old: base,
			new:  with(func(c *config.Config) { c.Listeners[0].DefaultTargetGroup = "other" }),
			want: reloadPlan{Listeners: []listenerStep{{Name: "web", Action: listenerKeep, Address: web.Address, Rules: true}}}},
		{name: "listener added, removed and moved", old: with(func(c *config.Config) {
			c.Listeners = append(c.Listeners, config.Listener{Name: "old", Address: "127.0.0.1:9000"})
		}), new: with(func(c *config.Config) {
			c.Listeners[0].Address = "127.0.0.1:8081"
			c.Listeners = append(c.Listeners, config.Listener{Name: "api", Address: "127.0.0.1:9001"})
		}), want: reloadPlan{Listeners: []listenerStep{
			{Name: "web", Action: listenerMove, Address: "127.0.0.1:8081"},
			{Name: "api", Action: listenerAdd, Address: "127.0.0.1:9001"},
			{Name: "old", Action: listenerRemove, Address: "127.0.0.1:9000"},
		}}},
		{name: "protocol change beside the old socket with reuse_port on both",
			old:  with(func(c *config.Config) { c.Listeners[0] = reuse }),
			new:  with(func(c *config.Config) { c.Listeners[0] = reuse; c.Listeners[0].Protocol = "https" }),
			want: reloadPlan{Listeners: []listenerStep{{Name: "web", Action: listenerRebind, Address: web.Address}}}},
		{name: "protocol change on port 0 never collides",
			old:  with(func(c *config.Config) { c.Listeners[0].Address = "127.0.0.1:0" }),
			new:  with(func(c *config.Config) { c.Listeners[0].Address = "127.0.0.1:0"; c.Listeners[0].Protocol = "https" }),
			want: reloadPlan{Listeners: []listenerStep{{Name: "web", Action: listenerRebind, Address: "127.0.0.1:0"}}}},
		{name: "protocol change on the same address without reuse_port is refused", old: base,
			new: with(func(c *config.Config) {
				c.Listeners = append([]config.Listener{{Name: "api", Address: "127.0.0.1:9001"}}, c.Listeners...)
				c.Listeners[1].Protocol = "https"
			}),
			problems: []config.Problem{{Path: "listeners[1].protocol", Msg: "listener web: changing the protocol on the same address cannot be done without a gap; " +
				"use a new address, set reuse_port on both the old and the new listener, or restart"}}},
		{name: "reuse_port change on the same address is refused", old: base,
			new: with(func(c *config.Config) { c.Listeners[0] = reuse }),
			problems: []config.Problem{{Path: "listeners[0].reuse_port", Msg: "listener web: changing reuse_port on the same address cannot be done without a gap; " +
				"use a new address, set reuse_port on both the old and the new listener, or restart"}}},
		{name: "targets added, removed and reweighted", old: base, new: with(func(c *config.Config) {
			c.TargetGroups[0].Targets = []config.Target{{Address: "10.0.0.2:80", Weight: 5}, {Address: "10.0.0.3:80", Weight: 1}}
		}), want: reloadPlan{
			Listeners: []listenerStep{{Name: "web", Action: listenerKeep, Address: web.Address}},
			Groups: []groupStep{{Name: "app", Action: groupChange, AddTargets: []string{"10.0.0.3:80"},
				RemoveTargets: []string{"10.0.0.1:80"}, TargetSettings: true}},
		}},
		{name: "group settings, a new group and a removed one",
			old: with(func(c *config.Config) {
				c.TargetGroups = append(c.TargetGroups, config.TargetGroup{Name: "gone", Targets: []config.Target{{Address: "10.0.1.1:80"}}})
			}),
			new: with(func(c *config.Config) {
				c.TargetGroups[0].ConnectTimeout = config.Duration(time.Second)
				c.TargetGroups[0].HealthCheck.Path = "/health"
				c.TargetGroups[0].Algorithm = "least_outstanding_requests"
				c.TargetGroups = append(c.TargetGroups, config.TargetGroup{Name: "other", Targets: []config.Target{{Address: "10.0.2.1:80"}}})
				c.AccessLog = &config.AccessLog{Path: "/var/log/other"}
			}),
			want: reloadPlan{
				Listeners: []listenerStep{{Name: "web", Action: listenerKeep, Address: web.Address}},
				Groups: []groupStep{
					{Name: "app", Action: groupChange, Connections: true, HealthChecks: true, Settings: true},
					{Name: "other", Action: groupAdd, AddTargets: []string{"10.0.2.1:80"}},
					{Name: "gone", Action: groupRemove, DrainsTargetsN: 1},
				},
				RestartOnly: true,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := plan(tt.old, tt.new)
			if diff := cmp.Diff(tt.problems, config.Problems(err)); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReloadRebindsSameAddress: a protocol change on the same address
// with reuse_port on both sides binds the new socket beside the old one,
// and a request in flight on the old socket finishes (the intent of the
// reopen-on-the-same-address path). A change that would leave a gap
// (reuse_port turned off) is refused and the running listener stays.
func TestReloadRebindsSameAddress(t *testing.T) {
	a := newGatedBackend(t, "a")
	var mu sync.Mutex
	file := ""
	write := func(s string) { mu.Lock(); file = s; mu.Unlock() }
	load := func() (*config.Config, []byte, error) {
		mu.Lock()
		defer mu.Unlock()
		c, err := config.Load([]byte(file))
		return c, []byte(file), err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	web := ln.Addr().String()
	ln.Close()
	group := fmt.Sprintf(`target_groups: [{name: app, health_check: {enabled: false}, targets: [{address: %q}]}]`, a.addr())
	base := fmt.Sprintf("listeners: [{name: web, address: %q, reuse_port: true, default_target_group: app}]\n%s\n", web, group)
	write(base)
	s, addr := startServerOpts(t, base, Options{Logger: slog.New(slog.DiscardHandler), Load: load})

	// A request in flight on the old http socket.
	old, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	fmt.Fprintf(old, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	<-a.started

	cert := selfSigned(t, "web.example")
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writePEM(t, certFile, keyFile, cert)
	https := func(reuse bool) string {
		return fmt.Sprintf("listeners: [{name: web, address: %q, protocol: https, reuse_port: %v, tls: {cert_file: %q, key_file: %q}, default_target_group: app}]\n%s\n",
			web, reuse, certFile, keyFile, group)
	}
	write(https(true))
	changes, err := s.Reload(t.Context())
	if err != nil {
		t.Fatalf("rebind with reuse_port on both: %v", err)
	}
	if len(changes) != 1 || s.Addrs()["web"] != web {
		t.Errorf("changes = %q, address %s", changes, s.Addrs()["web"])
	}
	close(a.release)
	old.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(old), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("the request in flight on the old socket: %v %v", resp, err)
	}
	resp.Body.Close()
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	if code, body, _ := getBody(t, c, "https://"+web+"/"); code != 200 || body != "a" {
		t.Fatalf("https after the rebind: %d %q", code, body)
	}

	// reuse_port off on the same address: refused, nothing changes.
	write(https(false))
	_, err = s.Reload(t.Context())
	want := []config.Problem{{Path: "listeners[0].reuse_port", Msg: "listener web: changing reuse_port on the same address cannot be done without a gap; " +
		"use a new address, set reuse_port on both the old and the new listener, or restart"}}
	if diff := cmp.Diff(want, config.Problems(err)); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if info := s.ConfigInfo(); info.LastReload == nil || info.LastReload.OK || info.ReloadFailures != 1 {
		t.Errorf("info after the refused reload: %+v", info.LastReload)
	}
	if code, body, _ := getBody(t, c, "https://"+web+"/"); code != 200 || body != "a" {
		t.Errorf("https after the refused reload: %d %q", code, body)
	}
}
