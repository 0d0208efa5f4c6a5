package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fulcrumlb/fulcrum/internal/target"
)

// healthStates are the states fulcrum_target_health exports, in order.
func healthStates() [6]target.State {
	return [...]target.State{target.StateInitial, target.StateHealthy, target.StateUnhealthy,
		target.StateUnavailable, target.StateDraining, target.StateUnused}
}

// healthCollector computes the target health gauges at scrape time (ALB's
// HealthyHostCount and UnHealthyHostCount,
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html).
type healthCollector struct {
	groups func() []*target.Group

	healthyDesc, unhealthyDesc, targetHealthDesc, connClosedDesc *prometheus.Desc
}

func newHealthCollector(groups func() []*target.Group) *healthCollector {
	return &healthCollector{
		groups: groups,
		healthyDesc: prometheus.NewDesc("fulcrum_healthy_targets",
			"Targets taking traffic on their health: healthy, or unavailable because checks are off (ALB HealthyHostCount).",
			[]string{"target_group"}, nil),
		unhealthyDesc: prometheus.NewDesc("fulcrum_unhealthy_targets",
			"Targets in the unhealthy state (ALB UnHealthyHostCount).",
			[]string{"target_group"}, nil),
		targetHealthDesc: prometheus.NewDesc("fulcrum_target_health",
			"1 for the target's current health state, 0 for the others.",
			[]string{"target_group", "target", "state"}, nil),
		connClosedDesc: prometheus.NewDesc("fulcrum_target_connections_closed_total",
			"Pooled target connections closed instead of reused: target_closed (the target closed it while idle) or unsolicited_data (it sent bytes after a response ended).",
			[]string{"target_group", "target", "reason"}, nil),
	}
}

func (c *healthCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.healthyDesc
	ch <- c.unhealthyDesc
	ch <- c.targetHealthDesc
	ch <- c.connClosedDesc
}

func (c *healthCollector) Collect(ch chan<- prometheus.Metric) {
	for _, g := range c.groups() {
		healthy, unhealthy := 0, 0
		for _, t := range g.Targets() {
			h := t.Health()
			if h.Routable() {
				healthy++
			}
			if h.State == target.StateUnhealthy {
				unhealthy++
			}
			for _, s := range healthStates() {
				v := 0.0
				if s == h.State {
					v = 1
				}
				ch <- prometheus.MustNewConstMetric(c.targetHealthDesc, prometheus.GaugeValue, v, g.Name, t.Address, s.String())
			}
			ch <- prometheus.MustNewConstMetric(c.connClosedDesc, prometheus.CounterValue, float64(t.Conns.TargetClosed()), g.Name, t.Address, target.CloseTargetClosed)
			ch <- prometheus.MustNewConstMetric(c.connClosedDesc, prometheus.CounterValue, float64(t.Conns.Unsolicited()), g.Name, t.Address, target.CloseUnsolicited)
		}
		ch <- prometheus.MustNewConstMetric(c.healthyDesc, prometheus.GaugeValue, float64(healthy), g.Name)
		ch <- prometheus.MustNewConstMetric(c.unhealthyDesc, prometheus.GaugeValue, float64(unhealthy), g.Name)
	}
}
