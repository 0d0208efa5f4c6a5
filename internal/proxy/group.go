package proxy

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/balancer"
	"github.com/fulcrumlb/fulcrum/internal/config"
	"github.com/fulcrumlb/fulcrum/internal/health"
	"github.com/fulcrumlb/fulcrum/internal/target"
)

// Group is a target group as the request path sees it, for one reload
// generation (built from a config.TargetGroup around the long-lived
// target.Group and groupState): its targets and
// route set, its pick policy, its transport, its retry limits, its queue
// and its outlier detection. A reload builds a new Group; the target set, the
// transport (when the connection settings did not change) and the queue
// carry over, so targets keep their health, pools and counters.
type Group struct {
	Name        string
	Targets     *target.Group
	Policy      balancer.Policy
	Transport   *Transport
	MaxAttempts int
	Outlier     *health.Outlier
	queue       *queue
	budget      retryBudget
	cfg         config.TargetGroup
}

// RetryBudgetExhausted returns how many retries the budget refused.
func (g *Group) RetryBudgetExhausted() int64 { return g.budget.exhausted.Load() }

// QueueLength returns how many requests wait for a target slot now.
func (g *Group) QueueLength() int64 { return g.queue.waiting.Load() }

// QueueMax returns the most requests that waited at once since the
// group's queue was made; it survives reloads with the queue.
func (g *Group) QueueMax() int64 { return g.queue.most.Load() }

// newTransport builds the connection pool settings of tc.
func newTransport(tc config.TargetGroup) (*Transport, error) {
	tlsCfg, err := target.ClientTLS(tc)
	if err != nil {
		return nil, err
	}
	t := &Transport{
		Dialer:           &target.Dialer{Timeout: tc.ConnectTimeout.D(), TLS: tlsCfg},
		MaxIdlePerTarget: tc.MaxIdlePerTarget,
		IdleTimeout:      tc.KeepaliveIdleTimeout.D(),
		IdleOverride:     tc.KeepaliveIdleTimeoutSet,
	}
	if tc.HTTP2() {
		t.h2 = newH2Transport(t.Dialer, t.IdleTimeout, tc.Version() == config.ProtocolGRPC)
	}
	return t, nil
}

// transportKey and checkerKey say whether a reload must replace a group's
// transport or restart its health checks.
func transportKey(tc config.TargetGroup) string {
	return fmt.Sprintf("%s|%s|%+v|%s|%d|%s|%v", tc.Protocol, tc.Version(), tc.TLS, tc.ConnectTimeout, tc.MaxIdlePerTarget, tc.KeepaliveIdleTimeout, tc.KeepaliveIdleTimeoutSet)
}

func checkerKey(tc config.TargetGroup) string {
	return fmt.Sprintf("%s|%s|%+v|%+v", tc.Protocol, tc.Version(), tc.TLS, tc.HealthCheck)
}

// newGroup builds the request-path view of tc over the carried-over
// target set, transport and queue.
func newGroup(tc config.TargetGroup, ts *target.Group, tr *Transport, q *queue, logger *slog.Logger, onEject func(*target.Target)) (*Group, error) {
	policy, err := balancer.New(tc.Algorithm, nil)
	if err != nil {
		return nil, err
	}
	ts.SetSlowStart(tc.SlowStart.D())
	q.size.Store(int64(tc.QueueSize))
	q.timeout.Store(int64(tc.QueueTimeout.D()))
	od := tc.OutlierDetection
	g := &Group{
		Name: tc.Name, Targets: ts, Policy: policy, Transport: tr, MaxAttempts: tc.Retries.MaxAttempts, queue: q, cfg: tc,
		Outlier: &health.Outlier{
			Group:                       ts,
			ConsecutiveConnectionErrors: od.ConsecutiveConnectionErrors,
			Consecutive5xx:              od.Consecutive5xx,
			BaseEjectionTime:            od.BaseEjectionTime.D(),
			MaxEjectionTime:             od.MaxEjectionTime.D(),
			MaxEjectionPercent:          od.MaxEjectionPercent,
			HealthChecks:                tc.HealthCheck.Enabled,
			Logger:                      logger,
			OnEject:                     onEject,
		},
	}
	g.budget.percent = int64(tc.Retries.BudgetPercent)
	return g, nil
}

// newChecker returns the health checker of tc over ts, or nil when checks
// are disabled.
func newChecker(tc config.TargetGroup, ts *target.Group, logger *slog.Logger) (*health.Checker, error) {
	hc := tc.HealthCheck
	if !hc.Enabled {
		return nil, nil
	}
	tlsCfg, err := target.ClientTLS(tc)
	if err != nil {
		return nil, err
	}
	return &health.Checker{
		Group:              ts,
		Prober:             health.ProberFor(tc, tlsCfg),
		Interval:           hc.Interval.D(),
		HealthyThreshold:   hc.HealthyThreshold,
		UnhealthyThreshold: hc.UnhealthyThreshold,
		Logger:             logger,
	}, nil
}

// newTarget returns a config target in its initial health.
func newTarget(tc config.TargetGroup, t config.Target, now time.Time) *target.Target {
	x := target.New(tc.Name, t.Address, t.Weight, health.Initial(tc.HealthCheck.Enabled, now))
	x.SetMaxConnections(t.MaxConnections)
	return x
}
