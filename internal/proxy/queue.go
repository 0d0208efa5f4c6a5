package proxy

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/target"
)

// queue is a target group's wait line for requests that find every
// routable target at its max_connections (HAProxy's backend queue with
// `timeout queue`, CLB's surge queue). It outlives reloads: requests that
// started on an older snapshot wait in the same line.
type queue struct {
	size    atomic.Int64
	timeout atomic.Int64 // nanoseconds
	waiting atomic.Int64
	// most is the highest number of requests that waited at once since
	// the queue was made (HAProxy's qmax).
	most atomic.Int64
	// wake carries one token per freed slot while requests wait.
	wake chan struct{}
}

func newQueue() *queue { return &queue{wake: make(chan struct{}, 64)} }

// freed tells waiters a slot of a limited target was released.
func (q *queue) freed() {
	if q.waiting.Load() == 0 {
		return
	}
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// errQueueFull and errQueueTimeout say why a request left the queue
// without a target. Both match failure.ErrConnectionLimit.
type queueError string

func (e queueError) Error() string { return string(e) }

// Is makes a queue error match failure.ErrConnectionLimit, so
// failure.Classify names it connection_limit_reached.
func (e queueError) Is(target error) bool { return target == failure.ErrConnectionLimit }

const (
	errQueueFull    = queueError("every target is at max_connections and the queue is full")
	errQueueTimeout = queueError("every target is at max_connections and queue_timeout expired")
)

// wait holds the request until try returns a target (with its slot
// taken), the queue timeout passes, or ctx ends. try runs once more after
// the request joined the line, so a slot freed just before is not missed.
func (q *queue) wait(ctx context.Context, try func() *target.Target) (*target.Target, error) {
	n := q.waiting.Add(1)
	if n > q.size.Load() {
		q.waiting.Add(-1)
		return nil, errQueueFull
	}
	for m := q.most.Load(); n > m && !q.most.CompareAndSwap(m, n); m = q.most.Load() {
	}
	defer q.waiting.Add(-1)
	timer := time.NewTimer(time.Duration(q.timeout.Load()))
	defer timer.Stop()
	for {
		if t := try(); t != nil {
			return t, nil
		}
		select {
		case <-q.wake:
		case <-timer.C:
			return nil, errQueueTimeout
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
}

// acquireFree takes a slot on a routable target that has one, preferring
// targets not yet tried, and returns it; nil when all are full.
func acquireFree(rs *target.RouteSet, tried []*target.Target) *target.Target {
	for pass := range 2 {
		for _, t := range rs.Targets {
			if pass == 0 && contains(tried, t) {
				continue
			}
			if t.TryAcquire() {
				return t
			}
		}
	}
	return nil
}

func contains(ts []*target.Target, t *target.Target) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}
