package proxy

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fulcrumlb/fulcrum/internal/accesslog"
	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/metrics"
)

// TestObservedAttempts checks that one failed attempt and its retry show
// up alike in the metrics, the target's stats and the request history.
func TestObservedAttempts(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/boom" {
			w.WriteHeader(503)
		}
	}))
	defer backend.Close()
	dead := closedPort(t)
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	hist := accesslog.NewHistory(100)
	// Round robin from the first target: every other request hits the
	// dead one first and is retried on the live one.
	s, addr := startServerOpts(t, fmt.Sprintf(`
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app}]
target_groups: [{name: app, health_check: {enabled: false}, targets: [{address: %q}, {address: %q}]}]
`, dead, hostPort(backend.URL)), Options{Metrics: m, History: hist})

	var ids []string
	for range 4 {
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d, want 200 after retry", resp.StatusCode)
		}
		ids = append(ids, resp.Header.Get("X-Request-Id"))
	}
	resp, err := http.Get("http://" + addr + "/boom")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	if got := counter(t, reg, "fulcrum_requests_total", map[string]string{"listener": "web", "target_group": "app", "code": "200", "source": "target"}); got != 4 {
		t.Errorf("requests_total 200/target = %v, want 4", got)
	}
	refused := counter(t, reg, "fulcrum_target_connection_errors_total", map[string]string{"target_group": "app", "target": dead, "error_type": "connection_refused", "reused": "false"})
	if got := refused; got < 2 {
		t.Errorf("connection_refused attempts = %v, want at least 2", got)
	}
	if got := counter(t, reg, "fulcrum_retries_total", map[string]string{"target_group": "app", "error_type": "connection_refused"}); got < 2 {
		t.Errorf("retries = %v, want at least 2", got)
	}

	deadT := s.Group("app").Targets.Find(dead)
	snap := deadT.Stats.Snapshot(time.Now())
	if snap.Errors[failure.ConnectionRefused].M1 < 2 || snap.ConnErrors < 2 || snap.Redispatches < 2 {
		t.Errorf("dead target stats: errors %v econ %d wredis %d", snap.Errors, snap.ConnErrors, snap.Redispatches)
	}
	live := s.Group("app").Targets.Find(hostPort(backend.URL)).Stats.Snapshot(time.Now())
	if live.HRSP[1] != 4 || live.HRSP[4] != 1 || live.Status5xx.M1 != 1 {
		t.Errorf("live target hrsp %v 5xx %v", live.HRSP, live.Status5xx)
	}

	// Five responses, 503 included, each observed once on the live
	// target's histogram child, which its pool keeps (pool.responseTime).
	if n := histogramCount(t, reg, "fulcrum_target_response_time_seconds", map[string]string{"target_group": "app", "target": hostPort(backend.URL)}); n != 5 {
		t.Errorf("response time observations = %d, want 5", n)
	}

	var retried int
	for _, id := range ids {
		rec, ok := hist.Get(id)
		if !ok {
			t.Fatalf("request %s not in history", id)
		}
		if len(rec.Attempts) == 2 {
			retried++
			if a := rec.Attempts[0]; a.Target != dead || a.Class.Type != failure.ConnectionRefused || a.Class.Phase != failure.PhaseConnect {
				t.Errorf("first attempt %+v", a)
			}
			if !accesslog.Failed(&rec) {
				t.Error("a retried request counts as failed in the history")
			}
		}
	}
	if retried < 2 {
		t.Errorf("%d of 4 requests show a retry, want at least 2", retried)
	}
}

// counter returns the value of the counter name{labels} gathered from
// reg, failing the test when no such series exists.
func counter(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, mt := range mf.GetMetric() {
			for _, lp := range mt.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue next
				}
			}
			return mt.GetCounter().GetValue()
		}
	}
	var keys []string
	for k, v := range labels {
		keys = append(keys, k+"="+v)
	}
	t.Fatalf("no %s{%s}", name, strings.Join(keys, ","))
	return 0
}

// histogramCount returns the sample count of the histogram
// name{labels} gathered from reg, failing the test when no such series
// exists.
func histogramCount(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, mt := range mf.GetMetric() {
			for _, lp := range mt.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue next
				}
			}
			return mt.GetHistogram().GetSampleCount()
		}
	}
	t.Fatalf("no %s%v", name, labels)
	return 0
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
