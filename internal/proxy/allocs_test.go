package proxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fulcrumlb/fulcrum/internal/accesslog"
	"github.com/fulcrumlb/fulcrum/internal/metrics"
)

// TestProxyAllocsPerRequest proxies keep-alive GETs from a raw client
// through a whole Server (with metrics and request history) to a raw
// target that allocates nothing, and bounds the heap allocations per
// request: none. The request head is copied into the connection's
// request state (reqState.head), the request's strings and what the
// record keeps of the head into the record's memory (Record.Keep), and
// the response head into the attempt space (attemptSpace.head). One
// allocation in two requests fails the test.
func TestProxyAllocsPerRequest(t *testing.T) {
	// A small history fills up in the warm-up: a full ring reuses its
	// slots, as a long-running one does.
	const historySlots = 64
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	answer := []byte("HTTP/1.1 200 OK\r\nServer: raw\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\nhello\n")
	tln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer tln.Close()
	wg.Go(func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := tln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
			wg.Go(func() { answerHeads(c, answer) })
		}
	})
	_, addr := startServerOpts(t, fmt.Sprintf(`
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app}]
target_groups: [{name: app, health_check: {enabled: false}, targets: [{address: %q}]}]
`, tln.Addr().String()), Options{Logger: slog.New(slog.DiscardHandler), Metrics: metrics.New(prometheus.NewRegistry()),
		History: accesslog.NewHistory(historySlots)})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	req := []byte("GET /a?b=1 HTTP/1.1\r\nHost: allocs\r\nUser-Agent: raw\r\nAccept: */*\r\n\r\n")
	var body [6]byte
	var failed error
	get := func() {
		if failed != nil {
			return
		}
		if _, err := c.Write(req); err != nil {
			failed = err
			return
		}
		ok := false
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				failed = err
				return
			}
			if len(line) <= 2 {
				break
			}
			ok = ok || bytes.HasPrefix(line, []byte("HTTP/1.1 200 "))
		}
		if _, err := io.ReadFull(br, body[:]); err != nil {
			failed = fmt.Errorf("reading the body: %w", err)
		} else if !ok || string(body[:]) != "hello\n" {
			failed = fmt.Errorf("status 200 %v, body %q; want 200 and \"hello\\n\"", ok, body)
		}
	}
	for range 2 * historySlots { // pools, the history, the target connection, the loop warm up
		get()
	}
	n := testing.AllocsPerRun(2000, get)
	if failed != nil {
		t.Fatal(failed)
	}
	t.Logf("%.2f allocations per request", n)
	if n > 0.5 {
		t.Errorf("%.2f allocations per proxied request, want at most 0.5 (none)", n)
	}
}

// answerHeads answers every request head read from c with answer, without
// allocating, until c fails.
func answerHeads(c net.Conn, answer []byte) {
	defer c.Close()
	var buf [8192]byte
	have := 0
	for {
		n, err := c.Read(buf[have:])
		if err != nil {
			return
		}
		have += n
		for {
			i := bytes.Index(buf[:have], []byte("\r\n\r\n"))
			if i < 0 {
				break
			}
			if _, err := c.Write(answer); err != nil {
				return
			}
			have = copy(buf[:], buf[i+4:have])
		}
	}
}

// TestConnectionReusesAttemptSpace: requests on one client connection
// share its attemptSpace and the exchange in it, and each response still
// carries only its own target fields; the request id and trace value the
// target got are each request's own.
func TestConnectionReusesAttemptSpace(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		for i := range n {
			w.Header().Set("X-H"+strconv.Itoa(i), r.URL.RawQuery)
		}
		w.Header().Set("X-Seen-Id", r.Header.Get("X-Request-Id"))
		w.Header().Set("X-Seen-Trace", r.Header.Get("X-Amzn-Trace-Id"))
		io.WriteString(w, r.URL.RawQuery)
	}))
	defer backend.Close()
	_, addr := startServer(t, fmt.Sprintf(`
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app}]
target_groups: [{name: app, health_check: {enabled: false}, targets: [{address: %q}]}]
`, backend.Listener.Addr().String()))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	idRE, traceRE := regexp.MustCompile(`^[0-9a-f]{32}$`), regexp.MustCompile(`^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$`)
	seen := map[string]bool{}
	for i, n := range []int{30, 0, respFieldsInline + 1, 2, 0} {
		q := fmt.Sprintf("n=%d&i=%d", n, i)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := fmt.Fprintf(c, "GET /?%s HTTP/1.1\r\nHost: x\r\n\r\n", q); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != q {
			t.Errorf("request %d: body %q, want %q", i, b, q)
		}
		got := 0
		for k, vs := range resp.Header {
			if strings.HasPrefix(k, "X-H") {
				got++
				if len(vs) != 1 || vs[0] != q {
					t.Errorf("request %d: %s: %q, want [%q]", i, k, vs, q)
				}
			}
		}
		if got != n {
			t.Errorf("request %d: %d X-H fields, want %d", i, got, n)
		}
		id, trace := resp.Header.Get("X-Request-Id"), resp.Header.Get("X-Seen-Trace")
		if !idRE.MatchString(id) || resp.Header.Get("X-Seen-Id") != id {
			t.Errorf("request %d: X-Request-Id %q, the target saw %q", i, id, resp.Header.Get("X-Seen-Id"))
		}
		if !traceRE.MatchString(trace) {
			t.Errorf("request %d: the target saw X-Amzn-Trace-Id %q", i, trace)
		}
		if seen[id] || seen[trace] {
			t.Errorf("request %d: id %q or trace %q seen before", i, id, trace)
		}
		seen[id], seen[trace] = true, true
	}
}
