package metrics

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fulcrumlb/fulcrum/internal/target"
)

// captureRegisterer keeps every collector registered, to list their
// metric names without observing anything.
type captureRegisterer struct{ cs []prometheus.Collector }

func (c *captureRegisterer) Register(col prometheus.Collector) error {
	c.cs = append(c.cs, col)
	return nil
}
func (c *captureRegisterer) MustRegister(cs ...prometheus.Collector) { c.cs = append(c.cs, cs...) }
func (c *captureRegisterer) Unregister(prometheus.Collector) bool    { return true }

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// registeredNames lists every metric name Fulcrum registers, with a
// histogram's _bucket, _sum and _count series.
func registeredNames(t *testing.T) map[string]bool {
	t.Helper()
	reg := &captureRegisterer{}
	m := New(reg)
	m.WatchQueues(func() map[string]int64 { return nil })
	m.WatchTargetGroups(func() []*target.Group { return nil })
	m.WatchAccessLog(func() int64 { return 0 })
	names := map[string]bool{}
	ch := make(chan *prometheus.Desc, 64)
	go func() {
		for _, c := range reg.cs {
			c.Describe(ch)
		}
		close(ch)
	}()
	for d := range ch {
		if sm := fqName.FindStringSubmatch(d.String()); sm != nil {
			n := sm[1]
			names[n] = true
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				names[n+suffix] = true
			}
		}
	}
	if !names["fulcrum_requests_total"] || !names["fulcrum_queue_length"] {
		t.Fatalf("registry names incomplete: %v", names)
	}
	return names
}

// TestDeployNamesRegisteredMetrics: every fulcrum_ metric the Grafana
// dashboard and the Prometheus alert rules name exists.
func TestDeployNamesRegisteredMetrics(t *testing.T) {
	names := registeredNames(t)
	metric := regexp.MustCompile(`\bfulcrum_[a-z0-9_]+`)
	for _, file := range []string{"../../deploy/grafana-dashboard.json", "../../deploy/prometheus-alerts.yml"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		found := 0
		for _, n := range metric.FindAllString(string(b), -1) {
			if strings.HasSuffix(n, "_") {
				continue
			}
			found++
			if !names[n] {
				t.Errorf("%s names %s, which Fulcrum does not register", file, n)
			}
		}
		if found < 3 {
			t.Errorf("%s names only %d metrics", file, found)
		}
	}
}
