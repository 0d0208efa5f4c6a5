package analyze

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/failure"
)

// Report is the result of an analysis; its JSON is the contract in
// docs/analyze.md.
type Report struct {
	Inputs    []Input        `json:"inputs"`
	Requests  int64          `json:"requests"`
	Status    StatusClasses  `json:"status"`
	LB5xx     int64          `json:"lb_5xx"`
	Target5xx int64          `json:"target_5xx"`
	Causes    []CauseReport  `json:"causes"`
	Targets   []TargetReport `json:"targets"`
	Timeline  []Bucket       `json:"timeline"`
	// Unplaced counts the requests the timeline could not place: lines
	// without a time, or with a partial one (an RFC 3164 stamp has no
	// year). They still count everywhere else.
	Unplaced int64 `json:"timeline_unplaced"`
	// Desync counts the requests ALB classified as not compliant with
	// RFC 7230 (access log fields 28-29), by tier ("Acceptable",
	// "Ambiguous", "Severe") and then reason; absent when none were.
	Desync map[string]map[string]int64 `json:"desync,omitempty"`
}

// StatusClasses counts requests by status class.
type StatusClasses struct {
	C1xx int64 `json:"1xx"`
	C2xx int64 `json:"2xx"`
	C3xx int64 `json:"3xx"`
	C4xx int64 `json:"4xx"`
	C5xx int64 `json:"5xx"`
}

// CauseReport is one ranked cause.
type CauseReport struct {
	ID string `json:"id"`
	// Side is target, lb or client.
	Side  string  `json:"side"`
	Count int64   `json:"count"`
	Share float64 `json:"share"`
	// Signature is the most frequent log signature that named the cause.
	Signature string    `json:"signature"`
	Summary   string    `json:"summary"`
	Examples  []Example `json:"examples"`
	Fix       string    `json:"fix"`
	// Correlation and Buckets are set for target-overloaded: the Pearson
	// coefficient between requests and the LB error rate per minute, and
	// the minutes with the most errors.
	Correlation float64     `json:"correlation,omitempty"`
	Buckets     []time.Time `json:"buckets,omitempty"`
}

// TargetReport is one target's traffic and errors.
type TargetReport struct {
	Target   string           `json:"target"`
	Requests int64            `json:"requests"`
	Errors   map[string]int64 `json:"errors"`
	P50ms    float64          `json:"p50_ms"`
	P99ms    float64          `json:"p99_ms"`
}

// Bucket is one minute of the timeline.
type Bucket struct {
	Start     time.Time `json:"start"`
	Requests  int64     `json:"requests"`
	LB5xx     int64     `json:"lb_5xx"`
	Target5xx int64     `json:"target_5xx"`
}

// minOverloadBuckets is the fewest minutes with traffic the overload
// correlation needs; minOverloadR the coefficient that names it.
const (
	minOverloadBuckets = 5
	minOverloadR       = 0.7
)

func buildReport(inputs []Input, a *agg) *Report {
	a.demoteKeepaliveRaces()
	r := &Report{Inputs: inputs, Requests: a.requests, LB5xx: a.lb5xx, Target5xx: a.target5xx, Unplaced: a.unplaced, Desync: a.desync,
		Causes: []CauseReport{}, Targets: []TargetReport{}, Timeline: []Bucket{}}
	r.Status = StatusClasses{a.status[0], a.status[1], a.status[2], a.status[3], a.status[4]}

	minutes := make([]int64, 0, len(a.timeline))
	for m := range a.timeline {
		minutes = append(minutes, m)
	}
	sort.Slice(minutes, func(i, j int) bool { return minutes[i] < minutes[j] })
	for _, m := range minutes {
		b := a.timeline[m]
		r.Timeline = append(r.Timeline, Bucket{Start: time.Unix(m*60, 0).UTC(), Requests: b.requests, LB5xx: b.lb5xx, Target5xx: b.target5xx})
	}

	var total int64
	for _, c := range a.causes {
		total += c.count
	}
	for id, c := range a.causes {
		cr := CauseReport{ID: id, Count: c.count, Signature: topSignature(c.signatures), Examples: c.examples}
		if cr.Examples == nil {
			cr.Examples = []Example{}
		}
		if total > 0 {
			cr.Share = float64(c.count) / float64(total)
		}
		describe(&cr)
		r.Causes = append(r.Causes, cr)
	}
	if o, ok := overload(r.Timeline); ok {
		describe(&o)
		if total > 0 {
			o.Share = min(1, float64(o.Count)/float64(total))
		}
		r.Causes = append(r.Causes, o)
	}
	order := map[string]int{}
	for i, c := range append(failure.Catalogue(), failure.LogCauses()...) {
		order[c.ID] = i
	}
	sort.Slice(r.Causes, func(i, j int) bool {
		if r.Causes[i].Count != r.Causes[j].Count {
			return r.Causes[i].Count > r.Causes[j].Count
		}
		return order[r.Causes[i].ID] < order[r.Causes[j].ID]
	})

	for name, t := range a.targets {
		tr := TargetReport{Target: name, Requests: t.requests, Errors: t.errors}
		if t.hasLatency {
			tr.P50ms, tr.P99ms = t.latency.quantile(0.5), t.latency.quantile(0.99)
		}
		r.Targets = append(r.Targets, tr)
	}
	sort.Slice(r.Targets, func(i, j int) bool {
		ei, ej := errSum(r.Targets[i].Errors), errSum(r.Targets[j].Errors)
		if ei != ej {
			return ei > ej
		}
		if r.Targets[i].Requests != r.Targets[j].Requests {
			return r.Targets[i].Requests > r.Targets[j].Requests
		}
		return r.Targets[i].Target < r.Targets[j].Target
	})
	return r
}

func errSum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// describe fills a cause's side, summary and fix from the catalogue.
func describe(c *CauseReport) {
	if e, ok := failure.LookupLogCause(c.ID); ok {
		c.Side, c.Summary, c.Fix = e.Side, e.Summary, e.Fix
	}
}

// topSignature is the most frequent signature; ties go to the first in
// sort order, so reports are stable.
func topSignature(m map[string]int64) string {
	type sig struct {
		s string
		n int64
	}
	all := make([]sig, 0, len(m))
	for s, n := range m {
		all = append(all, sig{s, n})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].n != all[j].n {
			return all[i].n > all[j].n
		}
		return all[i].s < all[j].s
	})
	switch len(all) {
	case 0:
		return ""
	case 1:
		return all[0].s
	}
	// Several signatures (502s beside 500s, say): name the most frequent
	// three with their counts, so the report says which it saw.
	parts := make([]string, 0, 4)
	for i, g := range all {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("%d more", len(all)-3))
			break
		}
		parts = append(parts, fmt.Sprintf("%s (%d)", g.s, g.n))
	}
	return strings.Join(parts, "; ")
}

// overload looks for load-balancer errors that rise with the request rate
// across 1-minute buckets: the Pearson correlation between requests and
// the LB 5xx rate. It names target-overloaded when the coefficient
// reaches minOverloadR over at least minOverloadBuckets minutes with
// errors in some of them.
func overload(tl []Bucket) (CauseReport, bool) {
	var xs, ys []float64
	var errs int64
	for _, b := range tl {
		if b.Requests == 0 {
			continue
		}
		xs = append(xs, float64(b.Requests))
		ys = append(ys, float64(b.LB5xx)/float64(b.Requests))
		errs += b.LB5xx
	}
	if len(xs) < minOverloadBuckets || errs == 0 {
		return CauseReport{}, false
	}
	r := pearson(xs, ys)
	if math.IsNaN(r) || r < minOverloadR {
		return CauseReport{}, false
	}
	// The busiest minutes with errors are the evidence.
	worst := make([]Bucket, 0, len(tl))
	for _, b := range tl {
		if b.LB5xx > 0 {
			worst = append(worst, b)
		}
	}
	sort.Slice(worst, func(i, j int) bool { return worst[i].Requests > worst[j].Requests })
	c := CauseReport{ID: failure.CauseTargetOverloaded, Count: errs, Correlation: math.Round(r*1000) / 1000, Examples: []Example{},
		Signature: fmt.Sprintf("LB 5xx rate rises with request rate: r = %.2f over %d one-minute buckets", r, len(xs))}
	for _, b := range worst[:min(5, len(worst))] {
		c.Buckets = append(c.Buckets, b.Start)
	}
	return c, true
}

// pearson returns the correlation coefficient of xs and ys, NaN when
// either is constant.
func pearson(xs, ys []float64) float64 {
	n := float64(len(xs))
	var sx, sy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
	}
	mx, my := sx/n, sy/n
	var cov, vx, vy float64
	for i := range xs {
		dx, dy := xs[i]-mx, ys[i]-my
		cov += dx * dy
		vx += dx * dx
		vy += dy * dy
	}
	return cov / math.Sqrt(vx*vy)
}
