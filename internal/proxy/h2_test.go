//lint:file-ignore SA1019 golang.org/x/net/http2 is marked deprecated for net/http's bundled copy, whose stream and GOAWAY error types are unexported: classifying stream failures by type needs x/net's.

package proxy

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
	"golang.org/x/net/http2/hpack"

	"github.com/fulcrumlb/fulcrum/internal/accesslog"
	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/metrics"
)

// h2cTarget runs an HTTP/2 cleartext (prior knowledge) target with
// golang.org/x/net/http2's server and counts the connections it accepts.
func h2cTarget(t *testing.T, srv *http2.Server, h http.HandlerFunc) (addr string, conns *atomic.Int32) {
	t.Helper()
	conns = new(atomic.Int32)
	ts := httptest.NewUnstartedServer(h2c.NewHandler(h, srv))
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	ts.Start()
	t.Cleanup(ts.Close)
	return hostPort(ts.URL), conns
}

// scriptedH2 runs a misbehaving HTTP/2 target written with the
// golang.org/x/net/http2 framer: it reads the client preface, sends its
// SETTINGS, then calls onHeaders for each request's HEADERS frame; the
// connection closes when it returns true.
func scriptedH2(t *testing.T, settings []http2.Setting, onHeaders func(fr *http2.Framer, f *http2.HeadersFrame) (hangUp bool)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				preface := make([]byte, len(http2.ClientPreface))
				if _, err := io.ReadFull(c, preface); err != nil {
					return
				}
				fr := http2.NewFramer(c, c)
				if fr.WriteSettings(settings...) != nil {
					return
				}
				for {
					f, err := fr.ReadFrame()
					if err != nil {
						return
					}
					switch f := f.(type) {
					case *http2.SettingsFrame:
						if !f.IsAck() {
							fr.WriteSettingsAck()
						}
					case *http2.HeadersFrame:
						if onHeaders(fr, f) {
							return
						}
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// h2Group is a config with one HTTP2 target group over targets.
func h2Group(extra string, targets ...string) string {
	var ts []string
	for _, a := range targets {
		ts = append(ts, fmt.Sprintf("{address: %q}", a))
	}
	return fmt.Sprintf(`
listeners: [{name: web, address: "127.0.0.1:0", idle_timeout: 1s, default_target_group: app}]
target_groups: [{name: app, protocol_version: HTTP2, health_check: {enabled: false}%s, targets: [%s]}]
`, extra, strings.Join(ts, ", "))
}

func okTarget(t *testing.T) (string, *atomic.Int32) {
	return h2cTarget(t, &http2.Server{}, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Proto", r.Proto)
		fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.RequestURI(), body)
	})
}

// TestH2TargetPooledStreams: requests to an HTTP2 group reach the target
// over HTTP/2 and share one pooled connection.
func TestH2TargetPooledStreams(t *testing.T) {
	addr, conns := okTarget(t)
	_, lb := startServer(t, h2Group("", addr))
	for i := range 3 {
		resp, err := http.Post("http://"+lb+"/echo?i="+fmt.Sprint(i), "text/plain", strings.NewReader("hello"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("X-Proto") != "HTTP/2.0" || string(body) != fmt.Sprintf("POST /echo?i=%d hello", i) {
			t.Fatalf("status %d proto %q body %q", resp.StatusCode, resp.Header.Get("X-Proto"), body)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("target accepted %d connections, want 1 shared by every stream", n)
	}
}

// historyOf starts a server for cfg with a request history and metrics.
func historyOf(t *testing.T, cfg string) (*accesslog.History, *prometheus.Registry, string) {
	hist := accesslog.NewHistory(100)
	reg := prometheus.NewRegistry()
	_, addr := startServerOpts(t, cfg, Options{Logger: slog.New(slog.DiscardHandler), History: hist, Metrics: metrics.New(reg)})
	return hist, reg, addr
}

// TestH2RefusedStreamRetried: a target that resets every stream with
// REFUSED_STREAM processed nothing, so even a POST is retried on the
// other target, and the attempt says why.
func TestH2RefusedStreamRetried(t *testing.T) {
	refuser := scriptedH2(t, nil, func(fr *http2.Framer, f *http2.HeadersFrame) bool {
		fr.WriteRSTStream(f.StreamID, http2.ErrCodeRefusedStream)
		return false
	})
	good, _ := okTarget(t)
	hist, reg, lb := historyOf(t, h2Group("", refuser, good))
	retried := 0
	for range 2 {
		resp, err := http.Post("http://"+lb+"/", "text/plain", strings.NewReader("order"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "POST / order" {
			t.Fatalf("status %d body %q, want the POST retried on the good target", resp.StatusCode, body)
		}
		rec, _ := hist.Get(resp.Header.Get("X-Request-Id"))
		if len(rec.Attempts) == 2 {
			retried++
			a := rec.Attempts[0]
			if a.Class.Type != failure.ConnectionTerminated || !a.Class.Unprocessed || !strings.Contains(a.Detail, "REFUSED_STREAM") ||
				!strings.Contains(a.Detail, "stream ") || !strings.Contains(a.Detail, failure.CauseH2RefusedStream) {
				t.Errorf("refused attempt: %+v", a)
			}
			if !strings.Contains(rec.Attempts[1].Evidence, "HTTP/2 stream") {
				t.Errorf("answering attempt's evidence %q", rec.Attempts[1].Evidence)
			}
		}
	}
	if retried == 0 {
		t.Error("no request was retried; round robin sends one to the refuser")
	}
	if got := counter(t, reg, "fulcrum_retries_total", map[string]string{"target_group": "app", "error_type": "connection_terminated"}); got != float64(retried) {
		t.Errorf("retries_total = %v, want %d", got, retried)
	}
}

// TestH2GoAwayBelowStreamRetried: GOAWAY with last-stream-id 0 means the
// target never processed stream 1: retried for a POST.
func TestH2GoAwayBelowStreamRetried(t *testing.T) {
	leaver := scriptedH2(t, nil, func(fr *http2.Framer, f *http2.HeadersFrame) bool {
		fr.WriteGoAway(0, http2.ErrCodeNo, nil)
		return false
	})
	good, _ := okTarget(t)
	hist, _, lb := historyOf(t, h2Group("", leaver, good))
	retried := 0
	for range 2 {
		resp, err := http.Post("http://"+lb+"/", "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d, want 200 after the retry", resp.StatusCode)
		}
		rec, _ := hist.Get(resp.Header.Get("X-Request-Id"))
		if len(rec.Attempts) == 2 {
			retried++
			a := rec.Attempts[0]
			if !a.Class.Unprocessed || !strings.Contains(a.Detail, "GOAWAY last-stream-id=0") || !strings.Contains(a.Detail, failure.CauseH2GoAwayUnprocessed) {
				t.Errorf("GOAWAY attempt: %+v", a)
			}
		}
	}
	if retried == 0 {
		t.Error("no request was retried; round robin sends one to the target that goes away")
	}
}

// TestH2GoAwayProcessedNotRetried: GOAWAY whose last-stream-id covers the
// stream, then the connection closes: the POST may have been processed,
// so it is not retried; the client gets 502 with the evidence.
func TestH2GoAwayProcessedNotRetried(t *testing.T) {
	var calls atomic.Int32
	closer := scriptedH2(t, nil, func(fr *http2.Framer, f *http2.HeadersFrame) bool {
		calls.Add(1)
		fr.WriteGoAway(f.StreamID, http2.ErrCodeNo, nil)
		return true
	})
	hist, _, lb := historyOf(t, h2Group("", closer))
	resp, err := http.Post("http://"+lb+"/", "text/plain", strings.NewReader("pay"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 502 || calls.Load() != 1 {
		t.Fatalf("status %d after %d attempts, want 502 after 1", resp.StatusCode, calls.Load())
	}
	if ps := resp.Header.Get("Proxy-Status"); !strings.Contains(ps, "connection_terminated") {
		t.Errorf("Proxy-Status %q", ps)
	}
	rec, _ := hist.Get(resp.Header.Get("X-Request-Id"))
	if len(rec.Attempts) != 1 || rec.Attempts[0].Class.Unprocessed || !strings.Contains(rec.Attempts[0].Detail, "last-stream-id=1") {
		t.Errorf("attempts %+v", rec.Attempts)
	}
}

// TestH2MaxConcurrentStreamsOpensAnother: a target that allows one
// stream per connection gets a second connection for a second request
// while the first is in flight.
func TestH2MaxConcurrentStreamsOpensAnother(t *testing.T) {
	release := make(chan struct{})
	addr, conns := h2cTarget(t, &http2.Server{MaxConcurrentStreams: 1}, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			io.WriteString(w, "start ")
			w.(http.Flusher).Flush()
			<-release
		}
		io.WriteString(w, "done")
	})
	_, lb := startServer(t, h2Group("", addr))
	slow, err := http.Get("http://" + lb + "/slow")
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Body.Close()
	// The slow stream's header came back, so the target's SETTINGS
	// (MAX_CONCURRENT_STREAMS 1) were read before it.
	fast, err := http.Get("http://" + lb + "/fast")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(fast.Body)
	fast.Body.Close()
	if fast.StatusCode != 200 || string(body) != "done" {
		t.Fatalf("fast: %d %q", fast.StatusCode, body)
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("target accepted %d connections, want 2 (one stream each)", n)
	}
	close(release)
	if b, _ := io.ReadAll(slow.Body); string(b) != "start done" {
		t.Errorf("slow body %q", b)
	}
}

// TestH2ResetAfterHeaders: a stream reset after its response header is
// a cut response (http_response_incomplete): the client's connection is
// aborted, and the attempt names the code.
func TestH2ResetAfterHeaders(t *testing.T) {
	var enc bytes.Buffer
	resetter := scriptedH2(t, nil, func(fr *http2.Framer, f *http2.HeadersFrame) bool {
		enc.Reset()
		he := hpack.NewEncoder(&enc)
		he.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: f.StreamID, BlockFragment: enc.Bytes(), EndHeaders: true})
		fr.WriteData(f.StreamID, false, []byte("partial"))
		fr.WriteRSTStream(f.StreamID, http2.ErrCodeInternal)
		return false
	})
	hist, _, lb := historyOf(t, h2Group("", resetter))
	resp, err := http.Get("http://" + lb + "/")
	if err != nil {
		t.Fatal(err)
	}
	_, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	if rerr == nil {
		t.Error("the client read a whole body; want the cut response to abort its connection")
	}
	recs := hist.Recent(10, true)
	if len(recs) != 1 || recs[0].Error != failure.HTTPResponseIncomplete || !strings.Contains(recs[0].ErrorDetail, "RST_STREAM INTERNAL_ERROR") ||
		!strings.Contains(recs[0].ErrorDetail, failure.CauseH2StreamReset) {
		t.Fatalf("records %+v", recs)
	}
}

// TestH2FlowControlStall: a target that grants no flow-control window
// never lets the request body through; after the idle timeout the client
// gets 504 and the attempt names the stall.
func TestH2FlowControlStall(t *testing.T) {
	staller := scriptedH2(t, []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: 0}}, func(*http2.Framer, *http2.HeadersFrame) bool { return false })
	hist, _, lb := historyOf(t, h2Group("", staller))
	// Larger than the 65535-byte windows a connection starts with, so it
	// stalls whatever the SETTINGS race.
	resp, err := http.Post("http://"+lb+"/upload", "text/plain", strings.NewReader(strings.Repeat("x", 200<<10)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 504 {
		t.Fatalf("status %d, want 504", resp.StatusCode)
	}
	recs := hist.Recent(10, true)
	if len(recs) != 1 || recs[0].Error != failure.HTTPResponseTimeout || !strings.Contains(recs[0].ErrorDetail, failure.CauseH2FlowControlStall) {
		t.Fatalf("records %+v", recs)
	}
}

// TestH2CleartextTargetSpeaksHTTP1: an HTTP2 group whose target only
// speaks HTTP/1.1 fails as an HTTP/2 protocol error, with the cause.
func TestH2CleartextTargetSpeaksHTTP1(t *testing.T) {
	h1 := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer h1.Close()
	hist, _, lb := historyOf(t, h2Group("", hostPort(h1.URL)))
	resp, err := http.Get("http://" + lb + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	recs := hist.Recent(10, true)
	if resp.StatusCode != 502 || len(recs) != 1 || recs[0].Error != failure.HTTPProtocolError || !strings.Contains(recs[0].ErrorDetail, failure.CauseH2ProtocolError) {
		t.Fatalf("status %d, records %+v", resp.StatusCode, recs)
	}
}

// TestH2OverTLSNegotiatesALPN: an https HTTP2 group offers h2 with ALPN;
// a TLS target that only selects http/1.1 fails the TLS phase with the
// cause named, and is never sent HTTP/1.1 instead.
func TestH2OverTLSNegotiatesALPN(t *testing.T) {
	h2 := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", r.Proto, r.TLS.NegotiatedProtocol)
	}))
	h2.EnableHTTP2 = true
	h2.StartTLS()
	defer h2.Close()
	h1 := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	h1.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused ALPN is expected
	h1.StartTLS()
	defer h1.Close()
	tlsGroup := `, protocol: https, tls: {insecure_skip_verify: true}`

	_, lb := startServer(t, h2Group(tlsGroup, hostPort(h2.URL)))
	resp, err := http.Get("http://" + lb + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "HTTP/2.0 h2" {
		t.Fatalf("status %d body %q, want HTTP/2 negotiated with ALPN h2", resp.StatusCode, body)
	}

	hist, _, lb := historyOf(t, h2Group(tlsGroup+", retries: {max_attempts: 1}", hostPort(h1.URL)))
	resp, err = http.Get("http://" + lb + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	recs := hist.Recent(10, true)
	if resp.StatusCode != 502 || len(recs) != 1 || recs[0].Error != failure.TLSProtocolError || !strings.Contains(recs[0].ErrorDetail, failure.CauseH2NotNegotiated) {
		t.Fatalf("status %d, records %+v", resp.StatusCode, recs)
	}
}

// TestH2GoAwayMidFlight: with stream 1 in flight, the target sends
// GOAWAY with last-stream-id 1 as stream 3 arrives: stream 1 completes,
// and stream 3 (a POST, never processed) is retried on a new connection.
func TestH2GoAwayMidFlight(t *testing.T) {
	ok := func(fr *http2.Framer, id uint32) {
		var enc bytes.Buffer
		hpack.NewEncoder(&enc).WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: enc.Bytes(), EndHeaders: true, EndStream: true})
	}
	var heldFirst atomic.Bool
	held := make(chan struct{})
	target := scriptedH2(t, nil, func(fr *http2.Framer, f *http2.HeadersFrame) bool {
		switch {
		case f.StreamID == 1 && heldFirst.CompareAndSwap(false, true):
			close(held) // the first connection's stream 1 waits
		case f.StreamID == 3:
			fr.WriteGoAway(1, http2.ErrCodeNo, nil)
			ok(fr, 1)
		default:
			ok(fr, f.StreamID)
		}
		return false
	})
	hist, _, lb := historyOf(t, h2Group("", target))
	first := make(chan int, 1)
	go func() {
		resp, err := http.Get("http://" + lb + "/first")
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	<-held
	resp, err := http.Post("http://"+lb+"/second", "text/plain", strings.NewReader("pay"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("second: %d, want 200 after its retry", resp.StatusCode)
	}
	if s := <-first; s != 200 {
		t.Errorf("first: %d, want 200: stream 1 was at or below last-stream-id", s)
	}
	rec, _ := hist.Get(resp.Header.Get("X-Request-Id"))
	if len(rec.Attempts) != 2 {
		t.Fatalf("second's attempts %+v, want 2", rec.Attempts)
	}
	if a := rec.Attempts[0]; !a.Class.Unprocessed || !a.Class.Reused || !strings.Contains(a.Detail, "stream 3") || !strings.Contains(a.Detail, "GOAWAY last-stream-id=1") {
		t.Errorf("GOAWAY attempt %+v", a)
	}
}

// BenchmarkProxyGETToH2 is BenchmarkProxyGET/no-access-log with an HTTP2
// group: the same small GETs, carried to an h2c target as streams of one
// pooled connection.
func BenchmarkProxyGETToH2(b *testing.B) {
	backend := httptest.NewUnstartedServer(h2c.NewHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "hello\n")
	}), &http2.Server{}))
	backend.Start()
	defer backend.Close()
	_, addr := startServerOpts(b, fmt.Sprintf(`
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app}]
target_groups: [{name: app, protocol_version: HTTP2, health_check: {enabled: false}, targets: [{address: %q}]}]
`, backend.Listener.Addr().String()), Options{Logger: slog.New(slog.DiscardHandler), Metrics: metrics.New(prometheus.NewRegistry()),
		History: accesslog.NewHistory(accesslog.DefaultHistory)})
	url := "http://" + addr + "/"
	tr := &http.Transport{MaxIdleConnsPerHost: 64, DialContext: (&net.Dialer{}).DialContext}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}
