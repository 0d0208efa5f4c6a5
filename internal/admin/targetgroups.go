package admin

import (
	"net/http"
	"sort"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/discovery"
	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/target"
)

// TargetGroupView is one target group in the JSON API.
type TargetGroupView struct {
	Name string `json:"name"`
	// Healthy counts targets that take traffic on their health; Unhealthy
	// those in the unhealthy state.
	Healthy   int `json:"healthy"`
	Unhealthy int `json:"unhealthy"`
	// FailOpen is true while no target is healthy and every registered
	// target gets traffic (ALB).
	FailOpen bool         `json:"fail_open"`
	Targets  []TargetView `json:"targets"`
	// Discovery is the state of each of the group's discovery providers:
	// its last good set's size, and while it fails, the error it keeps
	// the last good set through (docs/fleet.md). Absent without
	// providers.
	Discovery []discovery.Status `json:"discovery,omitempty"`
}

// TargetView is one target in the JSON API.
type TargetView struct {
	Address string `json:"address"`
	Weight  int    `json:"weight"`
	// State, Reason and Description are ALB's target health: state name,
	// reason code (empty when healthy) and the evidence.
	State       string    `json:"state"`
	Reason      string    `json:"reason,omitempty"`
	Description string    `json:"description,omitempty"`
	Since       time.Time `json:"since"`
	// AdminState is ready, drain or maint (runtime API).
	AdminState string `json:"admin_state"`
	InFlight   int64  `json:"in_flight"`
	// RegisteredBy is who registered the target: "file" (the
	// configuration file), "api" (the admin API, the CLI or the runtime
	// socket), or the discovery provider that found it: "dns", "etcd" or
	// "kubernetes". All but file survive reloads.
	RegisteredBy string `json:"registered_by"`
	// MaxConnections is the target's in-flight limit; 0 is unlimited.
	MaxConnections int64 `json:"max_connections"`
	// SlowStartSince is when the target entered slow start; absent when
	// it is not ramping up.
	SlowStartSince *time.Time `json:"slow_start_since,omitempty"`
	// Outlier is outlier detection: the consecutive failure runs and the
	// ejection, if any.
	Outlier OutlierView `json:"outlier"`
	// KeepAlive is what was learned about the target's keep-alive
	// idle-close time.
	KeepAlive KeepAliveView `json:"keepalive"`
	// Requests counts attempts answered by the target, Status5xx those
	// with a 5xx status; Errors failed attempts per RFC 9209 error type.
	Requests  WindowView            `json:"requests"`
	Status5xx WindowView            `json:"status_5xx"`
	Errors    map[string]WindowView `json:"errors"`
	LastError *LastErrorView        `json:"last_error"`
	// ResponseTime is over the last 512 responses, in seconds.
	ResponseTime ResponseTimeView `json:"response_time"`
	// LastCheck is the most recent health check, nil before the first.
	LastCheck *CheckView `json:"last_check"`
	// Transitions are the last 20 state changes, newest first.
	Transitions []TransitionView `json:"transitions"`
}

// OutlierView is a target's outlier-detection state.
type OutlierView struct {
	Ejected bool `json:"ejected"`
	// Ejections counts ejections since registration; each lasts one more
	// base_ejection_time.
	Ejections int `json:"ejections"`
	// RetryAt is when an ejected target returns; absent otherwise.
	RetryAt *time.Time `json:"retry_at,omitempty"`
	// Evidence is the last ejection's cause.
	Evidence                    string `json:"evidence,omitempty"`
	ConsecutiveConnectionErrors int    `json:"consecutive_connection_errors"`
	Consecutive5xx              int    `json:"consecutive_5xx"`
}

// KeepAliveView is the learned keep-alive idle-close time, in seconds.
type KeepAliveView struct {
	// LearnedIdleClose is the target's idle-close time as learned; 0 when
	// unknown.
	LearnedIdleClose float64 `json:"learned_idle_close_seconds"`
	// Source is "keep-alive header" or "observed idle closes".
	Source       string `json:"source,omitempty"`
	Observations int    `json:"observations"`
	// PoolIdleLimit is how long pooled connections may idle given what was
	// learned (before keepalive_idle_timeout caps it); 0 when unknown.
	PoolIdleLimit float64 `json:"pool_idle_limit_seconds"`
	// LongestReuse is the longest idle time a connection was reused after.
	LongestReuse float64 `json:"longest_reuse_seconds"`
}

// WindowView holds counts over the last 1, 5 and 15 minutes.
type WindowView struct {
	M1  int64 `json:"1m"`
	M5  int64 `json:"5m"`
	M15 int64 `json:"15m"`
}

// LastErrorView is a target's most recent failed attempt.
type LastErrorView struct {
	Time      time.Time `json:"time"`
	ErrorType string    `json:"error_type"`
	Reused    bool      `json:"reused"`
	Detail    string    `json:"detail"`
}

// ResponseTimeView gives response time percentiles in seconds.
type ResponseTimeView struct {
	P50 float64 `json:"p50_seconds"`
	P99 float64 `json:"p99_seconds"`
}

// CheckView is one health check's outcome.
type CheckView struct {
	Result    string  `json:"result"`
	Status    int     `json:"status,omitempty"`
	ErrorType string  `json:"error_type,omitempty"`
	Latency   float64 `json:"latency_seconds"`
	Detail    string  `json:"detail,omitempty"`
}

// TransitionView is one health state change with its evidence.
type TransitionView struct {
	Time        time.Time `json:"time"`
	From        string    `json:"from"`
	To          string    `json:"to"`
	Reason      string    `json:"reason,omitempty"`
	Description string    `json:"description,omitempty"`
}

func window(w target.Window) WindowView { return WindowView{w.M1, w.M5, w.M15} }

// groupView builds the view of g as of now.
func groupView(g *target.Group, now time.Time) TargetGroupView {
	v := TargetGroupView{Name: g.Name, FailOpen: g.Routes().FailOpen, Targets: []TargetView{}}
	for _, t := range g.Targets() {
		h := t.Health()
		if h.Routable() {
			v.Healthy++
		}
		if h.State == target.StateUnhealthy {
			v.Unhealthy++
		}
		v.Targets = append(v.Targets, targetView(t, h, now))
	}
	return v
}

func targetView(t *target.Target, h target.Health, now time.Time) TargetView {
	snap := t.Stats.Snapshot(now)
	v := TargetView{
		Address: t.Address, Weight: t.Weight(),
		State: h.State.String(), Reason: h.Reason, Description: h.Description, Since: h.Since,
		AdminState: t.AdminState().String(), InFlight: t.InFlight(),
		Requests: window(snap.Responses), Status5xx: window(snap.Status5xx),
		Errors:       map[string]WindowView{},
		ResponseTime: ResponseTimeView{P50: snap.P50.Seconds(), P99: snap.P99.Seconds()},
		Transitions:  []TransitionView{},
		RegisteredBy: t.Source().String(), MaxConnections: t.MaxConnections(),
	}
	if ss := t.SlowStartSince(); !ss.IsZero() {
		v.SlowStartSince = &ss
	}
	ps := t.Outlier.Snapshot()
	v.Outlier = OutlierView{Ejected: ps.Ejected, Ejections: ps.Ejections, Evidence: ps.Evidence,
		ConsecutiveConnectionErrors: ps.ConsecutiveErrors, Consecutive5xx: ps.Consecutive5xx}
	if ps.Ejected {
		v.Outlier.RetryAt = &ps.RetryAt
	}
	ka := t.KeepAlive.Snapshot()
	v.KeepAlive = KeepAliveView{LearnedIdleClose: ka.IdleClose.Seconds(), Source: ka.Source, Observations: ka.Observations,
		PoolIdleLimit: ka.PoolLimit.Seconds(), LongestReuse: ka.LongestReuse.Seconds()}
	for et, w := range snap.Errors {
		v.Errors[et.String()] = window(w)
	}
	if le := snap.LastError; !le.Time.IsZero() {
		v.LastError = &LastErrorView{Time: le.Time, ErrorType: le.Type.String(), Reused: le.Reused, Detail: le.Detail}
	}
	if c := snap.LastCheck; c.Done {
		cv := &CheckView{Result: "fail", Status: c.Status, Latency: c.Latency.Seconds(), Detail: c.Detail}
		if c.OK {
			cv.Result = "pass"
		}
		if c.Class.Type != failure.None {
			cv.ErrorType = c.Class.Type.String()
		}
		v.LastCheck = cv
	}
	for _, tr := range snap.Transitions {
		v.Transitions = append(v.Transitions, TransitionView{Time: tr.Time, From: tr.From.String(), To: tr.To.String(),
			Reason: tr.Reason, Description: tr.Description})
	}
	return v
}

// TopError returns the error type with the most failures in the last 5
// minutes, and its count; "" when there were none. Ties go to the name
// that sorts first, so the answer is stable.
func (v TargetView) TopError() (string, int64) {
	names := make([]string, 0, len(v.Errors))
	for n := range v.Errors {
		names = append(names, n)
	}
	sort.Strings(names)
	top, best := "", int64(0)
	for _, n := range names {
		if c := v.Errors[n].M5; c > best {
			top, best = n, c
		}
	}
	return top, best
}

// listTargetGroups answers GET /api/v1/target-groups:
// {"target_groups": [TargetGroupView...]}.
func (s *Server) listTargetGroups(w http.ResponseWriter, r *http.Request) {
	now := s.now()
	out := struct {
		TargetGroups []TargetGroupView `json:"target_groups"`
	}{TargetGroups: []TargetGroupView{}}
	for _, g := range s.Groups() {
		v := groupView(g, now)
		v.Discovery = s.discovery(g.Name)
		out.TargetGroups = append(out.TargetGroups, v)
	}
	writeJSON(w, http.StatusOK, out)
}

// getTargetGroup answers GET /api/v1/target-groups/{name} with one
// TargetGroupView, or 404.
func (s *Server) getTargetGroup(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	g := s.group(name)
	if g == nil {
		writeError(w, http.StatusNotFound, "no such target group", name)
		return
	}
	v := groupView(g, s.now())
	v.Discovery = s.discovery(name)
	writeJSON(w, http.StatusOK, v)
}

// discovery returns the group's discovery states, nil without any.
func (s *Server) discovery(group string) []discovery.Status {
	if s.Discovery == nil {
		return nil
	}
	return s.Discovery(group)
}
