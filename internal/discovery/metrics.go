package discovery

import "github.com/prometheus/client_golang/prometheus"

// Collector exposes the providers' states at scrape time:
// fulcrum_discovery_targets (gauge, the last good set's size),
// fulcrum_discovery_stale (1 while the provider fails and its last good
// set is kept) and fulcrum_discovery_errors_total, each by target_group
// and provider. manager returns the running manager, or nil before one
// runs.
type Collector struct {
	manager              func() *Manager
	targets, stale, errs *prometheus.Desc
}

// NewCollector returns a collector over the manager that manager returns.
func NewCollector(manager func() *Manager) *Collector {
	l := []string{"target_group", "provider"}
	return &Collector{manager: manager,
		targets: prometheus.NewDesc("fulcrum_discovery_targets", "Targets in the last good set of a discovery provider.", l, nil),
		stale:   prometheus.NewDesc("fulcrum_discovery_stale", "1 while a discovery provider fails and its last good set is kept, else 0.", l, nil),
		errs:    prometheus.NewDesc("fulcrum_discovery_errors_total", "Failures of a discovery provider (DNS errors, etcd or Kubernetes API errors).", l, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.targets
	ch <- c.stale
	ch <- c.errs
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	m := c.manager()
	if m == nil {
		return
	}
	for _, g := range m.Groups() {
		for _, st := range m.Status(g) {
			stale := 0.0
			if st.Stale {
				stale = 1
			}
			ch <- prometheus.MustNewConstMetric(c.targets, prometheus.GaugeValue, float64(st.Targets), g, st.Provider)
			ch <- prometheus.MustNewConstMetric(c.stale, prometheus.GaugeValue, stale, g, st.Provider)
			ch <- prometheus.MustNewConstMetric(c.errs, prometheus.CounterValue, float64(st.Errors), g, st.Provider)
		}
	}
}
