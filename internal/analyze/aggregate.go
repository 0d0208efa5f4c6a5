package analyze

import (
	"math"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/logparse"
)

// maxExamples is how many example lines each cause keeps.
const maxExamples = 5

// Example points at one log line.
type Example struct {
	Path string `json:"path"`
	Line int64  `json:"line"`
	// target is the line's target, so examples follow a cause moved
	// from one target to another.
	target string
}

// causeAgg counts one cause and keeps its most common signature and a few
// examples.
type causeAgg struct {
	count      int64
	signatures map[string]int64
	examples   []Example
}

// latencyHist is a log-scale histogram of durations from 10 µs to about
// 3 h at ~5 % resolution: constant memory, mergeable, good for p50/p99.
type latencyHist struct {
	counts [400]int64
	n      int64
}

const histBase = 1.05

func histIndex(d time.Duration) int {
	us := float64(d) / float64(time.Microsecond)
	if us < 10 {
		return 0
	}
	i := int(math.Log(us/10)/math.Log(histBase)) + 1
	return min(i, 399)
}

func (h *latencyHist) add(d time.Duration) {
	h.counts[histIndex(d)]++
	h.n++
}

func (h *latencyHist) merge(o *latencyHist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
}

// quantile returns the q-quantile in milliseconds (bucket upper bound).
func (h *latencyHist) quantile(q float64) float64 {
	if h.n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(h.n)))
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			if i == 0 {
				return 0.01
			}
			return 10 * math.Pow(histBase, float64(i)) / 1000
		}
	}
	return 0
}

// targetAgg is one target's traffic.
type targetAgg struct {
	requests   int64
	answered   int64 // requests the target answered with a non-5xx
	errors     map[string]int64
	latency    latencyHist
	hasLatency bool
}

// bucket is one minute of the timeline.
type bucket struct {
	requests, lb5xx, target5xx int64
}

// agg accumulates entries; one per file, merged at the end.
type agg struct {
	requests         int64
	status           [5]int64 // 1xx..5xx
	lb5xx, target5xx int64
	causes           map[string]*causeAgg
	targets          map[string]*targetAgg
	timeline         map[int64]*bucket
	// unplaced counts requests without a time (or with a partial one, no
	// year or no date): counted for causes, not on the timeline.
	unplaced int64
	// desync counts ALB's desync classifications: tier, then reason.
	desync map[string]map[string]int64
	// nginxAccess and nginxError are the nginx lines joinNginx pairs.
	nginxAccess, nginxError []joinLine
}

func newAgg() *agg {
	return &agg{causes: map[string]*causeAgg{}, targets: map[string]*targetAgg{}, timeline: map[int64]*bucket{}}
}

func (a *agg) target(name string) *targetAgg {
	t := a.targets[name]
	if t == nil {
		t = &targetAgg{errors: map[string]int64{}}
		a.targets[name] = t
	}
	return t
}

// add counts one entry read from path at line.
func (a *agg) add(e *logparse.Entry, path string, line int64) {
	if e.Cause != "" && !e.Excluded {
		c := a.causes[e.Cause]
		if c == nil {
			c = &causeAgg{signatures: map[string]int64{}}
			a.causes[e.Cause] = c
		}
		c.count++
		if len(c.signatures) < 64 || c.signatures[e.Signature] > 0 {
			c.signatures[e.Signature]++
		}
		if len(c.examples) < maxExamples {
			c.examples = append(c.examples, Example{Path: path, Line: line, target: e.Target})
		}
		if e.Target != "" {
			a.target(e.Target).errors[e.Cause]++
		}
	}
	if e.Kind != logparse.Request {
		return
	}
	if e.Classification != "" {
		a.addDesync(e.Classification, e.ClassificationReason, 1)
	}
	a.requests++
	if e.Status >= 100 && e.Status < 600 {
		a.status[e.Status/100-1]++
	}
	// lb_5xx and target_5xx follow ALB's HTTPCode_ELB_5XX_Count and
	// HTTPCode_Target_5XX_Count (ALB user guide, "CloudWatch metrics for
	// your Application Load Balancer"): every 5xx the load balancer
	// generated counts, a fixed-response 503 included, even though an
	// Excluded line is never a cause of failure.
	lb := e.Status >= 500 && (e.LBError || e.TargetStatus != e.Status)
	tg := e.Status >= 500 && !lb
	if lb {
		a.lb5xx++
	}
	if tg {
		a.target5xx++
	}
	if e.Time.IsZero() || e.Time.Year() <= 0 {
		a.unplaced++
	} else {
		m := e.Time.Unix() / 60
		b := a.timeline[m]
		if b == nil {
			b = &bucket{}
			a.timeline[m] = b
		}
		b.requests++
		if lb {
			b.lb5xx++
		}
		if tg {
			b.target5xx++
		}
	}
	if e.Target != "" {
		t := a.target(e.Target)
		t.requests++
		if e.TargetStatus > 0 && e.TargetStatus < 500 {
			t.answered++
		}
		if e.TargetTime >= 0 {
			t.latency.add(e.TargetTime)
			t.hasLatency = true
		}
	}
}

// addDesync counts n requests of a desync tier and reason.
func (a *agg) addDesync(tier, reason string, n int64) {
	if a.desync == nil {
		a.desync = map[string]map[string]int64{}
	}
	if a.desync[tier] == nil {
		a.desync[tier] = map[string]int64{}
	}
	a.desync[tier][reason] += n
}

// merge adds o into a.
func (a *agg) merge(o *agg) {
	a.requests += o.requests
	for i := range a.status {
		a.status[i] += o.status[i]
	}
	a.lb5xx += o.lb5xx
	a.target5xx += o.target5xx
	a.unplaced += o.unplaced
	for tier, m := range o.desync {
		for reason, n := range m {
			a.addDesync(tier, reason, n)
		}
	}
	for id, oc := range o.causes {
		c := a.causes[id]
		if c == nil {
			// A copy: reports rework merged counts (the keep-alive
			// demotion, the nginx join), and --follow merges the same
			// aggregates again and again.
			c = &causeAgg{signatures: map[string]int64{}}
			a.causes[id] = c
		}
		c.count += oc.count
		for s, n := range oc.signatures {
			c.signatures[s] += n
		}
		for _, ex := range oc.examples {
			if len(c.examples) < maxExamples {
				c.examples = append(c.examples, ex)
			}
		}
	}
	for name, ot := range o.targets {
		t := a.target(name)
		t.requests += ot.requests
		t.answered += ot.answered
		for c, n := range ot.errors {
			t.errors[c] += n
		}
		t.latency.merge(&ot.latency)
		t.hasLatency = t.hasLatency || ot.hasLatency
	}
	a.nginxAccess = append(a.nginxAccess, o.nginxAccess...)
	a.nginxError = append(a.nginxError, o.nginxError...)
	for m, ob := range o.timeline {
		b := a.timeline[m]
		if b == nil {
			b = &bucket{}
			a.timeline[m] = b
		}
		b.requests += ob.requests
		b.lb5xx += ob.lb5xx
		b.target5xx += ob.target5xx
	}
}

// demoteKeepaliveRaces moves keep-alive race counts of targets that never
// answered to target-closed-connection: a target that closes every
// connection is dying, not racing its keep-alive timeout.
func (a *agg) demoteKeepaliveRaces() {
	race := a.causes[failure.CauseKeepaliveRace]
	if race == nil {
		return
	}
	for name, t := range a.targets {
		n := t.errors[failure.CauseKeepaliveRace]
		if n == 0 || t.requests == 0 || t.answered > 0 {
			continue
		}
		delete(t.errors, failure.CauseKeepaliveRace)
		t.errors[failure.CauseTargetClosed] += n
		race.count -= n
		closed := a.causes[failure.CauseTargetClosed]
		if closed == nil {
			closed = &causeAgg{signatures: map[string]int64{}}
			a.causes[failure.CauseTargetClosed] = closed
		}
		closed.count += n
		closed.signatures["target closed connections under requests and never answered one"] += n
		kept := race.examples[:0]
		for _, ex := range race.examples {
			if ex.target == name {
				if len(closed.examples) < maxExamples {
					closed.examples = append(closed.examples, ex)
				}
				continue
			}
			kept = append(kept, ex)
		}
		race.examples = kept
	}
	if race.count <= 0 {
		delete(a.causes, failure.CauseKeepaliveRace)
	}
}
