package cli

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"go.yaml.in/yaml/v3"

	"github.com/fulcrumlb/fulcrum/internal/config"
)

// configKey reads the configuration from the etcd key cluster.config_key
// (docs/fleet.md): the key's YAML with the file's cluster section in
// place of any it has, validated like a file. Without the key, or when
// etcd does not answer, the file's configuration is used, so an instance
// always starts.
type configKey struct {
	client *clientv3.Client
	key    string
	dir    string
	// file reads the configuration file: its parsed form and its bytes.
	file   func() (*config.Config, []byte, error)
	logger *slog.Logger
	// rev is the etcd revision the running configuration is known to be
	// current at: that of load's last read, or of the last change the
	// watch saw, whichever is later. The watch resumes after it, so a
	// write between a read and the watch's start (or in the second a
	// broken watch waits) is not lost.
	rev atomic.Int64
}

// seen records that the key is known as of etcd revision r.
func (k *configKey) seen(r int64) {
	for {
		old := k.rev.Load()
		if r <= old || k.rev.CompareAndSwap(old, r) {
			return
		}
	}
}

// newConfigKey returns the key's reader for cfg, nil without
// cluster.config_key.
func newConfigKey(cfg *config.Config, dir string, file func() (*config.Config, []byte, error), logger *slog.Logger) (*configKey, error) {
	if cfg.Cluster == nil || cfg.Cluster.ConfigKey == "" {
		return nil, nil
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: cfg.Cluster.Etcd.Endpoints, DialTimeout: cfg.Cluster.Etcd.DialTimeout.D(), Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("cluster.config_key: etcd client: %w", err)
	}
	return &configKey{client: c, key: cfg.Cluster.ConfigKey, dir: dir, file: file, logger: logger}, nil
}

// load is the proxy's Load: the key's configuration, or the file's.
// A key whose value has problems is an error: the running configuration
// stays.
func (k *configKey) load() (*config.Config, []byte, error) {
	fileCfg, fileSrc, err := k.file()
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), fileCfg.Cluster.Etcd.DialTimeout.D())
	defer cancel()
	resp, err := k.client.Get(ctx, k.key)
	if err != nil {
		k.logger.Warn("cluster.config_key unreadable; using the configuration file", "key", k.key, "error", err)
		return fileCfg, fileSrc, nil
	}
	k.seen(resp.Header.Revision)
	if len(resp.Kvs) == 0 {
		return fileCfg, fileSrc, nil
	}
	src, err := withCluster(resp.Kvs[0].Value, fileSrc)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster.config_key %s: %w", k.key, err)
	}
	cfg, err := config.LoadAt(src, k.dir)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster.config_key %s: %w", k.key, err)
	}
	return cfg, src, nil
}

// withCluster returns the key's YAML with its cluster section replaced
// by the file's.
func withCluster(keySrc, fileSrc []byte) ([]byte, error) {
	var doc, file yaml.Node
	if err := yaml.Unmarshal(keySrc, &doc); err != nil {
		return nil, fmt.Errorf("not YAML: %w", err)
	}
	if err := yaml.Unmarshal(fileSrc, &file); err != nil {
		return nil, fmt.Errorf("the configuration file: %w", err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode || len(file.Content) == 0 {
		return nil, fmt.Errorf("the value is not a YAML mapping")
	}
	m := doc.Content[0]
	kept := m.Content[:0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != "cluster" {
			kept = append(kept, m.Content[i], m.Content[i+1])
		}
	}
	m.Content = kept
	fm := file.Content[0]
	for i := 0; i+1 < len(fm.Content); i += 2 {
		if fm.Content[i].Value == "cluster" {
			m.Content = append(m.Content, fm.Content[i], fm.Content[i+1])
		}
	}
	return yaml.Marshal(&doc)
}

// watch calls reload after every change of the key until ctx is done;
// a broken watch is opened again a second later. It watches from the
// revision after k.rev, so a change made after the last read is seen
// even if it came before the watch was opened. When etcd has compacted
// that revision away, the key is read again (reload) and the watch
// resumes from there.
func (k *configKey) watch(ctx context.Context, reload func()) {
	for ctx.Err() == nil {
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		var opts []clientv3.OpOption
		if r := k.rev.Load(); r > 0 {
			opts = append(opts, clientv3.WithRev(r+1))
		}
		for wr := range k.client.Watch(wctx, k.key, opts...) {
			if wr.CompactRevision != 0 {
				k.logger.Info("cluster.config_key: changes since the last read were compacted: reloading", "key", k.key)
				k.seen(wr.CompactRevision - 1)
				reload()
				break
			}
			if wr.Err() != nil {
				break
			}
			if n := len(wr.Events); n > 0 {
				k.seen(wr.Events[n-1].Kv.ModRevision)
				k.logger.Info("cluster.config_key changed: reloading", "key", k.key)
				reload()
			}
		}
		cancel()
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
}

// run watches the key until ctx is done, then closes the client.
func (k *configKey) run(ctx context.Context, wg *sync.WaitGroup, reload func()) {
	wg.Go(func() {
		defer k.client.Close()
		k.watch(ctx, reload)
	})
}
