package doctor

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/charmbracelet/lipgloss"
)

// WriteJSON writes {"findings": [...], "probes": [...], "live": bool}.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the findings grouped by target group, worst first,
// coloured when re is a terminal renderer.
func (r *Report) WriteText(w io.Writer, re *lipgloss.Renderer) error {
	var b strings.Builder
	style := map[Severity]lipgloss.Style{
		SeverityError:   re.NewStyle().Foreground(lipgloss.Color("1")).Bold(true),
		SeverityWarning: re.NewStyle().Foreground(lipgloss.Color("3")),
		SeverityInfo:    re.NewStyle().Faint(true),
	}
	if len(r.Findings) == 0 {
		b.WriteString("No findings: every listener and target answered as configured.\n")
	}
	group := "\x00"
	for _, f := range r.groupedFindings() {
		if f.TargetGroup != group {
			group = f.TargetGroup
			name := group
			if name == "" {
				name = "listeners"
			}
			fmt.Fprintf(&b, "\n%s\n", re.NewStyle().Bold(true).Render(name))
		}
		where := f.Target
		if where == "" {
			where = f.TargetGroup
		}
		fmt.Fprintf(&b, "  %s %s  %s\n", style[f.Severity].Render(strings.ToUpper(string(f.Severity))), f.ID, where)
		fmt.Fprintf(&b, "    %s\n    evidence: %s\n    fix: %s\n", f.Summary, f.Evidence, f.Fix)
	}
	fmt.Fprintf(&b, "\n%d error(s), %d finding(s), %d probe(s)", r.Errors(), len(r.Findings), len(r.Probes))
	if r.Live {
		b.WriteString(", live data from the admin API")
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMarkdown writes a report to paste into an incident ticket.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "## fulcrum doctor: %d error(s), %d finding(s)\n\n", r.Errors(), len(r.Findings))
	if len(r.Findings) > 0 {
		b.WriteString("| severity | finding | target group | target | evidence | fix |\n|---|---|---|---|---|---|\n")
		for _, f := range r.groupedFindings() {
			fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s | %s |\n", f.Severity, f.ID, cell(f.TargetGroup), cell(f.Target), cell(f.Evidence), cell(f.Fix))
		}
	}
	b.WriteString("\n<details><summary>Probes</summary>\n\n| kind | target group | target | address | outcome | ms | detail |\n|---|---|---|---|---|---|---|\n")
	for _, p := range r.Probes {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %.1f | %s |\n", p.Kind, cell(p.TargetGroup), cell(p.Target), p.Address, p.Outcome, p.Millis, cell(p.Detail))
	}
	b.WriteString("\n</details>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// groupedFindings orders findings by group, keeping severity order within
// each group and putting the group with the worst finding first.
func (r *Report) groupedFindings() []Finding {
	var order []string
	by := map[string][]Finding{}
	for _, f := range r.Findings {
		if _, ok := by[f.TargetGroup]; !ok {
			order = append(order, f.TargetGroup)
		}
		by[f.TargetGroup] = append(by[f.TargetGroup], f)
	}
	var out []Finding
	for _, g := range order {
		out = append(out, by[g]...)
	}
	return out
}
