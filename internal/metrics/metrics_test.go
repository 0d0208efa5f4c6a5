package metrics

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/target"
)

func newTestMetrics(t *testing.T) (*Metrics, *prometheus.Registry, *target.Group) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := New(reg)
	now := time.Now()
	g := target.NewGroup("web", []*target.Target{
		target.New("web", "10.0.0.1:80", 1, target.Health{State: target.StateHealthy, Since: now}),
		target.New("web", "10.0.0.2:80", 1, target.Health{State: target.StateUnhealthy, Reason: target.ReasonFailedHealthChecks, Since: now}),
	})
	m.AddListener("public")
	m.AddTargetGroup("web")
	m.WatchTargetGroups(func() []*target.Group { return []*target.Group{g} })
	dropped := int64(3)
	m.WatchAccessLog(func() int64 { return dropped })
	return m, reg, g
}

func TestMetricsContract(t *testing.T) {
	m, reg, g := newTestMetrics(t)
	m.Request("public", "web", 200, false)
	m.Request("public", "web", 502, true)
	m.Request("public", "web", 502, true)
	refused := failure.Class{Type: failure.ConnectionRefused, Phase: failure.PhaseConnect}
	m.AttemptFailed("web", "10.0.0.2:80", refused)
	m.AttemptFailed("web", "10.0.0.2:80", failure.Class{Type: failure.ConnectionTerminated, Reused: true})
	m.AttemptFailed("web", "10.0.0.2:80", failure.Class{Type: failure.TLSCertificateError})
	m.AttemptFailed("web", "10.0.0.2:80", failure.Class{Type: failure.ClientClosed})
	m.Retry("web", failure.ConnectionRefused)
	m.RetryBudgetExhausted("web")
	g.Targets()[0].ResponseTimes.Observe(3 * time.Millisecond)
	m.HealthCheck("web", "10.0.0.2:80", false, target.ReasonFailedHealthChecks)
	m.UnhealthyRouting("web")
	m.ConnOpened("public")
	m.ConnOpened("public")
	m.ConnClosed("public")

	checks := []struct {
		c    prometheus.Collector
		want float64
	}{
		{m.requests.WithLabelValues("public", "web", "502", "elb"), 2},
		{m.requests.WithLabelValues("public", "web", "200", "target"), 1},
		{m.connErrors.WithLabelValues("web", "10.0.0.2:80", "connection_refused", "false"), 1},
		{m.connErrors.WithLabelValues("web", "10.0.0.2:80", "connection_terminated", "true"), 1},
		{m.tlsErrors.WithLabelValues("web", "10.0.0.2:80"), 1},
		{m.retries.WithLabelValues("web", "connection_refused"), 1},
		{m.budgetExhausted.WithLabelValues("web"), 1},
		{m.healthChecks.WithLabelValues("web", "10.0.0.2:80", "fail", target.ReasonFailedHealthChecks), 1},
		{m.unhealthyRouting.WithLabelValues("web"), 1},
		{m.activeConns.WithLabelValues("public"), 1},
		{m.connsTotal.WithLabelValues("public"), 2},
		{m.rejectedConns.WithLabelValues("public"), 0},
	}
	for i, c := range checks {
		if got := testutil.ToFloat64(c.c); got != c.want {
			t.Errorf("check %d: got %v, want %v", i, got, c.want)
		}
	}
	// A client that went away is not a target connection error.
	if n := testutil.CollectAndCount(m.connErrors); n != 3 {
		t.Errorf("%d connection error series, want 3 (460 excluded)", n)
	}
	if n, err := testutil.GatherAndCount(reg, "fulcrum_target_response_time_seconds"); err != nil || n != 2 {
		t.Errorf("%d response time series (%v), want one per target", n, err)
	}

	want := `
# HELP fulcrum_healthy_targets Targets taking traffic on their health: healthy, or unavailable because checks are off (ALB HealthyHostCount).
# TYPE fulcrum_healthy_targets gauge
fulcrum_healthy_targets{target_group="web"} 1
# HELP fulcrum_unhealthy_targets Targets in the unhealthy state (ALB UnHealthyHostCount).
# TYPE fulcrum_unhealthy_targets gauge
fulcrum_unhealthy_targets{target_group="web"} 1
# HELP fulcrum_access_log_dropped_total Access log lines lost: dropped because the writer fell behind, or not written because the file could not be written.
# TYPE fulcrum_access_log_dropped_total counter
fulcrum_access_log_dropped_total 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "fulcrum_healthy_targets", "fulcrum_unhealthy_targets", "fulcrum_access_log_dropped_total"); err != nil {
		t.Error(err)
	}
}

func TestTargetHealthGauge(t *testing.T) {
	_, reg, g := newTestMetrics(t)
	g.Targets()[1].SetHealth(target.Health{State: target.StateDraining, Since: time.Now()})
	n, err := testutil.GatherAndCount(reg, "fulcrum_target_health")
	if err != nil {
		t.Fatal(err)
	}
	if n != 12 {
		t.Errorf("%d fulcrum_target_health series, want 6 states x 2 targets", n)
	}
	mfs, _ := reg.Gather()
	ones := map[string]string{}
	for _, mf := range mfs {
		if mf.GetName() != "fulcrum_target_health" {
			continue
		}
		for _, mt := range mf.GetMetric() {
			if mt.GetGauge().GetValue() == 1 {
				l := map[string]string{}
				for _, lp := range mt.GetLabel() {
					l[lp.GetName()] = lp.GetValue()
				}
				ones[l["target"]] = l["state"]
			}
		}
	}
	if ones["10.0.0.1:80"] != "healthy" || ones["10.0.0.2:80"] != "draining" {
		t.Errorf("current states = %v", ones)
	}
}

func TestMetricsLint(t *testing.T) {
	m, reg, g := newTestMetrics(t)
	// Create one series of every vector so promlint sees them all.
	m.Request("public", "web", 200, false)
	m.AttemptFailed("web", "10.0.0.2:80", failure.Class{Type: failure.TLSProtocolError})
	m.Retry("web", failure.ConnectionRefused)
	g.Targets()[0].ResponseTimes.Observe(time.Millisecond)
	m.HealthCheck("web", "10.0.0.1:80", true, "")
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "fulcrum_") {
			t.Errorf("promlint: %s: %s", p.Metric, p.Text)
		}
	}
}

// TestNilMetricsAreNoOps: code paths call a nil *Metrics when metrics are
// off; any method that dereferences it panics and fails the test.
func TestNilMetricsAreNoOps(t *testing.T) {
	var m *Metrics
	m.AddListener("l")
	m.AddTargetGroup("g")
	m.Request("l", "g", 200, false)
	m.AttemptFailed("g", "t", failure.Class{Type: failure.ConnectionRefused})
	m.Retry("g", failure.ConnectionRefused)
	m.RetryBudgetExhausted("g")
	m.HealthCheck("g", "t", true, "")
	m.UnhealthyRouting("g")
	m.ConnOpened("l")
	m.ConnClosed("l")
	m.ConnRejected("l")
	m.WatchTargetGroups(nil)
	m.WatchAccessLog(nil)
}

// TestResponseTimeHistogram: the histogram each target keeps is exported
// with the buckets of the contract (docs/observability.md): cumulative,
// inclusive upper bounds, in seconds, one series per target (zero until
// its first response); 90 s lands only in +Inf, -1 s counts as 0.
func TestResponseTimeHistogram(t *testing.T) {
	_, reg, g := newTestMetrics(t)
	rt := &g.Targets()[0].ResponseTimes
	for _, d := range []time.Duration{time.Millisecond, 2 * time.Millisecond, 40 * time.Millisecond, 90 * time.Second, -time.Second} {
		rt.Observe(d)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	for _, mf := range mfs {
		if mf.GetName() != "fulcrum_target_response_time_seconds" {
			continue
		}
		for _, mt := range mf.GetMetric() {
			h := mt.GetHistogram()
			fmt.Fprintf(&got, "%s count=%d sum=%g", mt.GetLabel()[0].GetValue(), h.GetSampleCount(), h.GetSampleSum())
			for _, b := range h.GetBucket() {
				fmt.Fprintf(&got, " %g:%d", b.GetUpperBound(), b.GetCumulativeCount())
			}
			got.WriteString("\n")
		}
	}
	wantSeries := "10.0.0.1:80 count=5 sum=90.043 0.001:2 0.0025:3 0.005:3 0.01:3 0.025:3 0.05:4 0.1:4 0.25:4 0.5:4 1:4 2.5:4 5:4 10:4 30:4 60:4\n" +
		"10.0.0.2:80 count=0 sum=0 0.001:0 0.0025:0 0.005:0 0.01:0 0.025:0 0.05:0 0.1:0 0.25:0 0.5:0 1:0 2.5:0 5:0 10:0 30:0 60:0\n"
	if got.String() != wantSeries {
		t.Errorf("series:\n%s\nwant:\n%s", got.String(), wantSeries)
	}
}

// TestResponseTimeSeriesFollowTheGroup: a target's response-time series
// leave the exposition with the target, and a target added later has one
// from its registration, not only after its first response.
func TestResponseTimeSeriesFollowTheGroup(t *testing.T) {
	_, reg, g := newTestMetrics(t)
	count := func() int {
		t.Helper()
		n, err := testutil.GatherAndCount(reg, "fulcrum_target_response_time_seconds")
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	g.Targets()[1].ResponseTimes.Observe(time.Millisecond)
	if !g.Remove(g.Targets()[1]) {
		t.Fatal("Remove failed")
	}
	if n := count(); n != 1 {
		t.Errorf("%d series after a target left, want 1", n)
	}
	if err := g.Add(target.New("web", "10.0.0.3:80", 1, target.Health{State: target.StateHealthy, Since: time.Now()})); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 2 {
		t.Errorf("%d series after a target joined, want 2", n)
	}
}

// TestRequestCountsFollowTheirLabels: the last-child cache (hot.go) never
// counts a request under its predecessor's labels, whether requests
// repeat their predecessor's labels, alternate, or come from several
// goroutines at once.
func TestRequestCountsFollowTheirLabels(t *testing.T) {
	m, _, _ := newTestMetrics(t)
	type call struct {
		group string
		code  int
		elb   bool
	}
	seq := []call{{"web", 200, false}, {"web", 200, false}, {"api", 200, false}, {"web", 503, true}, {"web", 200, false}, {"api", 200, false}, {"api", 200, false}}
	const workers, rounds = 4, 250
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range rounds {
				for _, c := range seq {
					m.Request("public", c.group, c.code, c.elb)
				}
			}
		})
	}
	wg.Wait()
	for _, c := range []struct {
		group, code, source string
		want                float64
	}{
		{"web", "200", "target", 3 * workers * rounds},
		{"api", "200", "target", 3 * workers * rounds},
		{"web", "503", "elb", workers * rounds},
		{"web", "503", "target", 0},
	} {
		if got := testutil.ToFloat64(m.requests.WithLabelValues("public", c.group, c.code, c.source)); got != c.want {
			t.Errorf("%s %s %s: %v requests, want %v", c.group, c.code, c.source, got, c.want)
		}
	}
}
