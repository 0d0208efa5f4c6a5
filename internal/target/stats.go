package target

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/failure"
)

// Sizes of the per-target history kept for the admin API.
const (
	// MaxTransitions is how many health transitions a target remembers.
	MaxTransitions = 20
	// windowMinutes is the longest error-count window, in minutes.
	windowMinutes = 15
	// latencySamples is how many recent response times feed p50 and p99.
	latencySamples = 512
)

// Transition is one change of a target's health state.
type Transition struct {
	Time        time.Time
	From, To    State
	Reason      string
	Description string
}

// LastError is a target's most recent failed attempt.
type LastError struct {
	Time   time.Time
	Type   failure.ErrorType
	Reused bool
	Detail string
}

// Window holds counts over the last 1, 5 and 15 minutes, as sliding
// windows estimated from 1-minute buckets (the oldest bucket is weighted
// by how much of it lies inside the window).
type Window struct {
	M1, M5, M15 int64
}

// minute is one minute's counts, keyed by Unix minute: a response touches
// its first 16 bytes. A minute's count of one kind stays far below 2^32.
type minute struct {
	at        int64
	responses uint32
	status5xx uint32
	errors    [failure.NumTypes]uint32
}

// Stats are a target's traffic and health-check counters, for the admin
// API, HAProxy-style stats and `fulcrum status`. Counters are cumulative
// since the target was registered (HAProxy's econ, eresp, wretr, wredis,
// chkfail, chkdown, downtime, hrsp_*); windows are 1/5/15-minute sliding
// sums in 1-minute buckets. All methods are safe for concurrent use and
// take the current time from the caller, so tests drive the clock.
//
// Layout: what every response writes (mu, the response counters, the
// byte counts) comes first in two adjacent cache lines; a response then
// writes one latency slot and its minute, and nothing else of the ~3.5
// KB. With 1,000 targets each request meets a cold target, so every line
// spared is a miss spared.
type Stats struct {
	mu        sync.Mutex
	responses int64    // also the next latency slot
	hrsp      [6]int64 // 1xx..5xx, other

	// bytesIn and bytesOut are atomic, outside mu: they are added once
	// per request on the hot path.
	bytesIn, bytesOut atomic.Int64

	// latency holds the last latencySamples response times in
	// microseconds, slot responses%latencySamples next.
	latency [latencySamples]uint32
	minutes [windowMinutes + 1]minute

	connErrors   int64
	respErrors   int64
	retries      int64
	redispatches int64
	checkFails   int64
	checkDowns   int64
	downSince    time.Time
	downtime     time.Duration
	lastChange   time.Time
	lastCheck    CheckOutcome
	lastErr      LastError

	// transitions grows to MaxTransitions, then nTrans%MaxTransitions is
	// the oldest: most targets change health a few times.
	transitions []Transition
	nTrans      int
}

// CheckOutcome is the last health check's result, for HAProxy's
// check_status column.
type CheckOutcome struct {
	Done    bool
	OK      bool
	Class   failure.Class
	Status  int
	Latency time.Duration
	Detail  string
}

// StatsSnapshot is a consistent copy of Stats.
type StatsSnapshot struct {
	// Transitions are the most recent health changes, newest first.
	Transitions []Transition
	// Responses counts attempts that got a response header; Status5xx of
	// them had a 5xx status; both over 1/5/15 minutes.
	Responses, Status5xx Window
	// Errors counts failed attempts per error type over 1/5/15 minutes;
	// types with no failure are absent.
	Errors map[failure.ErrorType]Window
	// LastError is the most recent failed attempt; zero Time if none.
	LastError LastError
	// P50 and P99 are over the last 512 response times (time to response
	// header); zero when there are none.
	P50, P99 time.Duration

	// Cumulative counters, named after HAProxy's show stat columns.
	TotalResponses int64
	HRSP           [6]int64 // hrsp_1xx .. hrsp_5xx, hrsp_other
	ConnErrors     int64    // econ: failures in dns, connect or tls
	RespErrors     int64    // eresp: failures after the request was sent
	Retries        int64    // wretr: retries after a failure on this target
	Redispatches   int64    // wredis: retries that moved to another target
	CheckFails     int64    // chkfail: failed checks while healthy
	CheckDowns     int64    // chkdown: transitions into unhealthy
	Downtime       time.Duration
	LastChange     time.Time
	LastCheck      CheckOutcome
	// BytesIn and BytesOut are bin and bout: bytes of the requests this
	// target answered, as received from clients, and of the responses
	// sent back to clients (ALB's received_bytes and sent_bytes).
	BytesIn, BytesOut int64
}

func (s *Stats) bucket(now time.Time) *minute {
	at := now.Unix() / 60
	b := &s.minutes[at%int64(len(s.minutes))]
	if b.at != at {
		*b = minute{at: at}
	}
	return b
}

// ObserveResponse counts an attempt that got a response header with the
// given status after d.
func (s *Stats) ObserveResponse(now time.Time, status int, d time.Duration) {
	s.mu.Lock()
	b := s.bucket(now)
	b.responses++
	class := status/100 - 1
	if class < 0 || class > 4 {
		class = 5
	}
	s.hrsp[class]++
	if class == 4 {
		b.status5xx++
	}
	s.latency[s.responses%latencySamples] = uint32(min(max(d, 0)/time.Microsecond, math.MaxUint32))
	s.responses++
	s.mu.Unlock()
}

// ObserveBytes adds one answered request's sizes in bytes: in as received
// from the client (request line, headers, body), out as sent to the client
// (status line, headers, body). Negative sizes count as 0.
func (s *Stats) ObserveBytes(in, out int64) {
	s.bytesIn.Add(max(in, 0))
	s.bytesOut.Add(max(out, 0))
}

// ObserveError counts a failed attempt. A failure that is not the target's
// (failure.Class.TargetFault: a client that went away, the load balancer's
// own answers) is not counted.
func (s *Stats) ObserveError(now time.Time, c failure.Class, detail string) {
	if !c.TargetFault() {
		return
	}
	s.mu.Lock()
	s.bucket(now).errors[c.Type]++
	if c.BeforeRequest() {
		s.connErrors++
	} else {
		s.respErrors++
	}
	if !now.Before(s.lastErr.Time) {
		s.lastErr = LastError{Time: now, Type: c.Type, Reused: c.Reused, Detail: detail}
	}
	s.mu.Unlock()
}

// ObserveRetry counts a retry after a failure on this target; moved is
// true when the retry went to another target (a redispatch).
func (s *Stats) ObserveRetry(moved bool) {
	s.mu.Lock()
	s.retries++
	if moved {
		s.redispatches++
	}
	s.mu.Unlock()
}

// ObserveCheck records a health check's outcome. A failed check counts in
// chkfail only while the target is healthy, as HAProxy counts it.
func (s *Stats) ObserveCheck(o CheckOutcome, healthy bool) {
	o.Done = true
	s.mu.Lock()
	if !o.OK && healthy {
		s.checkFails++
	}
	s.lastCheck = o
	s.mu.Unlock()
}

// LastCheck returns the last health check's outcome; Done is false before
// the first.
func (s *Stats) LastCheck() CheckOutcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastCheck
}

// observeTransition records a change of state from one health to the next.
func (s *Stats) observeTransition(from, to Health) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tr := Transition{Time: to.Since, From: from.State, To: to.State, Reason: to.Reason, Description: to.Description}
	if len(s.transitions) < MaxTransitions {
		s.transitions = append(s.transitions, tr)
	} else {
		s.transitions[s.nTrans%MaxTransitions] = tr
	}
	s.nTrans++
	s.lastChange = to.Since
	if to.State == StateUnhealthy {
		s.checkDowns++
		s.downSince = to.Since
	} else if from.State == StateUnhealthy && !s.downSince.IsZero() {
		s.downtime += to.Since.Sub(s.downSince)
		s.downSince = time.Time{}
	}
}

// Snapshot returns a copy of the stats as of now.
func (s *Stats) Snapshot(now time.Time) StatsSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := StatsSnapshot{
		LastError:      s.lastErr,
		TotalResponses: s.responses,
		HRSP:           s.hrsp,
		ConnErrors:     s.connErrors,
		RespErrors:     s.respErrors,
		Retries:        s.retries,
		Redispatches:   s.redispatches,
		CheckFails:     s.checkFails,
		CheckDowns:     s.checkDowns,
		Downtime:       s.downtime,
		LastChange:     s.lastChange,
		LastCheck:      s.lastCheck,
		BytesIn:        s.bytesIn.Load(),
		BytesOut:       s.bytesOut.Load(),
	}
	if !s.downSince.IsZero() {
		snap.Downtime += now.Sub(s.downSince)
	}
	for i := s.nTrans - 1; i >= 0 && i >= s.nTrans-MaxTransitions; i-- {
		snap.Transitions = append(snap.Transitions, s.transitions[i%MaxTransitions])
	}
	// Sliding windows from 1-minute buckets: a window of n minutes sums
	// the current bucket, the n-1 before it, and the share of the bucket
	// before those that still lies inside the window.
	cur := now.Unix() / 60
	elapsed := float64(now.UnixNano()%int64(time.Minute)) / float64(time.Minute)
	var acc struct {
		responses, status5xx [3]float64
		errors               [failure.NumTypes][3]float64
	}
	spans := [3]int64{1, 5, 15}
	for i := range s.minutes {
		b := &s.minutes[i]
		age := cur - b.at
		for w, span := range spans {
			f := 0.0
			switch {
			case age >= 0 && age < span:
				f = 1
			case age == span:
				f = 1 - elapsed
			}
			if f == 0 {
				continue
			}
			acc.responses[w] += f * float64(b.responses)
			acc.status5xx[w] += f * float64(b.status5xx)
			for t, n := range b.errors {
				acc.errors[t][w] += f * float64(n)
			}
		}
	}
	round := func(v [3]float64) Window {
		return Window{int64(math.Round(v[0])), int64(math.Round(v[1])), int64(math.Round(v[2]))}
	}
	snap.Responses, snap.Status5xx = round(acc.responses), round(acc.status5xx)
	for t, v := range acc.errors {
		if w := round(v); w != (Window{}) {
			if snap.Errors == nil {
				snap.Errors = map[failure.ErrorType]Window{}
			}
			snap.Errors[failure.ErrorType(t)] = w
		}
	}
	n := int(min(s.responses, latencySamples))
	if n > 0 {
		lat := slices.Clone(s.latency[:n])
		slices.Sort(lat)
		snap.P50 = time.Duration(lat[(n-1)*50/100]) * time.Microsecond
		snap.P99 = time.Duration(lat[(n-1)*99/100]) * time.Microsecond
	}
	return snap
}
