package e2e

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Slow and greedy clients (docs/edge.md, "Slow and greedy clients"):
// slowhttptest's slowloris, slow body and slow read attacks with 1,000
// connections against the binary while a normal client keeps working, and
// the memory a slow reader of a large response may cost.

// needSlowHTTPTest returns slowhttptest's path, skipping the test when it
// is not installed unless FULCRUM_E2E_REQUIRE_SLOWHTTPTEST is set (CI).
func needSlowHTTPTest(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("slowhttptest")
	if err != nil {
		if os.Getenv("FULCRUM_E2E_REQUIRE_SLOWHTTPTEST") != "" {
			t.Fatal("slowhttptest is required (FULCRUM_E2E_REQUIRE_SLOWHTTPTEST is set) but not installed")
		}
		t.Skip("slowhttptest not installed (Debian package slowhttptest)")
	}
	return p
}

// bigTarget is a target that answers /big with size bytes and anything
// else with a short 200.
func bigTarget(t *testing.T, size int) string {
	chunk := []byte(strings.Repeat("0123456789abcdef", 4096)) // 64 KiB
	return httpTarget(t, 0, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.URL.Path != "/big" {
			io.WriteString(w, "ok")
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(size))
		for left := size; left > 0; left -= len(chunk) {
			if _, err := w.Write(chunk[:min(left, len(chunk))]); err != nil {
				return
			}
		}
	})
}

// probeResult is what the normal client saw during an attack.
type probeResult struct {
	ok, failed int
	slowest    time.Duration
	firstError string
}

// probe sends a GET on a fresh connection every 100 ms until ctx ends;
// one that takes over 8 s (a machine shared with the rest of the suite)
// counts as failed.
func probe(ctx context.Context, url string) probeResult {
	client := &http.Client{Timeout: 8 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var r probeResult
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return r
		case <-tick.C:
		}
		start := time.Now()
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("X-Request-Id", fmt.Sprintf("probe-%d", i))
		resp, err := client.Do(req)
		took := time.Since(start)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(body) != "ok" {
				err = fmt.Errorf("status %d %q", resp.StatusCode, body)
			}
		}
		if err != nil {
			r.failed++
			if r.firstError == "" {
				r.firstError = err.Error()
			}
			continue
		}
		r.ok++
		r.slowest = max(r.slowest, took)
	}
}

// maxConnected reads slowhttptest's CSV statistics (-g -o) and returns
// the most connections it held open at once.
func maxConnected(t *testing.T, path string) int {
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("slowhttptest statistics: %v", err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("slowhttptest statistics %s: %v (%d rows)", path, err, len(rows))
	}
	col := -1
	for i, h := range rows[0] {
		if strings.EqualFold(strings.TrimSpace(h), "connected") {
			col = i
		}
	}
	if col < 0 {
		t.Fatalf("no connected column in %v", rows[0])
	}
	best := 0
	for _, r := range rows[1:] {
		if n, err := strconv.Atoi(strings.TrimSpace(r[col])); err == nil {
			best = max(best, n)
		}
	}
	return best
}

// TestSlowClients runs slowhttptest in header (slowloris), body and read
// mode with 1,000 connections against fulcrum, and checks that a normal
// client kept getting 200s all along.
func TestSlowClients(t *testing.T) {
	bin := needSlowHTTPTest(t)
	tgt := bigTarget(t, 256<<10) // larger than the socket buffers a slow reader leaves room for
	f := startFulcrum(t, fmt.Sprintf(`
access_log: {path: "-"}
listeners: [{name: web, address: "127.0.0.1:0", idle_timeout: 5s, request_header_timeout: 3s, default_target_group: app}]
target_groups:
  - name: app
    health_check: {enabled: false}
    targets: [{address: %q}]
`, tgt))
	base := "http://" + f.addr
	for _, mode := range []struct {
		name string
		args []string
	}{
		{"header", []string{"-H", "-i", "1", "-u", base + "/"}},
		{"body", []string{"-B", "-i", "1", "-s", "100000", "-u", base + "/"}},
		{"read", []string{"-X", "-k", "1", "-n", "1", "-w", "16", "-y", "32", "-z", "32", "-u", base + "/big"}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			stats := filepath.Join(t.TempDir(), "stats")
			args := append([]string{"-c", "1000", "-r", "500", "-l", "10", "-p", "3", "-g", "-o", stats}, mode.args...)
			ctx, cancel := context.WithCancel(context.Background())
			var pr probeResult
			var wg sync.WaitGroup
			wg.Go(func() {
				time.Sleep(2 * time.Second) // slowhttptest opens its 1,000 connections at 500 a second
				pr = probe(ctx, base+"/")
			})
			cmd := exec.Command(bin, args...)
			out, err := cmd.CombinedOutput()
			cancel()
			wg.Wait()
			if err != nil {
				t.Fatalf("slowhttptest %v: %v\n%s", args, err, out)
			}
			held := maxConnected(t, stats+".csv")
			t.Logf("%s: slowhttptest held up to %d connections; probe: %d ok, %d failed, slowest %v",
				mode.name, held, pr.ok, pr.failed, pr.slowest)
			if held < 500 {
				t.Errorf("slowhttptest held only %d connections open at once; the attack did not happen\n%s", held, out)
			}
			// The header attack ends early: request_header_timeout closes
			// its connections after 3 s.
			if pr.failed > 0 || pr.ok < 10 {
				t.Errorf("the normal client got %d failures (first: %s) and %d 200s during the attack", pr.failed, pr.firstError, pr.ok)
			}
		})
	}
}

// rss returns the resident set size of process pid in bytes.
func rss(t *testing.T, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestSlowReaderMemoryBounded: a client reading a 256 MiB response at a
// trickle makes fulcrum hold at most a few buffers, not the response.
func TestSlowReaderMemoryBounded(t *testing.T) {
	const size = 256 << 20
	tgt := bigTarget(t, size)
	f := startFulcrum(t, fmt.Sprintf(`
access_log: {path: "-"}
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app}]
target_groups:
  - name: app
    health_check: {enabled: false}
    targets: [{address: %q}]
`, tgt))
	pid := f.cmd.Process.Pid
	before := rss(t, pid)
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /big HTTP/1.1\r\nHost: x\r\nX-Request-Id: slow-reader\r\n\r\n")
	br := bufio.NewReaderSize(c, 4096)
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ContentLength != size {
		t.Fatalf("Content-Length %d", resp.ContentLength)
	}
	// Read 64 KiB every 50 ms for 3 s: about 4 MB of 256 MiB, while the
	// target could send it all in well under a second.
	var read int64
	peak := before
	buf := make([]byte, 64<<10)
	for range 60 {
		n, err := io.ReadFull(resp.Body, buf)
		read += int64(n)
		if err != nil {
			t.Fatalf("after %d bytes: %v", read, err)
		}
		peak = max(peak, rss(t, pid))
		time.Sleep(50 * time.Millisecond)
	}
	grew := peak - before
	t.Logf("read %d bytes slowly; fulcrum RSS %d MiB before, peak %d MiB", read, before>>20, peak>>20)
	if grew > 64<<20 {
		t.Errorf("fulcrum's RSS grew by %d MiB while a client read slowly: the response is being buffered", grew>>20)
	}
}
