package target

import (
	"sync/atomic"
	"time"
)

// NumResponseTimeBounds is how many finite upper bounds ResponseTimes has.
const NumResponseTimeBounds = 15

// ResponseTimeBounds returns the inclusive upper bounds of ResponseTimes'
// buckets, ascending: 1 ms to 60 s. They are the buckets of the
// fulcrum_target_response_time_seconds histogram (docs/observability.md).
func ResponseTimeBounds() [NumResponseTimeBounds]time.Duration {
	return [...]time.Duration{
		time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
		10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
		100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
		time.Second, 2500 * time.Millisecond, 5 * time.Second,
		10 * time.Second, 30 * time.Second, 60 * time.Second,
	}
}

// ResponseTimes is a histogram of a target's times from sending a request
// to its response header (ALB's TargetResponseTime,
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html),
// in the buckets of ResponseTimeBounds. It lives in the Target, beside
// the other state a response touches, and counts with two atomic adds, so
// that with 1,000 targets an observation is one or two cache lines
// instead of the chain of objects behind a client_golang histogram child;
// the metrics package exports it at scrape time. The zero value is empty
// and ready; safe for concurrent use.
type ResponseTimes struct {
	sum    atomic.Int64 // nanoseconds
	counts [NumResponseTimeBounds + 1]atomic.Uint64
}

// Observe counts one response time d; a negative d counts as 0.
func (h *ResponseTimes) Observe(d time.Duration) {
	d = max(d, 0)
	b := ResponseTimeBounds()
	i := 0
	for i < len(b) && d > b[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sum.Add(int64(d))
}

// ResponseTimesSnapshot is a copy of a ResponseTimes in Prometheus' shape.
type ResponseTimesSnapshot struct {
	// Cumulative[i] counts the observations at or below
	// ResponseTimeBounds()[i].
	Cumulative [NumResponseTimeBounds]uint64
	// Count is every observation, the +Inf bucket included.
	Count uint64
	// Sum is the sum of the observed times.
	Sum time.Duration
}

// Snapshot returns the counts so far. Observations that race with it may
// be in Sum and not in the counts, or the reverse; Count always equals
// the counts read.
func (h *ResponseTimes) Snapshot() ResponseTimesSnapshot {
	var s ResponseTimesSnapshot
	for i := range h.counts {
		s.Count += h.counts[i].Load()
		if i < NumResponseTimeBounds {
			s.Cumulative[i] = s.Count
		}
	}
	s.Sum = time.Duration(h.sum.Load())
	return s
}
