package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fulcrumlb/fulcrum/internal/target"
)

// responseTimeCollector exports fulcrum_target_response_time_seconds
// (ALB's TargetResponseTime) at scrape time from each target's own
// histogram (target.ResponseTimes), so that observing a response costs
// the proxy two atomic adds in memory the target already holds, and a
// target that leaves its group leaves the metric with it. One series per
// target of every group groups returns, with zero counts until its first
// response.
type responseTimeCollector struct {
	groups func() []*target.Group
	desc   *prometheus.Desc
}

func newResponseTimeCollector(groups func() []*target.Group) *responseTimeCollector {
	return &responseTimeCollector{
		groups: groups,
		desc: prometheus.NewDesc("fulcrum_target_response_time_seconds",
			"Time from sending a request to a target to its response header (ALB TargetResponseTime).",
			[]string{"target_group", "target"}, nil),
	}
}

func (c *responseTimeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *responseTimeCollector) Collect(ch chan<- prometheus.Metric) {
	bounds := target.ResponseTimeBounds()
	for _, g := range c.groups() {
		for _, t := range g.Targets() {
			s := t.ResponseTimes.Snapshot()
			buckets := make(map[float64]uint64, len(bounds))
			for i, b := range bounds {
				buckets[b.Seconds()] = s.Cumulative[i]
			}
			ch <- prometheus.MustNewConstHistogram(c.desc, s.Count, s.Sum.Seconds(), buckets, g.Name, t.Address)
		}
	}
}
