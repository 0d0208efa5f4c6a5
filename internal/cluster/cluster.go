// Package cluster lets several Fulcrum instances share what they know
// through etcd (the top-level cluster section, docs/fleet.md): each
// instance publishes its view of every target (health with its evidence,
// outlier ejections, failures per error type over 5 minutes) under its
// own lease, so the entry vanishes when the instance dies, and reads the
// others' to build the fleet view that tells a dead target ("refuses
// connections, seen by 3 of 3 instances") from a network path problem
// ("only lb-b sees timeouts").
//
// Runtime registrations made through the admin API are written under
// PREFIX/target-groups/GROUP/registrations/ADDRESS, which every
// instance watches as a discovery source (internal/discovery), so they
// reach the whole fleet and come back after a restart.
//
// Routing never depends on etcd: an instance that loses it keeps serving
// with what it knows, says so (Fleet.Connected, the log, the
// fulcrum_cluster_connected metric), keeps writes it could not make and
// makes them when etcd is back.
package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/fulcrumlb/fulcrum/internal/target"
)

// Node is this instance's membership in the fleet. Set the fields, then
// Run it.
type Node struct {
	// Client is the etcd client; the caller closes it after Run returned.
	Client *clientv3.Client
	// Prefix is the key prefix of everything the fleet writes, without a
	// final "/".
	Prefix string
	// Instance is this instance's name.
	Instance string
	// LeaseTTL is the lease the instance's report lives under.
	LeaseTTL time.Duration
	// Interval is how often the report is published and the others'
	// read.
	Interval time.Duration
	// Timeout bounds one etcd request.
	Timeout time.Duration
	// Observe returns this instance's report, without Instance and
	// Updated (Run fills them).
	Observe func(now time.Time) Report
	// Logger receives the connection changes; nil discards them.
	Logger *slog.Logger
	// ApplyAdminState, when set, applies an admin state (ready, drain or
	// maint) the fleet holds for a target; Run calls it when one changes
	// and again every Interval, for targets registered since. It must be
	// cheap when nothing changes.
	ApplyAdminState func(group, address, state string)

	mu        sync.Mutex
	connected bool
	started   bool
	errSince  time.Time
	lastErr   string
	errs      int64
	lastSync  time.Time
	peers     map[string]Report
	pending   map[string]*string  // key -> value to put, nil to delete
	states    map[adminKey]string // the fleet's admin states, as last known
	kick      chan struct{}
	kickOnce  sync.Once
}

// RegistrationsPrefix is where a group's runtime registrations live.
func (n *Node) RegistrationsPrefix(group string) string {
	return n.Prefix + "/target-groups/" + group + "/registrations"
}

func (n *Node) instancesDir() string { return n.Prefix + "/instances/" }

func (n *Node) logger() *slog.Logger {
	if n.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return n.Logger
}

func (n *Node) kicker() chan struct{} {
	n.kickOnce.Do(func() { n.kick = make(chan struct{}, 1) })
	return n.kick
}

// Registration is the value of a runtime registration key.
type Registration struct {
	// Weight is 1..1000.
	Weight int `json:"weight"`
	// By is the instance the registration was made on.
	By string `json:"by"`
}

// Register records a runtime registration for the fleet. It never
// blocks on etcd: the write is made by Run, at once when etcd is there,
// else when it is back.
func (n *Node) Register(group, address string, weight int) {
	b, _ := json.Marshal(Registration{Weight: weight, By: n.Instance})
	v := string(b)
	n.queue(n.RegistrationsPrefix(group)+"/"+address, &v)
}

// adminKey is a target whose admin state the fleet holds.
type adminKey struct{ group, address string }

func (n *Node) adminStatesPrefix(group string) string {
	return n.Prefix + "/target-groups/" + group + "/admin-states"
}

// SetAdminState records a target's admin state (ready, drain or maint,
// as set through the runtime socket) for the fleet, like Register. It is
// the fleet's state at once here, so that a change made while etcd is
// away is not undone by the last state read from it.
func (n *Node) SetAdminState(group, address, state string) {
	n.mu.Lock()
	if n.states == nil {
		n.states = map[adminKey]string{}
	}
	n.states[adminKey{group, address}] = state
	n.mu.Unlock()
	key := n.adminStatesPrefix(group) + "/" + address
	if state == "ready" {
		n.queue(key, nil)
	} else {
		n.queue(key, &state)
	}
}

// Deregister records that a runtime registration ended, like Register.
func (n *Node) Deregister(group, address string) {
	n.queue(n.RegistrationsPrefix(group)+"/"+address, nil)
}

func (n *Node) queue(key string, v *string) {
	n.mu.Lock()
	if n.pending == nil {
		n.pending = map[string]*string{}
	}
	n.pending[key] = v
	n.mu.Unlock()
	select {
	case n.kicker() <- struct{}{}:
	default:
	}
}

// Run publishes and reads until ctx is done. It deletes this instance's
// report when it returns (a clean shutdown), best effort.
func (n *Node) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	if n.ApplyAdminState != nil {
		wg.Go(func() { n.followAdminStates(ctx) })
	}
	var lease clientv3.LeaseID
	t := time.NewTicker(n.Interval)
	defer t.Stop()
	for {
		err := n.sync(ctx, &lease)
		n.record(err)
		n.applyAdminStates()
		select {
		case <-ctx.Done():
			if lease != 0 {
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), n.Timeout)
				n.Client.Revoke(rctx, lease)
				cancel()
			}
			return
		case <-t.C:
		case <-n.kicker():
		}
	}
}

// followAdminStates lists the fleet's admin states, then watches them,
// until ctx is done; it lists again after a failed watch.
func (n *Node) followAdminStates(ctx context.Context) {
	dir := n.Prefix + "/target-groups/"
	parse := func(key string) (adminKey, bool) {
		rest, ok := strings.CutPrefix(key, dir)
		if !ok {
			return adminKey{}, false
		}
		group, addr, ok := strings.Cut(rest, "/admin-states/")
		if !ok || strings.Contains(group, "/") || addr == "" || strings.Contains(addr, "/") {
			return adminKey{}, false
		}
		return adminKey{group, addr}, true
	}
	for ctx.Err() == nil {
		lctx, cancel := context.WithTimeout(ctx, n.Timeout)
		resp, err := n.Client.Get(lctx, dir, clientv3.WithPrefix())
		cancel()
		if err != nil {
			sleepCtx(ctx, n.Interval)
			continue
		}
		states := map[adminKey]string{}
		for _, kv := range resp.Kvs {
			if k, ok := parse(string(kv.Key)); ok {
				states[k] = string(kv.Value)
			}
		}
		n.mu.Lock()
		for k := range n.states {
			if _, ok := states[k]; !ok {
				states[k] = "ready"
			}
		}
		n.states = states
		n.mu.Unlock()
		n.applyAdminStates()
		wctx, wcancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		for wr := range n.Client.Watch(wctx, dir, clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1)) {
			if wr.Err() != nil {
				break
			}
			n.mu.Lock()
			for _, ev := range wr.Events {
				if k, ok := parse(string(ev.Kv.Key)); ok {
					if ev.Type == clientv3.EventTypeDelete {
						n.states[k] = "ready"
					} else {
						n.states[k] = string(ev.Kv.Value)
					}
				}
			}
			n.mu.Unlock()
			n.applyAdminStates()
		}
		wcancel()
		sleepCtx(ctx, n.Interval)
	}
}

// applyAdminStates hands every known admin state to ApplyAdminState.
func (n *Node) applyAdminStates() {
	if n.ApplyAdminState == nil {
		return
	}
	n.mu.Lock()
	states := maps.Clone(n.states)
	n.mu.Unlock()
	for k, st := range states {
		n.ApplyAdminState(k.group, k.address, st)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// sync is one round: keep the lease, make the pending writes, publish,
// read the others.
func (n *Node) sync(ctx context.Context, lease *clientv3.LeaseID) error {
	rctx, cancel := context.WithTimeout(ctx, n.Timeout)
	defer cancel()
	if *lease != 0 {
		if _, err := n.Client.KeepAliveOnce(rctx, *lease); errors.Is(err, rpctypes.ErrLeaseNotFound) {
			*lease = 0
		} else if err != nil {
			return fmt.Errorf("etcd lease keep-alive: %w", err)
		}
	}
	if *lease == 0 {
		g, err := n.Client.Grant(rctx, int64(max(n.LeaseTTL/time.Second, 1)))
		if err != nil {
			return fmt.Errorf("etcd lease grant: %w", err)
		}
		*lease = g.ID
	}
	n.mu.Lock()
	pending := maps.Clone(n.pending)
	n.mu.Unlock()
	for _, key := range slices.Sorted(maps.Keys(pending)) {
		var err error
		if v := pending[key]; v != nil {
			_, err = n.Client.Put(rctx, key, *v)
		} else {
			_, err = n.Client.Delete(rctx, key)
		}
		if err != nil {
			return fmt.Errorf("etcd write of %s: %w", key, err)
		}
		n.mu.Lock()
		if n.pending[key] == pending[key] {
			delete(n.pending, key)
		}
		n.mu.Unlock()
	}
	now := time.Now()
	r := n.Observe(now)
	r.Instance, r.Updated = n.Instance, now
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if _, err := n.Client.Put(rctx, n.instancesDir()+n.Instance, string(b), clientv3.WithLease(*lease)); err != nil {
		return fmt.Errorf("etcd publish: %w", err)
	}
	resp, err := n.Client.Get(rctx, n.instancesDir(), clientv3.WithPrefix())
	if err != nil {
		return fmt.Errorf("etcd read of the fleet: %w", err)
	}
	peers := map[string]Report{}
	for _, kv := range resp.Kvs {
		var p Report
		if json.Unmarshal(kv.Value, &p) == nil && p.Instance != "" {
			peers[p.Instance] = p
		}
	}
	n.mu.Lock()
	n.peers, n.lastSync = peers, now
	n.mu.Unlock()
	return nil
}

// record notes a round's outcome and logs the changes.
func (n *Node) record(err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := time.Now()
	if err != nil {
		n.errs++
		n.lastErr = err.Error()
		if n.connected || !n.started {
			n.errSince = now
			n.logger().Warn("cluster store unreachable; serving with what this instance knows", "instance", n.Instance, "error", err)
		}
		n.connected, n.started = false, true
		return
	}
	if !n.connected && n.started {
		n.logger().Info("cluster store reachable again; caught up", "instance", n.Instance, "unreachable_since", n.errSince)
	}
	n.connected, n.started, n.lastErr = true, true, ""
}

// Connected reports whether the last round reached etcd, and the
// failures counted so far.
func (n *Node) Connected() (bool, int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.connected, n.errs
}

// Instances counts the instances with a live report as last read, this
// one included.
func (n *Node) Instances() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.peers[n.Instance]; ok {
		return len(n.peers)
	}
	return len(n.peers) + 1
}

// Report is what one instance publishes.
type Report struct {
	// Instance is the instance's name; Updated when it published.
	Instance string    `json:"instance"`
	Updated  time.Time `json:"updated"`
	// Targets are its view of every target of every group.
	Targets []TargetReport `json:"targets"`
}

// TargetReport is one instance's view of one target.
type TargetReport struct {
	TargetGroup  string `json:"target_group"`
	Address      string `json:"address"`
	RegisteredBy string `json:"registered_by"`
	// State, Reason and Description are the target's health (ALB's
	// state, reason code and evidence).
	State       string `json:"state"`
	Reason      string `json:"reason,omitempty"`
	Description string `json:"description,omitempty"`
	// Ejected is outlier detection's verdict, Evidence its cause.
	Ejected  bool   `json:"ejected,omitempty"`
	Evidence string `json:"evidence,omitempty"`
	// Requests5m counts responses over 5 minutes; Errors5m failed
	// attempts per RFC 9209 error type over 5 minutes.
	Requests5m int64            `json:"requests_5m"`
	Errors5m   map[string]int64 `json:"errors_5m,omitempty"`
}

// Observe builds a report from the running groups.
func Observe(groups []*target.Group, now time.Time) Report {
	var r Report
	for _, g := range groups {
		for _, t := range g.Targets() {
			h, snap, o := t.Health(), t.Stats.Snapshot(now), t.Outlier.Snapshot()
			tr := TargetReport{TargetGroup: g.Name, Address: t.Address, RegisteredBy: t.Source().String(),
				State: h.State.String(), Reason: h.Reason, Description: h.Description,
				Ejected: o.Ejected, Evidence: o.Evidence, Requests5m: snap.Responses.M5}
			for et, w := range snap.Errors {
				if w.M5 > 0 {
					if tr.Errors5m == nil {
						tr.Errors5m = map[string]int64{}
					}
					tr.Errors5m[et.String()] = w.M5
				}
			}
			r.Targets = append(r.Targets, tr)
		}
	}
	return r
}

// Fleet is the fleet view: GET /api/v1/fleet and `fulcrum status
// --fleet`.
type Fleet struct {
	// Instance is this instance.
	Instance string `json:"instance"`
	// Connected is false while etcd is unreachable; the view is then as
	// of LastSync, with this instance's own part current. Error and
	// ErrorSince say why and since when.
	Connected  bool       `json:"connected"`
	Error      string     `json:"error,omitempty"`
	ErrorSince *time.Time `json:"error_since,omitempty"`
	Errors     int64      `json:"errors_total"`
	LastSync   *time.Time `json:"last_sync,omitempty"`
	// Instances are the instances with a live report, sorted.
	Instances []InstanceView `json:"instances"`
	// Targets are every target any instance has, by group and address.
	Targets []FleetTarget `json:"targets"`
}

// InstanceView is one instance of the fleet.
type InstanceView struct {
	Instance string    `json:"instance"`
	Updated  time.Time `json:"updated"`
}

// FleetTarget is what the instances see of one target.
type FleetTarget struct {
	TargetGroup string `json:"target_group"`
	Address     string `json:"address"`
	// Seen is each instance's view, by instance name.
	Seen []Observation `json:"seen"`
	// Verdicts compare the instances' views: for each error type, and
	// for being unhealthy or ejected, which instances see it. Empty when
	// all is well.
	Verdicts []Verdict `json:"verdicts,omitempty"`
}

// Verdict is what some or all instances see of one target.
type Verdict struct {
	// What is an RFC 9209 error type, or "unhealthy or ejected".
	What string `json:"what"`
	// Instances see it, of Of instances that have the target.
	Instances []string `json:"instances"`
	Of        int      `json:"of"`
	// Everywhere is true when every instance sees it, more than one: the
	// target itself. Otherwise the path from Instances is suspect.
	Everywhere bool `json:"everywhere"`
	// Text says it in a line, for example "connection_refused seen by 3
	// of 3 instances: the target itself" or "only lb-b sees
	// target_timeout (1 of 3 instances): the path, not the target".
	Text string `json:"text"`
}

// Observation is one instance's view of a target.
type Observation struct {
	Instance string `json:"instance"`
	TargetReport
}

// View returns the fleet view: the others' last reports, with this
// instance's current one.
func (n *Node) View(now time.Time) Fleet {
	n.mu.Lock()
	f := Fleet{Instance: n.Instance, Connected: n.connected, Error: n.lastErr, Errors: n.errs}
	if !n.connected && !n.errSince.IsZero() {
		s := n.errSince
		f.ErrorSince = &s
	}
	if !n.lastSync.IsZero() {
		s := n.lastSync
		f.LastSync = &s
	}
	peers := maps.Clone(n.peers)
	n.mu.Unlock()
	if peers == nil {
		peers = map[string]Report{}
	}
	self := n.Observe(now)
	self.Instance, self.Updated = n.Instance, now
	peers[n.Instance] = self
	return Merge(f, peers)
}

// Merge fills f's instances and targets from reports by instance.
func Merge(f Fleet, reports map[string]Report) Fleet {
	type key struct{ group, addr string }
	byTarget := map[key]*FleetTarget{}
	var keys []key
	for _, name := range slices.Sorted(maps.Keys(reports)) {
		r := reports[name]
		f.Instances = append(f.Instances, InstanceView{Instance: name, Updated: r.Updated})
		for _, tr := range r.Targets {
			k := key{tr.TargetGroup, tr.Address}
			ft := byTarget[k]
			if ft == nil {
				ft = &FleetTarget{TargetGroup: tr.TargetGroup, Address: tr.Address}
				byTarget[k] = ft
				keys = append(keys, k)
			}
			ft.Seen = append(ft.Seen, Observation{Instance: name, TargetReport: tr})
		}
	}
	slices.SortFunc(keys, func(a, b key) int {
		if c := strings.Compare(a.group, b.group); c != 0 {
			return c
		}
		return strings.Compare(a.addr, b.addr)
	})
	f.Targets = []FleetTarget{}
	for _, k := range keys {
		ft := byTarget[k]
		ft.Verdicts = verdicts(ft.Seen)
		f.Targets = append(f.Targets, *ft)
	}
	return f
}

// verdicts compares the instances' views of one target: an error type
// or an unhealthy state seen by every instance points at the target, one
// seen by some points at the path from those instances.
func verdicts(seen []Observation) []Verdict {
	n := len(seen)
	byError := map[string][]string{}
	var unhealthy []string
	for _, o := range seen {
		for et, c := range o.Errors5m {
			if c > 0 {
				byError[et] = append(byError[et], o.Instance)
			}
		}
		if o.State == "unhealthy" || o.Ejected {
			unhealthy = append(unhealthy, o.Instance)
		}
	}
	var out []Verdict
	say := func(what string, by []string) {
		v := Verdict{What: what, Instances: by, Of: n, Everywhere: len(by) == n && n > 1}
		switch {
		case v.Everywhere:
			v.Text = fmt.Sprintf("%s seen by %d of %d instances: the target itself", what, n, n)
		case len(by) == n:
			v.Text = fmt.Sprintf("%s seen by the only instance", what)
		default:
			v.Text = fmt.Sprintf("only %s see%s %s (%d of %d instances): the path, not the target",
				strings.Join(by, ", "), plural(len(by)), what, len(by), n)
		}
		out = append(out, v)
	}
	for _, et := range slices.Sorted(maps.Keys(byError)) {
		say(et, byError[et])
	}
	if len(unhealthy) > 0 {
		say("unhealthy or ejected", unhealthy)
	}
	return out
}

func plural(k int) string {
	if k == 1 {
		return "s"
	}
	return ""
}
