package analyze

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"
)

// WriteJSON writes the report as indented JSON (docs/analyze.md).
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes a terminal summary: inputs, totals, causes ranked with
// signature, examples and fix, then the targets with errors.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, in := range r.Inputs {
		fmt.Fprintf(&b, "%s: %s, %d lines, %d parsed, %d not parsed\n", in.Path, in.Format, in.Lines, in.Parsed, in.Unparsed)
		if len(in.Formats) > 1 {
			b.WriteString("  formats:" + countList(in.Formats) + "\n")
		}
		if len(in.Envelopes) > 0 {
			b.WriteString("  envelopes:" + countList(in.Envelopes) + "\n")
		}
		if in.Error != "" {
			fmt.Fprintf(&b, "  error: %s\n", in.Error)
		}
		for _, ex := range in.UnparsedExamples {
			fmt.Fprintf(&b, "  not parsed: %s\n", ex)
		}
	}
	fmt.Fprintf(&b, "\n%d requests: 2xx %d, 3xx %d, 4xx %d, 5xx %d (load balancer %d, targets %d)\n",
		r.Requests, r.Status.C2xx, r.Status.C3xx, r.Status.C4xx, r.Status.C5xx, r.LB5xx, r.Target5xx)
	if r.Unplaced > 0 {
		fmt.Fprintf(&b, "%d requests without a full time are not on the timeline\n", r.Unplaced)
	}
	if len(r.Desync) > 0 {
		b.WriteString("HTTP desync classifications (ALB):\n")
		for _, tier := range sortedKeys(r.Desync) {
			fmt.Fprintf(&b, "  %s:%s\n", tier, countList(r.Desync[tier]))
		}
	}
	if len(r.Causes) == 0 {
		b.WriteString("\nNo failures found.\n")
	} else {
		b.WriteString("\nCauses, most frequent first:\n")
	}
	for i, c := range r.Causes {
		fmt.Fprintf(&b, "\n%d. %s  %d (%.1f%%)  [%s side]\n", i+1, c.ID, c.Count, 100*c.Share, c.Side)
		if c.Summary != "" {
			fmt.Fprintf(&b, "   %s\n", c.Summary)
		}
		fmt.Fprintf(&b, "   signature: %s\n", c.Signature)
		if len(c.Buckets) > 0 {
			var ts []string
			for _, t := range c.Buckets {
				ts = append(ts, t.Format("2006-01-02T15:04Z"))
			}
			fmt.Fprintf(&b, "   busiest minutes with errors: %s\n", strings.Join(ts, ", "))
		}
		for _, ex := range c.Examples {
			fmt.Fprintf(&b, "   e.g. %s:%d\n", ex.Path, ex.Line)
		}
		if c.Fix != "" {
			fmt.Fprintf(&b, "   fix: %s\n", c.Fix)
		}
	}
	var bad []TargetReport
	for _, t := range r.Targets {
		if errSum(t.Errors) > 0 {
			bad = append(bad, t)
		}
	}
	if len(bad) > 0 {
		b.WriteString("\nTargets with errors:\n")
		fmt.Fprintf(&b, "  %-24s %9s %9s %9s  %s\n", "TARGET", "REQUESTS", "P50 MS", "P99 MS", "ERRORS")
		for _, t := range bad[:min(len(bad), 20)] {
			fmt.Fprintf(&b, "  %-24s %9d %9.1f %9.1f  %s\n", t.Target, t.Requests, t.P50ms, t.P99ms, errorList(t.Errors))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// countList writes " a 3, b 1" in name order.
func countList(m map[string]int64) string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, " %s %d", n, m[n])
	}
	return b.String()
}

func errorList(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// svgBar is one bar of a chart.
type svgBar struct {
	X, Y, W, H float64
	Class      string
	Title      string
}

// chartView is the timeline as stacked SVG bars.
type chartView struct {
	Width, Height float64
	Bars          []svgBar
	First, Last   string
	Max           int64
}

func timelineChart(tl []Bucket) chartView {
	cv := chartView{Width: 900, Height: 220}
	if len(tl) == 0 {
		return cv
	}
	for _, b := range tl {
		cv.Max = max(cv.Max, b.Requests)
	}
	if cv.Max == 0 {
		return cv
	}
	w := cv.Width / float64(len(tl))
	scale := (cv.Height - 20) / float64(cv.Max)
	for i, b := range tl {
		x := float64(i) * w
		ok := b.Requests - b.LB5xx - b.Target5xx
		y := cv.Height
		for _, part := range []struct {
			n     int64
			class string
		}{{ok, "ok"}, {b.Target5xx, "t5"}, {b.LB5xx, "lb5"}} {
			if part.n <= 0 {
				continue
			}
			h := float64(part.n) * scale
			y -= h
			cv.Bars = append(cv.Bars, svgBar{X: x, Y: y, W: max(w-0.5, 0.5), H: h, Class: part.class,
				Title: fmt.Sprintf("%s: %d requests, %d LB 5xx, %d target 5xx", b.Start.Format("2006-01-02 15:04Z"), b.Requests, b.LB5xx, b.Target5xx)})
		}
	}
	cv.First, cv.Last = tl[0].Start.Format("2006-01-02 15:04Z"), tl[len(tl)-1].Start.Format("2006-01-02 15:04Z")
	return cv
}

// htmlTemplate is the self-contained report: inline CSS and SVG, no
// script, nothing fetched.
const htmlTemplate = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>fulcrum analyze</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1000px}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4}.ok{fill:#8cc084}.t5{fill:#f0a04b}.lb5{fill:#d9534f}
.bar{display:inline-block;height:12px;background:#d9534f}.num{text-align:right}code{font-size:90%}
</style></head><body>
<h1>Which side failed, and why</h1>
<p id="totals">{{.R.Requests}} requests: 2xx {{.R.Status.C2xx}}, 3xx {{.R.Status.C3xx}}, 4xx {{.R.Status.C4xx}}, 5xx {{.R.Status.C5xx}} (load balancer {{.R.LB5xx}}, targets {{.R.Target5xx}})</p>
<h2>Requests per minute</h2>
{{if .Chart.Bars}}<svg id="timeline" xmlns="http://www.w3.org/2000/svg" width="{{.Chart.Width}}" height="{{.Chart.Height}}" viewBox="0 0 {{.Chart.Width}} {{.Chart.Height}}" role="img" aria-label="requests per minute">
{{range .Chart.Bars}}<rect class="{{.Class}}" x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}"><title>{{.Title}}</title></rect>
{{end}}<text x="2" y="12" font-size="11">max {{.Chart.Max}}/min</text></svg>
<p><small>{{.Chart.First}} — {{.Chart.Last}}. Green: answered; orange: target 5xx; red: load-balancer 5xx.</small></p>{{else}}<p>No timed requests.</p>{{end}}
{{if .R.Unplaced}}<p id="unplaced">{{.R.Unplaced}} requests without a full time are not on the timeline.</p>{{end}}
{{if .R.Desync}}<h2>HTTP desync classifications (ALB)</h2>
<table id="desync"><tr><th>tier</th><th>reasons</th></tr>
{{range $tier, $m := .R.Desync}}<tr><td>{{$tier}}</td><td>{{counts $m}}</td></tr>
{{end}}</table>{{end}}
<h2>Causes</h2>
{{if .R.Causes}}<table id="causes"><tr><th>cause</th><th>count</th><th>share</th><th>signature</th><th>examples</th><th>fix</th></tr>
{{range .R.Causes}}<tr><td><code>{{.ID}}</code><br><small>{{.Summary}}</small></td><td class="num">{{.Count}}</td>
<td><span class="bar" style="width:{{pct .Share}}px"></span> {{printf "%.1f" (mul100 .Share)}}%</td>
<td>{{.Signature}}</td><td>{{range .Examples}}<code>{{.Path}}:{{.Line}}</code><br>{{end}}</td><td>{{.Fix}}</td></tr>
{{end}}</table>{{else}}<p>No failures found.</p>{{end}}
<h2>Targets</h2>
<table id="targets"><tr><th>target</th><th>requests</th><th>p50 ms</th><th>p99 ms</th><th>errors</th></tr>
{{range .R.Targets}}<tr><td>{{.Target}}</td><td class="num">{{.Requests}}</td><td class="num">{{printf "%.1f" .P50ms}}</td><td class="num">{{printf "%.1f" .P99ms}}</td><td>{{errors .Errors}}</td></tr>
{{end}}</table>
<h2>Inputs</h2>
<table id="inputs"><tr><th>path</th><th>format</th><th>formats</th><th>envelopes</th><th>lines</th><th>parsed</th><th>not parsed</th></tr>
{{range .R.Inputs}}<tr><td>{{.Path}}</td><td>{{.Format}}</td><td>{{counts .Formats}}</td><td>{{counts .Envelopes}}</td><td class="num">{{.Lines}}</td><td class="num">{{.Parsed}}</td><td class="num">{{.Unparsed}}{{range .UnparsedExamples}}<br><small>{{.}}</small>{{end}}</td></tr>
{{end}}</table>
</body></html>
`

// WriteHTML writes one self-contained HTML file: inline CSS and SVG
// charts, no scripts or external assets, so it works offline.
func (r *Report) WriteHTML(w io.Writer) error {
	t, err := template.New("report").Funcs(template.FuncMap{
		"pct":    func(f float64) int { return int(f * 200) },
		"mul100": func(f float64) float64 { return 100 * f },
		"errors": errorList,
		"counts": countList,
	}).Parse(htmlTemplate)
	if err != nil {
		return err
	}
	return t.Execute(w, struct {
		R     *Report
		Chart chartView
	}{r, timelineChart(r.Timeline)})
}

// summaryWidth is the width of WriteSummary's view, the width of
// `fulcrum status`.
const summaryWidth = 80

// WriteSummary writes the report as `fulcrum analyze --follow` shows it
// on a terminal, in 80 columns: inputs (lines, parsed, not parsed), the
// totals, then up to 10 causes with count, share and side, and the most
// frequent signature of the first.
func (r *Report) WriteSummary(w io.Writer) error {
	var b strings.Builder
	line := func(s string) {
		if len([]rune(s)) > summaryWidth {
			s = string([]rune(s)[:summaryWidth-1]) + "…"
		}
		b.WriteString(s + "\n")
	}
	for _, in := range r.Inputs {
		line(fmt.Sprintf("%-40s %-14s %9d lines %7d not parsed", in.Path, in.Format, in.Lines, in.Unparsed))
	}
	line(fmt.Sprintf("%d requests: 2xx %d, 3xx %d, 4xx %d, 5xx %d (LB %d, targets %d)",
		r.Requests, r.Status.C2xx, r.Status.C3xx, r.Status.C4xx, r.Status.C5xx, r.LB5xx, r.Target5xx))
	if r.Unplaced > 0 {
		line(fmt.Sprintf("%d requests not on the timeline (no full time)", r.Unplaced))
	}
	if len(r.Causes) == 0 {
		line("No failures found.")
	} else {
		line(fmt.Sprintf("%-52s %9s %7s  %-7s", "CAUSE", "COUNT", "SHARE", "SIDE"))
		for _, c := range r.Causes[:min(len(r.Causes), 10)] {
			line(fmt.Sprintf("%-52s %9d %6.1f%%  %-7s", c.ID, c.Count, 100*c.Share, c.Side))
		}
		line("top signature: " + r.Causes[0].Signature)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSONLine writes the report as one line of JSON, for --follow's
// JSON lines.
func (r *Report) WriteJSONLine(w io.Writer) error {
	return json.NewEncoder(w).Encode(r)
}
