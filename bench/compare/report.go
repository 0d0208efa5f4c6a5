package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// info describes the machine and the run, for the report header.
type info struct {
	Date     string   `json:"date"`
	CPU      string   `json:"cpu"`
	CPUs     int      `json:"cpus"`
	Kernel   string   `json:"kernel"`
	Versions []string `json:"versions"`
	Command  string   `json:"command"`
	Reps     int      `json:"reps"`
	Duration string   `json:"duration"`
}

func machineInfo(o options) info {
	in := info{Date: time.Now().UTC().Format(time.RFC3339), CPUs: runtime.NumCPU(), Reps: o.reps, Duration: o.duration.String(),
		Command: strings.Join(os.Args, " ")}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				in.CPU = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		in.Kernel = strings.TrimSpace(string(b))
	}
	for _, c := range [][]string{{"haproxy", "-v"}, {"nginx", "-v"}, {"caddy", "version"}, {"wrk", "-v"}, {abs(o.fulcrum), "version"}} {
		out, _ := exec.Command(c[0], c[1:]...).CombinedOutput()
		first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		in.Versions = append(in.Versions, first)
	}
	if o.baseline != "" {
		out, _ := exec.Command(abs(o.baseline), "version").CombinedOutput()
		first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		in.Versions = append(in.Versions, "fulcrum-base: "+first)
	}
	if slices.ContainsFunc(o.systems, isEdge) {
		out, _ := exec.Command(abs(o.edge), "version").CombinedOutput()
		_, providers, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		in.Versions = append(in.Versions, "fulcrum-edge: "+providers)
	}
	in.Versions = append(in.Versions, runtime.Version())
	return in
}

func (in info) summary() string {
	return fmt.Sprintf("%s, %d CPUs (%s), kernel %s\n%s", in.Date, in.CPUs, in.CPU, in.Kernel, strings.Join(in.Versions, "\n"))
}

// row is the summary of one system in one scenario over the repetitions.
type row struct {
	Scenario  string  `json:"scenario"`
	System    string  `json:"system"`
	Runs      int     `json:"runs"`
	RPSMedian float64 `json:"rps_median"`
	RPSMin    float64 `json:"rps_min"`
	RPSMax    float64 `json:"rps_max"`
	P50ms     float64 `json:"p50_ms_median"`
	P99ms     float64 `json:"p99_ms_median"`
	CPUus     float64 `json:"cpu_us_per_request_median"`
	RSSMB     float64 `json:"peak_rss_mb_max"`
	Errors    int64   `json:"errors"`
	VsHAProxy float64 `json:"x_haproxy,omitempty"`
	VsDirect  float64 `json:"x_direct,omitempty"`
	// CPUVsBase is the row's CPU µs per request over fulcrum-base's in
	// the same scenario (the baseline build, -baseline): below 1 is
	// cheaper. Only fulcrum rows carry it.
	CPUVsBase  float64 `json:"cpu_x_fulcrum_base,omitempty"`
	FailedRuns int     `json:"failed_runs,omitempty"`
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// summarize groups the results per scenario and system, in run order.
func summarize(results []result) []row {
	type key struct{ sc, sys string }
	var order []key
	groups := map[key][]result{}
	for _, r := range results {
		k := key{r.Scenario, r.System}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	var rows []row
	for _, k := range order {
		rw := row{Scenario: k.sc, System: k.sys}
		var rps, p50, p99, cpu []float64
		for _, r := range groups[k] {
			if r.Failed != "" {
				rw.FailedRuns++
				continue
			}
			rw.Runs++
			rps, p50, p99, cpu = append(rps, r.RPS), append(p50, r.P50ms), append(p99, r.P99ms), append(cpu, r.CPUus)
			rw.RSSMB = max(rw.RSSMB, r.RSSMB)
			rw.Errors += r.Errors
		}
		if len(rps) > 0 {
			rw.RPSMedian, rw.RPSMin, rw.RPSMax = median(rps), slices.Min(rps), slices.Max(rps)
			rw.P50ms, rw.P99ms, rw.CPUus = median(p50), median(p99), median(cpu)
		}
		rows = append(rows, rw)
	}
	for i := range rows {
		for _, ref := range rows {
			if ref.Scenario != rows[i].Scenario || ref.RPSMedian == 0 {
				continue
			}
			switch ref.System {
			case "haproxy":
				rows[i].VsHAProxy = rows[i].RPSMedian / ref.RPSMedian
			case "direct":
				rows[i].VsDirect = rows[i].RPSMedian / ref.RPSMedian
			}
			// fulcrum against fulcrum-base, and fulcrum+log against
			// fulcrum-base+log.
			if base, ok := strings.CutPrefix(ref.System, "fulcrum-base"); ok && ref.CPUus > 0 &&
				rows[i].System == "fulcrum"+base {
				rows[i].CPUVsBase = rows[i].CPUus / ref.CPUus
			}
		}
	}
	return rows
}

// rerender reads an earlier results.json and writes its report into
// o.out.
func rerender(o options) error {
	b, err := os.ReadFile(o.from)
	if err != nil {
		return err
	}
	var prev struct {
		Info info     `json:"info"`
		Runs []result `json:"runs"`
	}
	if err := json.Unmarshal(b, &prev); err != nil {
		return fmt.Errorf("%s: %w", o.from, err)
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	return writeReport(o, prev.Info, prev.Runs)
}

func writeReport(o options, in info, results []result) error {
	rows := summarize(results)
	js, err := json.MarshalIndent(struct {
		Info    info     `json:"info"`
		Summary []row    `json:"summary"`
		Runs    []result `json:"runs"`
	}{in, rows, results}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.out, "results.json"), js, 0o644); err != nil {
		return err
	}
	md := markdown(in, rows)
	if err := os.WriteFile(filepath.Join(o.out, "summary.md"), []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Print(md)
	if err := chart(o, rows); err != nil {
		fmt.Fprintln(os.Stderr, "chart:", err)
	}
	return nil
}

func markdown(in info, rows []row) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Run %s on %d × %s (kernel %s); %d repetitions of %s each, systems interleaved.\n\n",
		in.Date, in.CPUs, in.CPU, in.Kernel, in.Reps, in.Duration)
	fmt.Fprintf(&b, "Versions: %s.\n\n", strings.Join(in.Versions, "; "))
	b.WriteString("| scenario | system | req/s median [min–max] | × HAProxy | × direct | p50 ms | p99 ms | CPU µs/req | CPU × fulcrum-base | peak RSS MB | errors |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|\n")
	ratio := func(v float64) string {
		if v == 0 {
			return "—"
		}
		return fmt.Sprintf("%.2f", v)
	}
	for _, r := range rows {
		if r.Runs == 0 {
			fmt.Fprintf(&b, "| %s | %s | failed (%d runs) | | | | | | | | |\n", r.Scenario, r.System, r.FailedRuns)
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %.0f [%.0f–%.0f] | %s | %s | %.2f | %.2f | %.1f | %s | %.1f | %d |\n",
			r.Scenario, r.System, r.RPSMedian, r.RPSMin, r.RPSMax, ratio(r.VsHAProxy), ratio(r.VsDirect),
			r.P50ms, r.P99ms, r.CPUus, ratio(r.CPUVsBase), r.RSSMB, r.Errors)
	}
	return b.String()
}

// chart draws median req/s per scenario and system with gnuplot, when it
// is installed.
func chart(o options, rows []row) error {
	gp, err := exec.LookPath("gnuplot")
	if err != nil {
		return fmt.Errorf("gnuplot not installed, no chart.png")
	}
	var systems, scens []string
	val := map[[2]string]float64{}
	for _, r := range rows {
		if !slices.Contains(systems, r.System) {
			systems = append(systems, r.System)
		}
		if !slices.Contains(scens, r.Scenario) {
			scens = append(scens, r.Scenario)
		}
		val[[2]string{r.Scenario, r.System}] = r.RPSMedian
	}
	var dat strings.Builder
	dat.WriteString("scenario " + strings.Join(systems, " ") + "\n")
	for _, s := range scens {
		dat.WriteString(s)
		for _, sys := range systems {
			fmt.Fprintf(&dat, " %.0f", val[[2]string{s, sys}])
		}
		dat.WriteString("\n")
	}
	datPath := filepath.Join(o.out, "chart.dat")
	if err := os.WriteFile(datPath, []byte(dat.String()), 0o644); err != nil {
		return err
	}
	script := fmt.Sprintf(`set terminal png size 1400,600
set output %q
set title "req/s, median of runs (higher is better)"
set linetype 1 lc rgb "#7f7f7f"
set linetype 2 lc rgb "#d62728"
set linetype 3 lc rgb "#1f77b4"
set linetype 4 lc rgb "#2ca02c"
set linetype 5 lc rgb "#ff7f0e"
set linetype 6 lc rgb "#9467bd"
set linetype 7 lc rgb "#ff9896"
set linetype 8 lc rgb "#aec7e8"
set linetype 9 lc rgb "#98df8a"
set linetype 10 lc rgb "#ffbb78"
set linetype cycle 10
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set key outside right top
set ylabel "req/s"
set xtics rotate by -30
set grid ytics
plot for [i=2:%d] %q using i:xtic(1) title columnheader
`, filepath.Join(o.out, "chart.png"), len(systems)+1, datPath)
	cmd := exec.Command(gp)
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("gnuplot: %w: %s", err, out)
	}
	return nil
}
