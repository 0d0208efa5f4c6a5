package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// result is one measurement: one system, one scenario, one repetition.
type result struct {
	Scenario string  `json:"scenario"`
	System   string  `json:"system"`
	Rep      int     `json:"rep"`
	RPS      float64 `json:"rps"`
	Requests int64   `json:"requests"`
	P50ms    float64 `json:"p50_ms"`
	P99ms    float64 `json:"p99_ms"`
	// CPUus is the system's CPU time (user+sys, all its processes) per
	// request, in microseconds.
	CPUus float64 `json:"cpu_us_per_request"`
	// RSSMB is the peak of the summed RSS of its processes, sampled every
	// 200 ms during the run.
	RSSMB float64 `json:"peak_rss_mb"`
	// Errors counts socket errors and non-2xx/3xx responses seen by wrk.
	Errors int64  `json:"errors"`
	Failed string `json:"failed,omitempty"`
}

// measure starts the system (or, for direct, points wrk at backend A),
// warms it up, runs wrk and samples its processes.
func (e *env) measure(ctx context.Context, system string, sc scenario, logOn bool, rep int) (result, error) {
	label := system
	if logOn {
		label += "+log"
	}
	r := result{Scenario: sc.name, System: label, Rep: rep}
	dir := filepath.Join(e.tmp, fmt.Sprintf("%s-%s-%d", sc.name, label, rep))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return r, err
	}
	var p *proc
	port := backendA
	scheme := "http"
	if system == "direct" {
		if sc.https {
			return r, fmt.Errorf("direct has no TLS listener")
		}
		p = e.direct
		if sc.targets == "thousand" || sc.targets == "thousand2" {
			p, port = e.thousand, thousandBase
		}
		if sc.grpc {
			p, port = e.grpcDirect, grpcBackendA
		}
	} else {
		var err error
		p, err = e.startSystem(ctx, system, sc, logOn, dir)
		if err != nil {
			return r, err
		}
		defer p.stop()
		port = lbPort(system)
	}
	if sc.https {
		scheme = "https"
	}
	url := fmt.Sprintf("%s://127.0.0.1:%d%s", scheme, port, sc.path)
	args := []string{"-t1", fmt.Sprintf("-c%d", sc.conns), "--latency"}
	args = append(args, sc.wrkArgs...)
	if sc.script != "" {
		script := filepath.Join(dir, "script.lua")
		if err := write(script, sc.script); err != nil {
			return r, err
		}
		args = append(args, "-s", script)
	}
	load := func(seconds float64) (string, error) {
		if sc.grpc {
			return e.grpcLoad(ctx, sc, port, max(1, int(seconds)))
		}
		return wrk(ctx, append(args, fmt.Sprintf("-d%ds", max(1, int(seconds))), url))
	}
	if _, err := load(e.o.warmup.Seconds()); err != nil {
		return r, fmt.Errorf("warm-up: %w", err)
	}

	profDone := make(chan struct{})
	if e.o.profile && system == "fulcrum" && !logOn && sc.name == "get-c50" && rep == 1 {
		go func() {
			defer close(profDone)
			if err := e.profile(ctx, dir); err != nil {
				fmt.Fprintln(os.Stderr, "profile:", err)
			}
		}()
	} else {
		close(profDone)
	}

	cpu0 := groupCPU(p.pgid())
	var peak int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			if rss := groupRSS(p.pgid()); rss > peak {
				peak = rss
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	})
	out, err := load(e.o.duration.Seconds())
	close(stop)
	wg.Wait()
	cpu := groupCPU(p.pgid()) - cpu0
	<-profDone
	os.WriteFile(filepath.Join(dir, "wrk.txt"), []byte(out), 0o644)
	if err != nil {
		return r, err
	}
	if err := parseWrk(out, &r); err != nil {
		return r, err
	}
	if r.Requests > 0 {
		r.CPUus = cpu.Seconds() * 1e6 / float64(r.Requests)
	}
	r.RSSMB = float64(peak) / (1 << 20)
	return r, nil
}

// profile takes a 5 s CPU profile of fulcrum through its admin server.
func (e *env) profile(ctx context.Context, dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "fulcrum.log"))
	if err != nil {
		return err
	}
	m := regexp.MustCompile(`msg="admin started" address=(\S+)`).FindSubmatch(b)
	if m == nil {
		return fmt.Errorf("no admin address in fulcrum's log")
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+string(m[1])+"/debug/pprof/profile?seconds=5", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(filepath.Join(e.o.out, "fulcrum-cpu.pprof"))
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}

func wrk(ctx context.Context, args []string) (string, error) {
	out, err := exec.CommandContext(ctx, "wrk", args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("wrk %s: %w: %s", strings.Join(args, " "), err, lastLines(string(out), 3))
	}
	return string(out), nil
}

// parseWrk reads wrk's summary: requests, Requests/sec, the 50% and 99%
// latency lines of --latency, socket errors and non-2xx/3xx responses.
func parseWrk(out string, r *result) error {
	sc := bufio.NewScanner(strings.NewReader(out))
	seen := false
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "Requests/sec:":
			r.RPS, _ = strconv.ParseFloat(f[1], 64)
			seen = true
		case len(f) >= 3 && f[1] == "requests" && f[2] == "in":
			r.Requests, _ = strconv.ParseInt(f[0], 10, 64)
		case len(f) == 2 && f[0] == "50%":
			r.P50ms = parseLatency(f[1])
		case len(f) == 2 && f[0] == "99%":
			r.P99ms = parseLatency(f[1])
		case len(f) >= 2 && f[0] == "Socket" && f[1] == "errors:":
			for _, n := range regexp.MustCompile(`\d+`).FindAllString(sc.Text(), -1) {
				v, _ := strconv.ParseInt(n, 10, 64)
				r.Errors += v
			}
		case strings.HasPrefix(sc.Text(), "  Non-2xx or 3xx responses:"):
			v, _ := strconv.ParseInt(f[len(f)-1], 10, 64)
			r.Errors += v
		}
	}
	if !seen {
		return fmt.Errorf("no Requests/sec in wrk output: %s", lastLines(out, 3))
	}
	return nil
}

// parseLatency converts wrk's "812.00us", "2.71ms" or "1.02s" to ms.
func parseLatency(s string) float64 {
	for _, u := range []struct {
		suffix string
		ms     float64
	}{{"us", 0.001}, {"ms", 1}, {"s", 1000}, {"m", 60000}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return f * u.ms
			}
		}
	}
	return 0
}

// groupPIDs lists the processes whose process group is pgid.
func groupPIDs(pgid int) []string {
	ents, _ := os.ReadDir("/proc")
	var pids []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		f := statFields(e.Name())
		if len(f) > 5 && f[4] == strconv.Itoa(pgid) {
			pids = append(pids, e.Name())
		}
	}
	return pids
}

// statFields returns /proc/PID/stat's fields, numbered from 1 as in
// proc(5) minus one: f[0] is the pid, f[13] utime, f[14] stime.
func statFields(pid string) []string {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces
	if i < 0 {
		return nil
	}
	return append([]string{s[:strings.IndexByte(s, ' ')], "comm"}, strings.Fields(s[i+1:])...)
}

// groupCPU sums user+sys time of the group's live processes. The clock
// tick is 100 Hz on Linux.
func groupCPU(pgid int) time.Duration {
	var ticks int64
	for _, pid := range groupPIDs(pgid) {
		f := statFields(pid)
		if len(f) > 14 {
			u, _ := strconv.ParseInt(f[13], 10, 64)
			s, _ := strconv.ParseInt(f[14], 10, 64)
			ticks += u + s
		}
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// groupRSS sums VmRSS of the group's processes, in bytes.
func groupRSS(pgid int) int64 {
	var total int64
	for _, pid := range groupPIDs(pgid) {
		b, err := os.ReadFile("/proc/" + pid + "/status")
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				total += kb << 10
			}
		}
	}
	return total
}
