package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const wrkOutput = `Running 5s test @ http://127.0.0.1:8091/
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.85ms    1.01ms  24.09ms   90.53%
    Req/Sec    17.80k     1.05k   19.43k    80.00%
  Latency Distribution
     50%  812.00us
     75%    3.08ms
     90%    3.57ms
     99%    1.02s
  88593 requests in 5.00s, 13.18MB read
  Socket errors: connect 0, read 3, write 0, timeout 2
  Non-2xx or 3xx responses: 12
Requests/sec:  17716.30
Transfer/sec:      2.64MB
`

func TestParseWrk(t *testing.T) {
	var r result
	if err := parseWrk(wrkOutput, &r); err != nil {
		t.Fatal(err)
	}
	want := result{RPS: 17716.30, Requests: 88593, P50ms: 0.812, P99ms: 1020, Errors: 17}
	if d := cmp.Diff(want, r); d != "" {
		t.Errorf("parse (-want +got):\n%s", d)
	}
	if err := parseWrk("unable to connect to 127.0.0.1:8091 Connection refused\n", &r); err == nil {
		t.Error("output without Requests/sec must be an error")
	}
}

func TestSummarize(t *testing.T) {
	rows := summarize([]result{
		{Scenario: "get-c50", System: "direct", RPS: 80000},
		{Scenario: "get-c50", System: "haproxy", RPS: 30000, CPUus: 25, RSSMB: 19},
		{Scenario: "get-c50", System: "haproxy", RPS: 32000, CPUus: 27, RSSMB: 18},
		{Scenario: "get-c50", System: "haproxy", RPS: 10000, CPUus: 26, RSSMB: 17, Errors: 1},
		{Scenario: "get-c50", System: "fulcrum", RPS: 18000},
		{Scenario: "get-c50", System: "fulcrum", Failed: "exited"},
	})
	if len(rows) != 3 {
		t.Fatalf("%d rows", len(rows))
	}
	hap := rows[1]
	if hap.RPSMedian != 30000 || hap.RPSMin != 10000 || hap.RPSMax != 32000 || hap.CPUus != 26 || hap.RSSMB != 19 || hap.Errors != 1 {
		t.Errorf("haproxy row %+v", hap)
	}
	if f := rows[2]; f.VsHAProxy != 0.6 || f.VsDirect != 0.225 || f.Runs != 1 || f.FailedRuns != 1 {
		t.Errorf("fulcrum row %+v", f)
	}
}

func TestWithBaseline(t *testing.T) {
	if got := withBaseline([]string{"direct", "fulcrum", "haproxy"}, "bin/fulcrum-base"); !cmp.Equal(got, []string{"direct", "fulcrum", "fulcrum-base", "haproxy"}) {
		t.Errorf("baseline after fulcrum: %v", got)
	}
	if got := withBaseline([]string{"fulcrum-base", "fulcrum"}, "b"); !cmp.Equal(got, []string{"fulcrum-base", "fulcrum"}) {
		t.Errorf("named already: %v", got)
	}
	if got := withBaseline([]string{"fulcrum", "fulcrum-base"}, ""); !cmp.Equal(got, []string{"fulcrum"}) {
		t.Errorf("no baseline binary: %v", got)
	}
}

func TestCPUVsBase(t *testing.T) {
	rows := summarize([]result{
		{Scenario: "get-c50", System: "fulcrum", RPS: 20000, CPUus: 30},
		{Scenario: "get-c50", System: "fulcrum-base", RPS: 18000, CPUus: 60},
		{Scenario: "get-c50", System: "fulcrum+log", RPS: 18000, CPUus: 45},
		{Scenario: "get-c50", System: "fulcrum-base+log", RPS: 15000, CPUus: 50},
	})
	if rows[0].CPUVsBase != 0.5 || rows[2].CPUVsBase != 0.9 || rows[1].CPUVsBase != 0 {
		t.Errorf("CPU ratios %v %v %v", rows[0].CPUVsBase, rows[1].CPUVsBase, rows[2].CPUVsBase)
	}
}

// grpcloadOutput is bench/grpcload's summary, in wrk's format.
const grpcloadOutput = `Running 5s test @ grpc://127.0.0.1:8091/fulcrum.bench.Greeter/SayHello
  50 connections
  Latency Distribution
     50%  2.05ms
     99%  8.21ms
  40315 requests in 2.00s
  Non-2xx or 3xx responses: 4
Requests/sec: 20148.33
`

// TestParseGRPCLoad: the wrk parser reads grpcload's summary.
func TestParseGRPCLoad(t *testing.T) {
	var r result
	if err := parseWrk(grpcloadOutput, &r); err != nil {
		t.Fatal(err)
	}
	want := result{RPS: 20148.33, Requests: 40315, P50ms: 2.05, P99ms: 8.21, Errors: 4}
	if d := cmp.Diff(want, r); d != "" {
		t.Errorf("parse (-want +got):\n%s", d)
	}
}

// TestGRPCVariants: grpc-c50 runs direct, fulcrum, haproxy and, with
// its grpc module, nginx; never log variants or the systems without
// gRPC set up.
func TestGRPCVariants(t *testing.T) {
	sc, ok := scenarioByName("grpc-c50")
	if !ok || !sc.grpc || sc.conns != 50 {
		t.Fatalf("grpc-c50 = %+v %v", sc, ok)
	}
	o := options{systems: []string{"direct", "fulcrum", "fulcrum-base", "haproxy", "nginx", "caddy", "goproxy"}, logVariant: []string{"grpc-c50"}}
	names := func(vs []variant) []string {
		var n []string
		for _, v := range vs {
			n = append(n, v.label())
		}
		return n
	}
	if got := names(variants(o, sc, true)); !cmp.Equal(got, []string{"direct", "fulcrum", "haproxy", "nginx"}) {
		t.Errorf("with nginx's grpc module: %v", got)
	}
	if got := names(variants(o, sc, false)); !cmp.Equal(got, []string{"direct", "fulcrum", "haproxy"}) {
		t.Errorf("without it: %v", got)
	}
	if got := (&env{}).targets(sc); !cmp.Equal(got, []string{addr(grpcBackendA), addr(grpcBackendB)}) {
		t.Errorf("targets %v", got)
	}
}

// TestOneThreadFulcrum: fulcrum-1t (GOMAXPROCS=1) runs on a port of its
// own, gets the access-log variant, and is left out of gRPC scenarios.
func TestOneThreadFulcrum(t *testing.T) {
	seen := map[int]string{}
	for _, s := range []string{"fulcrum", "fulcrum-1t", "fulcrum-base", "fulcrum-edge", "fulcrum-edge-1t", "fulcrum-gr", "haproxy", "haproxy-2t", "nginx", "caddy", "goproxy", "evproto-epoll", "evproto-gnet"} {
		p := lbPort(s)
		if other, dup := seen[p]; dup {
			t.Errorf("%s and %s share port %d", s, other, p)
		}
		seen[p] = s
	}
	sc, _ := scenarioByName("get-c50")
	o := options{systems: []string{"fulcrum", "fulcrum-1t", "haproxy"}, logVariant: []string{"get-c50"}}
	var got []string
	for _, v := range variants(o, sc, false) {
		got = append(got, v.label())
	}
	if want := []string{"fulcrum", "fulcrum-1t", "haproxy", "fulcrum+log", "fulcrum-1t+log", "haproxy+log"}; !cmp.Equal(got, want) {
		t.Errorf("variants %v, want %v", got, want)
	}
	if ok, _ := grpcCapable("fulcrum-1t", true); ok {
		t.Error("fulcrum-1t is not set up for gRPC")
	}
}

// TestTwoThreadHAProxy: haproxy-2t is HAProxy's job with nbthread 2
// (haproxy keeps nbthread 1), on a port of its own, with the access-log
// variant and without gRPC.
func TestTwoThreadHAProxy(t *testing.T) {
	targets := []string{"127.0.0.1:9201", "127.0.0.1:9202"}
	for _, c := range []struct {
		threads int
		want    string
	}{{1, "nbthread 1\n"}, {2, "nbthread 2\n"}} {
		cfg := haproxyConfig(lbPort("haproxy-2t"), targets, "", false, false, true, c.threads)
		if !strings.Contains(cfg, c.want) || strings.Count(cfg, "nbthread") != 1 {
			t.Errorf("threads %d: config\n%s", c.threads, cfg)
		}
		for _, want := range []string{"bind 127.0.0.1:8087\n", "server s0 127.0.0.1:9201\n", "server s1 127.0.0.1:9202\n", "option httplog\n"} {
			if !strings.Contains(cfg, want) {
				t.Errorf("threads %d: no %q in\n%s", c.threads, want, cfg)
			}
		}
	}
	sc, _ := scenarioByName("get-c50")
	o := options{systems: []string{"haproxy", "haproxy-2t"}, logVariant: []string{"get-c50"}}
	var got []string
	for _, v := range variants(o, sc, false) {
		got = append(got, v.label())
	}
	if want := []string{"haproxy", "haproxy-2t", "haproxy+log", "haproxy-2t+log"}; !cmp.Equal(got, want) {
		t.Errorf("variants %v, want %v", got, want)
	}
	if ok, _ := grpcCapable("haproxy-2t", true); ok {
		t.Error("haproxy-2t is not set up for gRPC")
	}
}

// TestTwoTargetsOnTheThousandBackend: 2tg-c50, the 2-target side of the
// 1,000-target comparison, forwards to two ports of the 1,000-port nginx
// that 1000tg-c50 uses, not to the two single-port backends of get-c50,
// so that the comparison holds the backend process fixed.
func TestTwoTargetsOnTheThousandBackend(t *testing.T) {
	two, ok := scenarioByName("2tg-c50")
	if !ok {
		t.Fatal("no 2tg-c50 scenario")
	}
	thousand, _ := scenarioByName("1000tg-c50")
	e := &env{}
	got, all := e.targets(two), e.targets(thousand)
	if len(got) != 2 || len(all) != thousandN {
		t.Fatalf("targets: %d and %d, want 2 and %d", len(got), len(all), thousandN)
	}
	if !cmp.Equal(got, all[:2]) {
		t.Errorf("2tg-c50 targets %v, want the 1,000-port backend's first two %v", got, all[:2])
	}
	if two.conns != thousand.conns || two.path != thousand.path {
		t.Errorf("2tg-c50 (%d conns, %q) and 1000tg-c50 (%d, %q) differ in more than the targets", two.conns, two.path, thousand.conns, thousand.path)
	}
}

// Each repetition runs every variant once, and the first place moves
// through the list: with 3 repetitions of 6 runs, runs 0, 2 and 4 go first.
func TestOrderRotatesTheFirstPlace(t *testing.T) {
	var runs []variant
	for _, s := range []string{"a", "b", "c", "d", "e", "f"} {
		runs = append(runs, variant{system: s})
	}
	var firsts []string
	for rep := 1; rep <= 3; rep++ {
		got := order(runs, rep, 3)
		if len(got) != len(runs) {
			t.Fatalf("rep %d: %d runs, want %d", rep, len(got), len(runs))
		}
		k := int(got[0].system[0] - 'a')
		for i, v := range got {
			if want := runs[(k+i)%len(runs)]; v != want {
				t.Errorf("rep %d: place %d is %v, want %v: %v is not a rotation of the list", rep, i, v, want, got)
			}
		}
		firsts = append(firsts, got[0].system)
	}
	if diff := cmp.Diff([]string{"a", "c", "e"}, firsts); diff != "" {
		t.Errorf("first of each repetition (-want +got):\n%s", diff)
	}
	if got := order(runs, 1, 1); got[0].system != "a" {
		t.Errorf("a single repetition starts at %q, want a", got[0].system)
	}
	if runs[0].system != "a" {
		t.Error("order changed its argument")
	}
}

// TestEdgeSystem: fulcrum-edge and fulcrum-edge-1t run when the edge
// binary exists, are dropped (and only they) when it does not, and get
// the access-log variant.
func TestEdgeSystem(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "fulcrum-edge")
	all := []string{"fulcrum", "fulcrum-edge", "fulcrum-edge-1t", "haproxy"}
	if got := withEdge(slices.Clone(all), bin); !cmp.Equal(got, []string{"fulcrum", "haproxy"}) {
		t.Errorf("missing binary: %v", got)
	}
	if err := os.WriteFile(bin, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if got := withEdge(slices.Clone(all), bin); !cmp.Equal(got, all) {
		t.Errorf("binary present: %v", got)
	}
	sc, _ := scenarioByName("get-c200")
	var got []string
	for _, v := range variants(options{systems: all, logVariant: []string{"get-c200"}}, sc, false) {
		got = append(got, v.label())
	}
	if want := []string{"fulcrum", "fulcrum-edge", "fulcrum-edge-1t", "haproxy", "fulcrum+log", "fulcrum-edge+log", "fulcrum-edge-1t+log", "haproxy+log"}; !cmp.Equal(got, want) {
		t.Errorf("variants %v, want %v", got, want)
	}
}
