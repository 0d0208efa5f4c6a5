package health

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/fulcrumlb/fulcrum/internal/config"
	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/target"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	pass = Result{OK: true, Status: 200}
	fail = Result{Reason: target.ReasonResponseCodeMismatch, Description: "Health checks failed with these codes: [503]"}
)

func TestMachineTransitions(t *testing.T) {
	now := time.Unix(100, 0)
	m := &Machine{HealthyThreshold: 3, UnhealthyThreshold: 2}
	h := Initial(true, now)
	steps := []struct {
		r       Result
		state   target.State
		changed bool
	}{
		{pass, target.StateInitial, false},
		{pass, target.StateInitial, false},
		{pass, target.StateHealthy, true},
		{fail, target.StateHealthy, false},
		{pass, target.StateHealthy, false}, // a pass resets the failure count
		{fail, target.StateHealthy, false},
		{fail, target.StateUnhealthy, true},
		{fail, target.StateUnhealthy, false},
		{pass, target.StateUnhealthy, false},
		{pass, target.StateUnhealthy, false},
		{pass, target.StateHealthy, true},
	}
	for i, s := range steps {
		var changed bool
		h, changed = m.Observe(h, s.r, now.Add(time.Duration(i)*time.Second))
		if h.State != s.state || changed != s.changed {
			t.Fatalf("step %d: state %s changed %v, want %s %v", i, h.State, changed, s.state, s.changed)
		}
	}
	if h.Reason != "" || !h.Since.Equal(now.Add(10*time.Second)) {
		t.Errorf("healthy again: %+v, want no reason and since the last step", h)
	}
}

func TestMachineUnhealthyKeepsFreshEvidence(t *testing.T) {
	m := &Machine{HealthyThreshold: 2, UnhealthyThreshold: 1}
	h, _ := m.Observe(Initial(true, time.Unix(0, 0)), fail, time.Unix(1, 0))
	refused := Result{Reason: target.ReasonFailedHealthChecks, Description: "connection refused on 10.0.0.5:8081"}
	h, changed := m.Observe(h, refused, time.Unix(2, 0))
	if changed || h.Reason != target.ReasonFailedHealthChecks || h.Description != refused.Description || !h.Since.Equal(time.Unix(1, 0)) {
		t.Errorf("got %+v changed=%v; want the new reason, the old since", h, changed)
	}
}

func TestDisabledChecksAreUnavailableAndStay(t *testing.T) {
	m := &Machine{HealthyThreshold: 1, UnhealthyThreshold: 1}
	h := Initial(false, time.Unix(0, 0))
	if h.State != target.StateUnavailable || h.Reason != target.ReasonHealthCheckDisabled || !h.Routable() {
		t.Fatalf("disabled: %+v", h)
	}
	if next, changed := m.Observe(h, fail, time.Unix(1, 0)); changed || next != h {
		t.Errorf("an unavailable target must not change on results: %+v", next)
	}
}

// scripted answers each address from its own queue of results.
type scripted struct {
	mu  sync.Mutex
	seq map[string][]Result
}

func (s *scripted) Probe(_ context.Context, addr string) Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.seq[addr]
	if len(q) == 0 {
		return pass
	}
	s.seq[addr] = q[1:]
	return q[0]
}

func TestCheckerDrivesRouteSet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := target.New("g", "a:80", 1, Initial(true, time.Now()))
		b := target.New("g", "b:80", 1, Initial(true, time.Now()))
		g := target.NewGroup("g", []*target.Target{a, b})
		if rs := g.Routes(); !rs.FailOpen || len(rs.Targets) != 2 {
			t.Fatalf("at start every target is initial: want fail-open to both, got %+v", rs)
		}
		p := &scripted{seq: map[string][]Result{"b:80": {fail, fail, fail, fail, fail}}}
		c := &Checker{Group: g, Prober: p, Interval: 10 * time.Second, HealthyThreshold: 2, UnhealthyThreshold: 2}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- c.Run(ctx) }()

		time.Sleep(15 * time.Second) // checks at 0s and 10s (plus a small offset for b)
		synctest.Wait()
		if a.Health().State != target.StateHealthy || b.Health().State != target.StateUnhealthy {
			t.Fatalf("after two checks: a %s, b %s; want healthy, unhealthy", a.Health().State, b.Health().State)
		}
		if rs := g.Routes(); rs.FailOpen || len(rs.Targets) != 1 || rs.Targets[0] != a {
			t.Fatalf("routes = %+v, want only a", rs)
		}
		if got := b.Health().Description; got != fail.Description {
			t.Errorf("b description = %q", got)
		}
		time.Sleep(60 * time.Second) // b's script runs out: it passes twice
		synctest.Wait()
		if b.Health().State != target.StateHealthy || len(g.Routes().Targets) != 2 {
			t.Fatalf("b should be back: %+v", b.Health())
		}
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
	})
}

func TestHTTPProberAgainstRealSockets(t *testing.T) {
	var gotUA, gotHost string
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotUA, gotHost = r.UserAgent(), r.Host
		if r.URL.Path == "/down" {
			w.WriteHeader(503)
		}
	}))
	defer ok.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	acceptDone := make(chan struct{})
	defer func() { silent.Close(); <-acceptDone }()
	go func() { // accepts and never answers; closes what it holds on exit
		defer close(acceptDone)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()

	m200, _ := config.ParseMatcher("200")
	okAddr := strings.TrimPrefix(ok.URL, "http://")
	probe := func(path, addr string, tcp bool) Result {
		p := &HTTPProber{Dialer: &target.Dialer{Timeout: time.Second}, TCP: tcp, Path: path, Timeout: 300 * time.Millisecond, Matcher: m200}
		return p.Probe(t.Context(), addr)
	}

	if r := probe("/", okAddr, false); !r.OK || r.Status != 200 {
		t.Errorf("ok: %+v", r)
	}
	if gotUA != "ELB-HealthChecker/2.0" || gotHost != okAddr {
		t.Errorf("check request: User-Agent %q Host %q", gotUA, gotHost)
	}
	if r := probe("/down", okAddr, false); r.OK || r.Reason != target.ReasonResponseCodeMismatch || r.Description != "Health checks failed with these codes: [503]" {
		t.Errorf("503: %+v", r)
	}
	r := probe("/", refused, false)
	if r.OK || r.Reason != target.ReasonFailedHealthChecks || r.Class.Type != failure.ConnectionRefused ||
		r.Description != "connection refused on "+refused {
		t.Errorf("refused: %+v", r)
	}
	if r := probe("/", refused, true); r.OK || r.Class.Type != failure.ConnectionRefused {
		t.Errorf("tcp refused: %+v", r)
	}
	if r := probe("/", silent.Addr().String(), true); !r.OK {
		t.Errorf("tcp check of a listening port: %+v", r)
	}
	if r := probe("/", silent.Addr().String(), false); r.OK || r.Reason != target.ReasonTimeout || r.Class.Type != failure.HTTPResponseTimeout {
		t.Errorf("silent: %+v", r)
	}
}

func TestCheckLogLine(t *testing.T) {
	var buf bytes.Buffer
	l, err := OpenCheckLog("-", &buf)
	if err != nil {
		t.Fatal(err)
	}
	end := time.Date(2026, 11, 22, 10, 0, 1, 500000000, time.UTC)
	l.Log("http", "web", "10.0.0.5:8080", Result{Address: "10.0.0.5:8081", Latency: 20 * time.Millisecond,
		Class: failure.Class{Type: failure.ConnectionRefused}, Reason: target.ReasonFailedHealthChecks,
		Description: "connection refused on 10.0.0.5:8081"}, end)
	l.Log("http", "web", "10.0.0.6:8080", Result{OK: true, Address: "10.0.0.6:8080", Status: 200, Latency: 1500 * time.Microsecond}, end)
	l.Log("http", "web", "10.0.0.7:8080", Result{Address: "10.0.0.7:8080", Status: 503}, end)
	want := `http 2026-11-22T10:00:01.480000Z 0.020000 10.0.0.5:8080 web FAIL - ConnectionReset fulcrum - 10.0.0.5:8081 "connection refused on 10.0.0.5:8081"
http 2026-11-22T10:00:01.498500Z 0.001500 10.0.0.6:8080 web PASS 200 - fulcrum - 10.0.0.6:8080 ""
http 2026-11-22T10:00:01.500000Z 0.000000 10.0.0.7:8080 web FAIL 503 TargetError fulcrum - 10.0.0.7:8080 ""
`
	if d := cmp.Diff(want, buf.String()); d != "" {
		t.Errorf("check log (-want +got):\n%s", d)
	}
	if CheckReason(Result{Class: failure.Class{Type: failure.ConnectionTimeout}}) != "TimedOut" {
		t.Error("timeout should be TimedOut")
	}
}

func TestCheckerFollowsRegistrations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := target.New("g", "a:80", 1, Initial(true, time.Now()))
		g := target.NewGroup("g", []*target.Target{a})
		p := &scripted{seq: map[string][]Result{}}
		var mu sync.Mutex
		checked := map[string]int{}
		c := &Checker{Group: g, Prober: p, Interval: 10 * time.Second, HealthyThreshold: 1, UnhealthyThreshold: 1,
			OnResult: func(t *target.Target, _ Result) { mu.Lock(); checked[t.Address]++; mu.Unlock() }}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		synctest.Wait()
		b := target.New("g", "b:80", 1, Initial(true, time.Now()))
		if err := g.Add(b); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second) // b's first check runs within a tenth of the interval
		synctest.Wait()
		if b.Health().State != target.StateHealthy {
			t.Fatalf("a target registered at runtime is checked at once: %+v", b.Health())
		}
		g.Remove(a)
		synctest.Wait()
		mu.Lock()
		before := checked["a:80"]
		mu.Unlock()
		time.Sleep(35 * time.Second)
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		if checked["a:80"] != before || checked["b:80"] < 4 {
			t.Errorf("checks after removing a: %v (a had %d)", checked, before)
		}
		cancel()
		<-done
	})
}

func TestOutlierEjection(t *testing.T) {
	now := time.Unix(1000, 0)
	a := target.New("g", "a:80", 1, target.Health{State: target.StateHealthy, Since: now})
	b := target.New("g", "b:80", 1, target.Health{State: target.StateHealthy, Since: now})
	g := target.NewGroup("g", []*target.Target{a, b})
	var ejected []string
	o := &Outlier{Group: g, ConsecutiveConnectionErrors: 3, Consecutive5xx: 2, BaseEjectionTime: 30 * time.Second,
		MaxEjectionTime: 300 * time.Second, MaxEjectionPercent: 50, HealthChecks: true,
		OnEject: func(t *target.Target) { ejected = append(ejected, t.Address) }}
	refused := failure.Class{Type: failure.ConnectionRefused, Phase: failure.PhaseConnect}
	race := failure.Class{Type: failure.ConnectionTerminated, Phase: failure.PhaseAwaitHeaders, Reused: true, Idle: time.Second}

	o.ObserveFailure(now, a, refused)
	o.ObserveFailure(now, a, race) // keep-alive races never count, nor break the run
	o.ObserveFailure(now, a, refused)
	o.ObserveResponse(now, a, 200) // a response ends the run
	o.ObserveFailure(now, a, refused)
	o.ObserveFailure(now, a, refused)
	if a.Outlier.Ejected() {
		t.Fatal("ejected without three consecutive connection errors")
	}
	o.ObserveFailure(now.Add(1200*time.Millisecond), a, refused)
	h := a.Health()
	if !a.Outlier.Ejected() || h.State != target.StateUnhealthy || h.Reason != target.ReasonOutlierEjected {
		t.Fatalf("a should be ejected: %+v", h)
	}
	if want := "3 consecutive connection_refused in 1.2s on fresh connections; ejected until 1970-01-01T00:17:11Z"; h.Description != want {
		t.Errorf("description = %q, want %q", h.Description, want)
	}
	if rs := g.Routes(); len(rs.Targets) != 1 || rs.Targets[0] != b {
		t.Errorf("routes = %v", rs.Targets)
	}
	// max_ejection_percent 50: b cannot go too.
	o.ObserveResponse(now, b, 503)
	o.ObserveResponse(now, b, 503)
	if b.Outlier.Ejected() || len(ejected) != 1 {
		t.Errorf("ejected %v; the second of two targets must stay at 50%%", ejected)
	}
	// The ejection ends after the base time; the last check decides.
	a.Stats.ObserveCheck(target.CheckOutcome{OK: false, Detail: "connection refused on a:80"}, false)
	o.Sweep(now.Add(29 * time.Second))
	if !a.Outlier.Ejected() {
		t.Fatal("ejection ended early")
	}
	o.Sweep(now.Add(32 * time.Second))
	if h := a.Health(); a.Outlier.Ejected() || h.State != target.StateUnhealthy || h.Reason != target.ReasonFailedHealthChecks {
		t.Errorf("after the ejection with a failing check: %+v", h)
	}
	// A second ejection lasts twice as long.
	later := now.Add(time.Minute)
	a.SetHealth(target.Health{State: target.StateHealthy, Since: later})
	for range 3 {
		o.ObserveFailure(later, a, refused)
	}
	if got := a.Outlier.Snapshot().RetryAt; !got.Equal(later.Add(60 * time.Second)) {
		t.Errorf("second ejection until %v, want %v", got, later.Add(60*time.Second))
	}
}

func TestCountsAsConnectionError(t *testing.T) {
	for _, tc := range []struct {
		c    failure.Class
		want bool
	}{
		{failure.Class{Type: failure.ConnectionRefused, Phase: failure.PhaseConnect}, true},
		{failure.Class{Type: failure.ConnectionTimeout, Phase: failure.PhaseConnect}, true},
		{failure.Class{Type: failure.TLSProtocolError, Phase: failure.PhaseTLS}, true},
		{failure.Class{Type: failure.ConnectionTerminated, Phase: failure.PhaseAwaitHeaders}, true},
		{failure.Class{Type: failure.ConnectionTerminated, Phase: failure.PhaseAwaitHeaders, Reused: true}, false},
		{failure.Class{Type: failure.HTTPResponseTimeout, Phase: failure.PhaseAwaitHeaders}, false},
		{failure.Class{Type: failure.ClientClosed, Phase: failure.PhaseConnect}, false},
		{failure.Class{Type: failure.HTTPProtocolError, Phase: failure.PhaseAwaitHeaders}, false},
	} {
		if got := CountsAsConnectionError(tc.c); got != tc.want {
			t.Errorf("%+v: %v, want %v", tc.c, got, tc.want)
		}
	}
}
