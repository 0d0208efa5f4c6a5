package cluster

import "github.com/prometheus/client_golang/prometheus"

// Collector exposes the node's state at scrape time:
// fulcrum_cluster_connected (1 while etcd is reachable),
// fulcrum_cluster_errors_total (failed rounds with etcd) and
// fulcrum_cluster_instances (instances with a live report). node returns
// the running node, or nil without a cluster section.
type Collector struct {
	node                   func() *Node
	connected, errs, peers *prometheus.Desc
}

// NewCollector returns a collector over the node that node returns.
func NewCollector(node func() *Node) *Collector {
	return &Collector{node: node,
		connected: prometheus.NewDesc("fulcrum_cluster_connected", "1 while this instance reaches the cluster's etcd, else 0; routing goes on either way.", nil, nil),
		errs:      prometheus.NewDesc("fulcrum_cluster_errors_total", "Rounds of publishing and reading the fleet's state that failed to reach etcd.", nil, nil),
		peers:     prometheus.NewDesc("fulcrum_cluster_instances", "Fulcrum instances with a live report in etcd, this one included, as last read.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.connected
	ch <- c.errs
	ch <- c.peers
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	n := c.node()
	if n == nil {
		return
	}
	ok, errs := n.Connected()
	v := 0.0
	if ok {
		v = 1
	}
	ch <- prometheus.MustNewConstMetric(c.connected, prometheus.GaugeValue, v)
	ch <- prometheus.MustNewConstMetric(c.errs, prometheus.CounterValue, float64(errs))
	ch <- prometheus.MustNewConstMetric(c.peers, prometheus.GaugeValue, float64(n.Instances()))
}
