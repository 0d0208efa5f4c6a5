// Command compare benchmarks Fulcrum against HAProxy, nginx, Caddy, a
// plain httputil.ReverseProxy and, with -baseline, an older Fulcrum build
// (system fulcrum-base) in one interleaved run, with wrk as the
// client and nginx as the backends. bench/compare.sh installs the tools
// and builds the binaries, then runs it.
//
// For every repetition, scenario and system it starts the system fresh,
// warms it up, runs wrk, and records req/s, p50/p99 latency, the system's
// CPU time per request (user+sys from /proc, all its processes), its peak
// RSS (summed over its processes, sampled) and errors. Systems are
// interleaved (A B C D A B C D ...) so machine drift hits all alike, and
// each repetition starts the scenario's list at another place (order) so
// that no system always runs first after a scenario change. The results
// go to OUT/results.json, OUT/summary.md and OUT/chart.png.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// options are the command-line settings of one run.
type options struct {
	out      string
	fulcrum  string
	baseline string
	// edge is the edge build (make build-edge: -tags nokubernetes), run
	// as system fulcrum-edge with fulcrum's config.
	edge    string
	goproxy string
	// evproto is bench/evproto, the event-loop prototypes (systems
	// evproto-epoll, evproto-gnet, their -log variants and the one-loop
	// evproto-epoll1 and evproto-gnet1).
	evproto string
	// grpcBackend and grpcLoad are bench/grpcbackend and bench/grpcload,
	// for gRPC scenarios.
	grpcBackend string
	grpcLoad    string
	reps        int
	duration    time.Duration
	warmup      time.Duration
	systems     []string
	scenarios   []string
	logVariant  []string
	profile     bool
	from        string
}

func main() {
	var o options
	var systems, scenarios, logVariant string
	flag.StringVar(&o.out, "out", "bench/results/latest", "directory for results")
	flag.StringVar(&o.fulcrum, "fulcrum", "bin/fulcrum", "fulcrum binary")
	flag.StringVar(&o.baseline, "baseline", os.Getenv("BASELINE"), "a baseline fulcrum binary (an older build); when set, system fulcrum-base runs it with fulcrum's config, interleaved with the others (env BASELINE)")
	flag.StringVar(&o.edge, "edge", "bin/fulcrum-edge", "the edge build of fulcrum (make build-edge); system fulcrum-edge runs it with fulcrum's config, and is left out when the file is missing")
	flag.StringVar(&o.goproxy, "goproxy", "bin/goproxy", "plain httputil proxy binary")
	flag.StringVar(&o.evproto, "evproto", "bin/evproto", "event-loop prototype binary (systems evproto-epoll, evproto-gnet, their -log variants, and evproto-epoll1, evproto-gnet1 with one loop)")
	flag.StringVar(&o.grpcBackend, "grpcbackend", "bin/grpcbackend", "gRPC greeter backend binary (gRPC scenarios)")
	flag.StringVar(&o.grpcLoad, "grpcload", "bin/grpcload", "gRPC load client binary (gRPC scenarios)")
	flag.IntVar(&o.reps, "reps", 3, "repetitions of every measurement")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "wrk duration per measurement")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "warm-up before each measurement")
	flag.StringVar(&systems, "systems", "direct,fulcrum,fulcrum-edge,haproxy,nginx,caddy,goproxy", "systems to measure")
	flag.StringVar(&scenarios, "scenarios", strings.Join(scenarioNames(), ","), "scenarios to run")
	flag.StringVar(&logVariant, "log-scenarios", "get-c50,get-c200", "scenarios also run with the access log on (fulcrum, haproxy, nginx, caddy)")
	flag.BoolVar(&o.profile, "profile", false, "take a 5 s CPU profile of fulcrum during its first get-c50 run")
	flag.StringVar(&o.from, "from", "", "re-render the report of an earlier results.json into -out instead of measuring")
	flag.Parse()
	o.systems = withEdge(withBaseline(split(systems), o.baseline), o.edge)
	o.scenarios = split(scenarios)
	o.logVariant = split(logVariant)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

// withBaseline adds fulcrum-base right after fulcrum (or at the end)
// when a baseline binary is given and the list does not name it; without
// one it drops fulcrum-base, which would have nothing to run.
func withBaseline(systems []string, baseline string) []string {
	if baseline == "" {
		return slices.DeleteFunc(systems, func(s string) bool { return s == "fulcrum-base" })
	}
	if slices.Contains(systems, "fulcrum-base") {
		return systems
	}
	if i := slices.Index(systems, "fulcrum"); i >= 0 {
		return slices.Insert(systems, i+1, "fulcrum-base")
	}
	return append(systems, "fulcrum-base")
}

// withEdge drops fulcrum-edge and fulcrum-edge-1t from systems when the
// edge binary is missing, saying so on stderr, so that a run without
// `make build-edge` still runs the rest.
func withEdge(systems []string, edge string) []string {
	if !slices.ContainsFunc(systems, isEdge) {
		return systems
	}
	if _, err := os.Stat(edge); err == nil {
		return systems
	}
	fmt.Fprintf(os.Stderr, "compare: no edge build at %q (make build-edge); fulcrum-edge and fulcrum-edge-1t left out\n", edge)
	return slices.DeleteFunc(systems, isEdge)
}

// isEdge reports whether a system runs the edge build.
func isEdge(s string) bool { return s == "fulcrum-edge" || s == "fulcrum-edge-1t" }

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func run(ctx context.Context, o options) error {
	if o.from != "" {
		return rerender(o)
	}
	if err := os.MkdirAll(filepath.Join(o.out, "tmp"), 0o755); err != nil {
		return err
	}
	env, err := newEnv(o)
	if err != nil {
		return err
	}
	defer env.close()
	if err := env.startBackends(ctx); err != nil {
		return err
	}
	info := machineInfo(o)
	fmt.Fprintf(os.Stderr, "%s\n", info.summary())
	nginxGRPC := wantsGRPC(o) && nginxHasGRPC()
	if wantsGRPC(o) {
		for _, s := range o.systems {
			if ok, why := grpcCapable(s, nginxGRPC); !ok {
				fmt.Fprintf(os.Stderr, "gRPC scenarios skip %s: %s\n", s, why)
			}
		}
	}

	var results []result
	for rep := 1; rep <= o.reps; rep++ {
		for _, name := range o.scenarios {
			sc, ok := scenarioByName(name)
			if !ok {
				return fmt.Errorf("unknown scenario %q (have %s)", name, strings.Join(scenarioNames(), ", "))
			}
			runs := order(variants(o, sc, nginxGRPC), rep, o.reps)
			for _, v := range runs {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				r, err := env.measure(ctx, v.system, sc, v.log, rep)
				if err != nil {
					fmt.Fprintf(os.Stderr, "rep %d %-10s %-14s error: %v\n", rep, sc.name, v.label(), err)
					r = result{Scenario: sc.name, System: v.label(), Rep: rep, Failed: err.Error()}
				} else {
					fmt.Fprintf(os.Stderr, "rep %d %-10s %-14s %9.0f req/s  p50 %6.2f ms  p99 %6.2f ms  %6.1f us/req  %5.1f MB  errors %d\n",
						rep, sc.name, v.label(), r.RPS, r.P50ms, r.P99ms, r.CPUus, r.RSSMB, r.Errors)
				}
				results = append(results, r)
			}
		}
	}
	return writeReport(o, info, results)
}

// variant is one system, with or without its access log.
type variant struct {
	system string
	log    bool
}

func (v variant) label() string {
	if v.log {
		return v.system + "+log"
	}
	return v.system
}

// order rotates a scenario's runs for repetition rep (1-based) of reps:
// repetition r starts (r-1)/reps of the way down the list, so over the
// repetitions the first place, which follows the previous scenario's
// teardown (its TIME_WAIT sockets and cold caches), falls to systems
// spread over the list instead of always to the first one. A system and
// its neighbours keep their relative order.
func order(runs []variant, rep, reps int) []variant {
	if len(runs) == 0 || reps <= 0 {
		return runs
	}
	k := (rep - 1) * len(runs) / reps % len(runs)
	return append(append([]variant(nil), runs[k:]...), runs[:k]...)
}

// variants lists what runs in one scenario: every system, then the
// access-log variants of the four load balancers where asked. A gRPC
// scenario runs the systems grpcCapable allows (nginx only with its
// grpc module, nginxGRPC), without log variants.
func variants(o options, sc scenario, nginxGRPC bool) []variant {
	var vs []variant
	for _, s := range o.systems {
		if s == "direct" && sc.https {
			continue // the backends speak plain HTTP; there is no direct TLS row
		}
		if ok, _ := grpcCapable(s, nginxGRPC); sc.grpc && !ok {
			continue
		}
		vs = append(vs, variant{system: s})
	}
	if sc.grpc {
		return vs
	}
	for _, l := range o.logVariant {
		if l != sc.name {
			continue
		}
		for _, s := range o.systems {
			if s == "fulcrum" || s == "fulcrum-edge" || s == "fulcrum-1t" || s == "fulcrum-edge-1t" || s == "fulcrum-gr" || s == "fulcrum-base" || s == "haproxy" || s == "haproxy-2t" || s == "nginx" || s == "caddy" {
				vs = append(vs, variant{system: s, log: true})
			}
		}
	}
	return vs
}
