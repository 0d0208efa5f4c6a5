package proxy

import (
	"errors"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/accesslog"
	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/target"
)

// Outcome is what one attempt to a target tells the load balancer. Every
// front end (HTTP/1.1, HTTP/2, WebSocket) makes one per attempt, and one
// more when a response body fails after its header arrived.
type Outcome struct {
	// Group is the target group the attempt was routed to.
	Group *Group
	// Target is the target the attempt went to.
	Target *target.Target
	// Class is the attempt's failure class; its Type is failure.None when
	// a response header arrived. Reused and Idle describe the connection
	// either way.
	Class failure.Class
	// Status is the target's status code, 0 when no header arrived.
	Status int
	// Detail is the failure's text for logs and the admin API; "" on
	// success.
	Detail string
	// Err is the attempt's error, nil on success.
	Err error
	// Sent is when the request was handed to the transport; Done when the
	// header arrived or the attempt failed.
	Sent, Done time.Time
}

// Duration is the time from sending to the header or the failure.
func (o *Outcome) Duration() time.Duration { return o.Done.Sub(o.Sent) }

// observe is the one place an attempt's outcome reaches its observers, in
// this order: the access log record (rec, may be nil), the target's
// statistics, metrics, keep-alive learning and outlier detection (in the
// manner of Envoy's single outlier-detector putResult). A body failure
// (Class.Phase failure.PhaseBody) replaces the class of the record's last
// attempt instead of adding one. A target cut by its deregistration delay
// (failure.ErrDeregistered) teaches nothing about its keep-alive timeout or
// health and reaches only the record, statistics and metrics.
func (h *Handler) observe(rec *accesslog.Record, o *Outcome) {
	t, g := o.Target, o.Group
	failed := o.Class.Type != failure.None
	if rec != nil {
		switch {
		case o.Class.Phase == failure.PhaseBody && len(rec.Attempts) > 0:
			last := &rec.Attempts[len(rec.Attempts)-1]
			last.Class, last.Detail = o.Class, o.Detail
		case failed:
			rec.Attempts = append(rec.Attempts, accesslog.Attempt{Target: t.Address, Class: o.Class, Detail: o.Detail, Duration: o.Duration()})
		default:
			rec.Attempts = append(rec.Attempts, accesslog.Attempt{Target: t.Address, Status: o.Status, Duration: o.Duration(), Class: o.Class})
		}
	}
	if !failed {
		t.Stats.ObserveResponse(o.Done, o.Status, o.Duration())
		t.ResponseTimes.Observe(o.Duration())
		if o.Class.Reused {
			t.KeepAlive.ObserveReused(o.Class.Idle)
		}
		g.Outlier.ObserveResponse(o.Done, t, o.Status)
		return
	}
	t.Stats.ObserveError(o.Done, o.Class, o.Detail)
	h.Metrics.AttemptFailed(g.Name, t.Address, o.Class)
	if o.Class.Type == failure.ClientClosed || errors.Is(o.Err, failure.ErrDeregistered) {
		return
	}
	if o.Class.Reused && o.Class.Type == failure.ConnectionTerminated && !o.Class.Written {
		t.KeepAlive.ObserveClosed(o.Done, o.Class.Idle)
	}
	g.Outlier.ObserveFailure(o.Done, t, o.Class)
}
