package discovery

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/fulcrumlb/fulcrum/internal/target"
)

// Etcd finds targets under a key prefix, one key per target:
// PREFIX/HOST:PORT, with an optional JSON value {"weight": N}. It lists
// the prefix once, then watches it from that revision (etcd's watch API,
// https://etcd.io/docs/v3.5/learning/api/#watch-api), so a key written
// with a lease (a target registering itself) vanishes, and its target
// drains, when the lease expires. While etcd is away the last good set
// stays and the failure is reported; the watch resumes from its revision
// when etcd is back, or lists again when that revision was compacted.
type Etcd struct {
	// Client is the etcd client; the caller closes it.
	Client *clientv3.Client
	// Prefix is the key prefix, without a final "/".
	Prefix string
	// Weight is the weight of keys without one, 1..1000.
	Weight int
	// Timeout bounds one list or probe request. Zero means 2s.
	Timeout time.Duration
	// Probe is how often etcd is asked whether it is there while the
	// watch is quiet, so that an outage is shown. Zero means 2s.
	Probe time.Duration
	// As is the registered_by of the targets: SourceEtcd (the zero value
	// means it) or SourceAPI for the fleet's runtime registrations
	// (internal/cluster).
	As target.Source
}

// Source implements Provider.
func (e *Etcd) Source() target.Source {
	if e.As == target.SourceFile {
		return target.SourceEtcd
	}
	return e.As
}

// String implements Provider: "etcd PREFIX", or "fleet registrations
// PREFIX" for runtime registrations.
func (e *Etcd) String() string {
	if e.Source() == target.SourceAPI {
		return "fleet registrations " + e.Prefix
	}
	return "etcd " + e.Prefix
}

// etcdValue is a target key's optional value.
type etcdValue struct {
	// Weight is 1..1000; 0 or absent means the provider's weight.
	Weight int `json:"weight"`
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Run implements Provider.
func (e *Etcd) Run(ctx context.Context, report func(Update)) {
	timeout, probe := orDefault(e.Timeout, 2*time.Second), orDefault(e.Probe, 2*time.Second)
	dir := strings.TrimSuffix(e.Prefix, "/") + "/"
	for ctx.Err() == nil {
		set, rev, err := e.list(ctx, dir, timeout)
		if err != nil {
			report(Update{Err: err})
			sleep(ctx, probe)
			continue
		}
		report(Update{Endpoints: endpoints(set)})
		e.watch(ctx, dir, set, rev, timeout, probe, report)
	}
}

// watch follows the prefix from rev+1 until the watch fails or ctx is
// done, reporting the set after each change.
func (e *Etcd) watch(ctx context.Context, dir string, set map[string]Endpoint, rev int64, timeout, probe time.Duration, report func(Update)) {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := e.Client.Watch(wctx, dir, clientv3.WithPrefix(), clientv3.WithRev(rev+1))
	tick := time.NewTicker(probe)
	defer tick.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case wr, ok := <-wch:
			if !ok || wr.Canceled || wr.Err() != nil {
				if err := wr.Err(); err != nil {
					report(Update{Err: fmt.Errorf("etcd watch of %s: %w", dir, err)})
				}
				return // list again
			}
			for _, ev := range wr.Events {
				key := string(ev.Kv.Key)
				if ev.Type == clientv3.EventTypeDelete {
					delete(set, key)
				} else if ep, ok := e.endpoint(dir, key, ev.Kv.Value); ok {
					set[key] = ep
				}
			}
			failing = false
			report(Update{Endpoints: endpoints(set)})
		case <-tick.C:
			pctx, pcancel := context.WithTimeout(ctx, timeout)
			_, err := e.Client.Get(pctx, dir, clientv3.WithPrefix(), clientv3.WithCountOnly())
			pcancel()
			if err != nil && ctx.Err() == nil {
				failing = true
				report(Update{Err: fmt.Errorf("etcd %s: %w", dir, err)})
			} else if err == nil && failing {
				failing = false
				report(Update{Endpoints: endpoints(set)})
			}
		}
	}
}

// list reads every key under dir, with the revision it read at.
func (e *Etcd) list(ctx context.Context, dir string, timeout time.Duration) (map[string]Endpoint, int64, error) {
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := e.Client.Get(lctx, dir, clientv3.WithPrefix())
	if err != nil {
		return nil, 0, fmt.Errorf("etcd list of %s: %w", dir, err)
	}
	set := map[string]Endpoint{}
	for _, kv := range resp.Kvs {
		if ep, ok := e.endpoint(dir, string(kv.Key), kv.Value); ok {
			set[string(kv.Key)] = ep
		}
	}
	return set, resp.Header.Revision, nil
}

// endpoint reads one key; keys deeper than one level are not targets.
// A value that is not the JSON object keeps the default weight.
func (e *Etcd) endpoint(dir, key string, value []byte) (Endpoint, bool) {
	addr := strings.TrimPrefix(key, dir)
	if addr == "" || strings.Contains(addr, "/") {
		return Endpoint{}, false
	}
	ep := Endpoint{Address: addr, Weight: e.Weight}
	var v etcdValue
	if len(value) > 0 && json.Unmarshal(value, &v) == nil && v.Weight > 0 {
		ep.Weight = min(v.Weight, 1000)
	}
	return ep, true
}

func endpoints(set map[string]Endpoint) []Endpoint {
	out := make([]Endpoint, 0, len(set))
	for _, k := range slices.Sorted(maps.Keys(set)) {
		out = append(out, set[k])
	}
	return out
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
