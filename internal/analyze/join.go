package analyze

import (
	"slices"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/logparse"
)

// maxJoin bounds how many nginx lines of each side one run keeps for the
// join: 24 bytes of times plus strings shared with the parser's output.
const maxJoin = 1 << 20

// joinLine is one nginx line kept for the access/error log join.
type joinLine struct {
	t           time.Time
	target, url string
	cause, sig  string
	path        string
	line        int64
	targetTime  time.Duration
	used        bool
	// countedAs is the target the access line was counted under, when
	// the join key is not the target (Caddy).
	countedAs string
}

// note keeps the nginx lines the join reads: the access log's 5xx that
// nginx answered itself (whatever cause its timings gave) and the error
// log's upstream errors, whose message says more.
func (a *agg) note(format string, e *logparse.Entry, path string, line int64) {
	switch {
	case (format == "nginx-access" || format == "nginx-log-format") && e.LBError && e.Target != "" && e.Cause != "":
		if len(a.nginxAccess) < maxJoin {
			a.nginxAccess = append(a.nginxAccess, joinLine{t: e.Time, target: e.Target, url: e.URL, cause: e.Cause,
				sig: e.Signature, path: path, line: line, targetTime: e.TargetTime, countedAs: e.Target})
		}
	case format == "nginx-error" && e.Kind == logparse.Event && e.Cause != "" && e.Target != "":
		if len(a.nginxError) < maxJoin {
			a.nginxError = append(a.nginxError, joinLine{t: e.Time, target: e.Target, url: e.URL, cause: e.Cause})
		}
	// Traefik's access lines of its own 502s and its debug lines
	// "'502 Bad Gateway' caused by: dial tcp ADDR: …" share the service
	// address.
	case (format == "traefik-clf" || format == "traefik-json") && e.LBError && e.Cause == failure.CauseLBError && e.Target != "":
		if len(a.nginxAccess) < maxJoin {
			a.nginxAccess = append(a.nginxAccess, joinLine{t: e.Time, target: e.Target, cause: e.Cause,
				sig: e.Signature, path: path, line: line, countedAs: e.Target})
		}
	case format == "traefik-log" && e.Kind == logparse.Event && e.Cause != "" && e.Target != "":
		if len(a.nginxError) < maxJoin {
			a.nginxError = append(a.nginxError, joinLine{t: e.Time, target: e.Target, cause: e.Cause})
		}
	// Caddy's access and error lines of one request share the client's
	// address and port: that is their key.
	case format == "caddy" && e.Kind == logparse.Request && e.LBError && e.Cause != "" && e.Client != "":
		if len(a.nginxAccess) < maxJoin {
			a.nginxAccess = append(a.nginxAccess, joinLine{t: e.Time, target: "caddy|" + e.Client, url: e.URL, cause: e.Cause,
				sig: e.Signature, path: path, line: line, targetTime: e.TargetTime, countedAs: e.Target})
		}
	case format == "caddy" && e.Kind == logparse.Event && e.Cause != "" && e.Client != "" && e.URL != "":
		if len(a.nginxError) < maxJoin {
			a.nginxError = append(a.nginxError, joinLine{t: e.Time, target: "caddy|" + e.Client, url: e.URL, cause: e.Cause})
		}
	}
}

// joinNginx gives each nginx access log 5xx that nginx itself answered
// the cause of the error log line for the same upstream and request at
// the same time, and drops the access line's own count, so each failed
// request counts once, under the error log's cause (nginx writes the
// upstream error to the error log and the status to the access log; the
// access log alone cannot say why, ngx_http_upstream_module,
// $upstream_status). The error log's times carry no zone (local time,
// ngx_log.c); the access log's do, so the offset is the multiple of 15
// minutes that lines up the most pairs, zero on a tie.
func (a *agg) joinNginx() {
	if len(a.nginxAccess) == 0 || len(a.nginxError) == 0 {
		return
	}
	byTarget := map[string][]int{}
	for i, l := range a.nginxError {
		byTarget[l.target] = append(byTarget[l.target], i)
	}
	for _, idx := range byTarget {
		slices.SortStableFunc(idx, func(x, y int) int { return a.nginxError[x].t.Compare(a.nginxError[y].t) })
	}
	best, bestN := time.Duration(0), a.match(byTarget, 0, false)
	for q := -14 * 4; q <= 14*4; q++ {
		off := time.Duration(q) * 15 * time.Minute
		if off == 0 {
			continue
		}
		if n := a.match(byTarget, off, false); n > bestN || (n == bestN && n > 0 && absDur(off) < absDur(best)) {
			best, bestN = off, n
		}
	}
	if bestN > 0 {
		a.match(byTarget, best, true)
	}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// match pairs access lines with unused error lines of the same target and
// URL logged from the request's start (its end less the upstream time,
// nginx's $time_local being the end) minus a second to a second after its
// end, access time plus off against the error log's clock. It returns the
// pairs; apply moves the counts.
func (a *agg) match(byTarget map[string][]int, off time.Duration, apply bool) int {
	for i := range a.nginxError {
		a.nginxError[i].used = false
	}
	n := 0
	for ai := range a.nginxAccess {
		acc := &a.nginxAccess[ai]
		idx := byTarget[acc.target]
		if len(idx) == 0 {
			continue
		}
		end := acc.t.Add(off)
		from := end.Add(-time.Second - max(acc.targetTime, 0))
		to := end.Add(time.Second)
		k, _ := slices.BinarySearchFunc(idx, from, func(x int, t time.Time) int { return a.nginxError[x].t.Compare(t) })
		for ; k < len(idx); k++ {
			el := &a.nginxError[idx[k]]
			if el.t.After(to) {
				break
			}
			if el.used || (acc.url != "" && el.url != "" && acc.url != el.url) {
				continue
			}
			el.used = true
			n++
			if apply {
				a.uncount(acc)
			}
			break
		}
	}
	return n
}

// uncount removes an access line's own cause count: the error log line it
// joined already counts the failure, under its cause.
func (a *agg) uncount(acc *joinLine) {
	c := a.causes[acc.cause]
	if c == nil || c.count == 0 {
		return
	}
	c.count--
	if c.signatures[acc.sig] > 0 {
		c.signatures[acc.sig]--
		if c.signatures[acc.sig] == 0 {
			delete(c.signatures, acc.sig)
		}
	}
	c.examples = slices.DeleteFunc(c.examples, func(ex Example) bool { return ex.Path == acc.path && ex.Line == acc.line })
	if c.count == 0 {
		delete(a.causes, acc.cause)
	}
	if t := a.targets[acc.countedAs]; t != nil && t.errors[acc.cause] > 0 {
		t.errors[acc.cause]--
		if t.errors[acc.cause] == 0 {
			delete(t.errors, acc.cause)
		}
	}
}
