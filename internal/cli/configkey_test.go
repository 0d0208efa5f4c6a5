package cli

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/config"
	"github.com/fulcrumlb/fulcrum/internal/etcdtest"
)

// keyWatcher is a configKey on an embedded etcd whose file names the key
// /fulcrum/config, with a reload that counts.
func keyWatcher(t *testing.T) (*configKey, *etcdtest.Server, chan struct{}) {
	t.Helper()
	srv := etcdtest.Start(t)
	file := []byte(fmt.Sprintf(`listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app}]
target_groups: [{name: app, health_check: {enabled: false}, targets: [{address: "127.0.0.1:1"}]}]
cluster:
  etcd: {endpoints: [%q], dial_timeout: 2s}
  instance: lb-0
  config_key: /fulcrum/config
`, srv.Endpoint()))
	load := func() (*config.Config, []byte, error) {
		cfg, err := config.LoadAt(file, t.TempDir())
		return cfg, file, err
	}
	cfg, _, err := load()
	if err != nil {
		t.Fatal(err)
	}
	k, err := newConfigKey(cfg, t.TempDir(), load, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.client.Close() })
	return k, srv, make(chan struct{}, 16)
}

func keyConfig(target string) string {
	return fmt.Sprintf(`listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app}]
target_groups: [{name: app, health_check: {enabled: false}, targets: [{address: %q}]}]
`, target)
}

// runWatch runs k.watch until the test ends; reload reads the key as
// the server's Reload does and signals.
func runWatch(t *testing.T, k *configKey, reloaded chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		k.watch(ctx, func() {
			k.load()
			reloaded <- struct{}{}
		})
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
}

func waitReload(t *testing.T, reloaded chan struct{}, what string) {
	t.Helper()
	select {
	case <-reloaded:
	case <-time.After(10 * time.Second):
		t.Fatal(what)
	}
}

// A write between the read the instance started from and the opening of
// the watch is applied: the watch resumes after the read's revision
// (before, it started at etcd's current revision and missed it, the
// cause of TestFleetConfigKey's rare "a change of the key was not
// applied").
func TestConfigKeyChangeBeforeWatchOpens(t *testing.T) {
	k, srv, reloaded := keyWatcher(t)
	cli := etcdtest.Client(t, srv.Endpoint())
	ctx := context.Background()
	if _, err := cli.Put(ctx, "/fulcrum/config", keyConfig("127.0.0.1:2")); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := k.load()
	if err != nil || cfg.TargetGroups[0].Targets[0].Address != "127.0.0.1:2" {
		t.Fatalf("load: %v, %+v", err, cfg)
	}
	if _, err := cli.Put(ctx, "/fulcrum/config", keyConfig("127.0.0.1:3")); err != nil {
		t.Fatal(err)
	}
	runWatch(t, k, reloaded)
	waitReload(t, reloaded, "a write made before the watch opened was never applied")
}

// When the revisions since the last read are compacted away, the key is
// read again rather than the watch failing on every retry.
func TestConfigKeyCompactedSinceRead(t *testing.T) {
	k, srv, reloaded := keyWatcher(t)
	cli := etcdtest.Client(t, srv.Endpoint())
	ctx := context.Background()
	if _, err := cli.Put(ctx, "/fulcrum/config", keyConfig("127.0.0.1:2")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := k.load(); err != nil {
		t.Fatal(err)
	}
	read := k.rev.Load()
	cli.Put(ctx, "/fulcrum/config", keyConfig("127.0.0.1:3"))
	last, err := cli.Put(ctx, "/fulcrum/config", keyConfig("127.0.0.1:4"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Compact(ctx, last.Header.Revision); err != nil {
		t.Fatal(err)
	}
	runWatch(t, k, reloaded)
	waitReload(t, reloaded, "a compacted watch did not read the key again")
	if got := k.rev.Load(); got < last.Header.Revision || got <= read {
		t.Errorf("revision after the reload %d, want at least %d", got, last.Header.Revision)
	}
	// And the watch goes on from there.
	cli.Put(ctx, "/fulcrum/config", keyConfig("127.0.0.1:5"))
	waitReload(t, reloaded, "no reload for a write after the compaction")
}
