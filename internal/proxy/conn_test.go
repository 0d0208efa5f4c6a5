package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fulcrumlb/fulcrum/internal/accesslog"
	"github.com/fulcrumlb/fulcrum/internal/config"
	"github.com/fulcrumlb/fulcrum/internal/metrics"
)

// recordingTarget is a raw TCP target that records the bytes of every
// request it reads, and whether the connection it came on was one
// already used before. It answers "ok" with a Content-Length.
type recordingTarget struct {
	addr string
	mu   sync.Mutex
	reqs []string // raw request bytes, head and body
	// conns counts accepted connections.
	conns int
}

func newRecordingTarget(t *testing.T) *recordingTarget {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rt := &recordingTarget{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	var open sync.Map
	t.Cleanup(func() {
		ln.Close()
		open.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			rt.mu.Lock()
			rt.conns++
			rt.mu.Unlock()
			open.Store(c, true)
			wg.Go(func() {
				defer c.Close()
				var raw bytes.Buffer
				br := bufio.NewReader(io.TeeReader(c, &raw))
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					// What the tee read beyond this request stays in br.
					n := raw.Len() - br.Buffered()
					rt.mu.Lock()
					rt.reqs = append(rt.reqs, string(raw.Bytes()[:n]))
					rt.mu.Unlock()
					rest := append([]byte(nil), raw.Bytes()[n:]...)
					raw.Reset()
					raw.Write(rest)
					resp := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
					if req.Close {
						resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
					}
					if _, err := io.WriteString(c, resp); err != nil || req.Close {
						return
					}
				}
			})
		}
	})
	return rt
}

func (rt *recordingTarget) requests() []string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return append([]string(nil), rt.reqs...)
}

// startEdge runs a server with one listener "web" in front of target,
// with extra listener settings, and returns its address and history.
func startEdge(t *testing.T, target, listenerExtra string) (string, *accesslog.History) {
	t.Helper()
	hist := accesslog.NewHistory(100)
	_, addr := startServerOpts(t, fmt.Sprintf(`
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app%s}]
target_groups: [{name: app, health_check: {enabled: false}, targets: [{address: %q}]}]
`, listenerExtra, target), Options{Logger: slog.New(slog.DiscardHandler), History: hist})
	return addr, hist
}

// exchange sends raw on a new connection and reads the responses that
// follow, until n are read or the connection ends. It reports whether
// the connection was closed by the server after them.
func rawExchange(t *testing.T, addr, raw string, n int) ([]*http.Response, []string, bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var resps []*http.Response
	var bodies []string
	for range n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			break
		}
		b, _ := io.ReadAll(resp.Body)
		resps = append(resps, resp)
		bodies = append(bodies, string(b))
	}
	// Closed: a read gets EOF (not a timeout) soon.
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	_, err = br.ReadByte()
	closed := err != nil && !isTimeoutErr(err)
	return resps, bodies, closed
}

func isTimeoutErr(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func TestConnPipelining(t *testing.T) {
	tg := newRecordingTarget(t)
	addr, _ := startEdge(t, tg.addr, "")
	resps, bodies, closed := rawExchange(t, addr,
		"GET /one HTTP/1.1\r\nHost: a\r\n\r\nPOST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET /three HTTP/1.1\r\nHost: a\r\n\r\n", 3)
	if len(resps) != 3 {
		t.Fatalf("%d responses, want 3", len(resps))
	}
	for i, r := range resps {
		if r.StatusCode != 200 || bodies[i] != "ok" || r.Header.Get("X-Request-Id") == "" {
			t.Errorf("response %d: %d %q %v", i, r.StatusCode, bodies[i], r.Header)
		}
	}
	if closed {
		t.Error("the connection closed after pipelined requests")
	}
	got := tg.requests()
	if len(got) != 3 || !strings.HasPrefix(got[0], "GET /one ") || !strings.HasPrefix(got[1], "POST /two ") ||
		!strings.HasSuffix(got[1], "\r\n\r\nabc") || !strings.HasPrefix(got[2], "GET /three ") {
		t.Errorf("target got %q", got)
	}
}

func TestConnExpectContinue(t *testing.T) {
	tg := newRecordingTarget(t)
	addr, _ := startEdge(t, tg.addr, "")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "PUT /up HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("first line %q, %v; want 100 Continue before the body is sent", line, err)
	}
	br.ReadString('\n')
	io.WriteString(c, "hello")
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("response %v, %v", resp, err)
	}
	got := tg.requests()
	if len(got) != 1 || !strings.HasSuffix(got[0], "\r\n\r\nhello") || strings.Contains(strings.ToLower(got[0]), "expect:") {
		t.Errorf("target got %q", got)
	}
}

// TestConnOwnAnswers checks the loop's refusals: each has its status,
// Server: fulcrum, Proxy-Status and X-Request-Id, closes the connection
// (but a 463, whose request was read whole), reaches no target, and is
// logged.
func TestConnOwnAnswers(t *testing.T) {
	tg := newRecordingTarget(t)
	addr, hist := startEdge(t, tg.addr, ", max_uri_bytes: 256, max_header_bytes: 1024, max_request_body_bytes: 10")
	xff := strings.TrimSuffix(strings.Repeat("10.0.0.1, ", 31), ", ")
	for _, c := range []struct {
		name, raw string
		status    int
		errType   string
	}{
		{"malformed", "GET / HTTP/1.1\r\nHost: a\r\nNot a header\r\n\r\n", 400, "http_request_error"},
		{"uri too long", "GET /" + strings.Repeat("u", 300) + " HTTP/1.1\r\nHost: a\r\n\r\n", 414, "http_request_error"},
		{"header too large", "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("b", 2000) + "\r\n\r\n", 431, "http_request_error"},
		{"body too large", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world", 413, "http_request_denied"},
		{"xff", "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: " + xff + "\r\n\r\n", 463, "http_request_denied"},
		{"transfer coding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked, br\r\n\r\n", 501, "http_request_error"},
		{"version", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, "http_request_error"},
		{"h2c preface off", h2Preface, 505, "http_request_error"},
		{"severe", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length : abc\r\n\r\n", 400, "http_request_denied"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resps, _, closed := rawExchange(t, addr, c.raw, 1)
			if len(resps) != 1 {
				t.Fatal("no response")
			}
			r := resps[0]
			id := r.Header.Get("X-Request-Id")
			if r.StatusCode != c.status || r.Header.Get("Server") != "fulcrum" || id == "" ||
				!strings.Contains(r.Header.Get("Proxy-Status"), "error="+c.errType) {
				t.Errorf("answer %d %v", r.StatusCode, r.Header)
			}
			// A 463 reads the whole request, so the connection can stay.
			if keep := c.status == 463; closed == keep || r.Close == keep {
				t.Errorf("connection closed %v, Connection: close %v; want kept %v", closed, r.Close, keep)
			}
			var rec *accesslog.Record
			for _, x := range hist.Recent(100, false) {
				if x.TraceID == id {
					rec = &x
				}
			}
			if rec == nil || rec.ELBStatus != c.status || rec.Error.String() != c.errType || rec.Listener != "web" {
				t.Errorf("logged %+v", rec)
			}
		})
	}
	if got := tg.requests(); len(got) != 0 {
		t.Errorf("target got %q", got)
	}
}

// TestConnHeaderTimeout checks that a client that starts a request and
// stalls gets 408 after request_header_timeout, and one that sends
// nothing is closed silently after idle_timeout.
func TestConnHeaderTimeout(t *testing.T) {
	tg := newRecordingTarget(t)
	addr, hist := startEdge(t, tg.addr, ", request_header_timeout: 1s, idle_timeout: 1s")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 408 || resp.Header.Get("Server") != "fulcrum" || !resp.Close {
		t.Fatalf("stalled header: %v, %v; want 408 with Connection: close", resp, err)
	}
	id := resp.Header.Get("X-Request-Id")
	found := false
	for _, x := range hist.Recent(100, false) {
		found = found || x.TraceID == id && x.ELBStatus == 408
	}
	if !found {
		t.Error("the 408 was not logged")
	}

	quiet, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer quiet.Close()
	quiet.SetDeadline(time.Now().Add(5 * time.Second))
	n, err := quiet.Read(make([]byte, 1))
	if n != 0 || err != io.EOF {
		t.Errorf("idle connection: read %d, %v; want a silent close", n, err)
	}
}

// TestConnDesyncModes sends one request of each tier in each mode to a
// recording target and checks the answer, what reached the target and
// whether the client connection stayed open, per ALB's table.
func TestConnDesyncModes(t *testing.T) {
	reqs := map[string]string{
		"Compliant":  "GET /c HTTP/1.1\r\nHost: a\r\n\r\n",
		"Acceptable": "GET /a HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
		"Ambiguous":  "POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length : 2\r\n\r\nhi",
		"Severe":     "GET /s HTTP/1.1\r\nHost: a\r\nContent-Length : abc\r\n\r\n",
	}
	type want struct {
		status    int
		forwarded bool
		closed    bool
	}
	table := map[string]map[string]want{
		"monitor": {"Compliant": {200, true, false}, "Acceptable": {200, true, false}, "Ambiguous": {200, true, false}, "Severe": {200, true, false}},
		"defensive": {"Compliant": {200, true, false}, "Acceptable": {200, true, false}, "Ambiguous": {200, true, true},
			"Severe": {400, false, true}},
		"strictest": {"Compliant": {200, true, false}, "Acceptable": {400, false, false}, "Ambiguous": {400, false, true},
			"Severe": {400, false, true}},
	}
	for mode, rows := range table {
		t.Run(mode, func(t *testing.T) {
			tg := newRecordingTarget(t)
			addr, hist := startEdge(t, tg.addr, ", desync_mitigation_mode: "+mode)
			for tier, w := range rows {
				before := len(tg.requests())
				resps, _, closed := rawExchange(t, addr, reqs[tier], 1)
				if len(resps) != 1 || resps[0].StatusCode != w.status {
					t.Errorf("%s: responses %v, want %d", tier, resps, w.status)
					continue
				}
				if closed != w.closed {
					t.Errorf("%s: client connection closed %v, want %v", tier, closed, w.closed)
				}
				got := tg.requests()[before:]
				if forwarded := len(got) > 0; forwarded != w.forwarded {
					t.Errorf("%s: forwarded %v, want %v", tier, forwarded, w.forwarded)
				}
				for _, g := range got {
					low := strings.ToLower(g)
					if strings.Count(low, "content-length") > 1 || strings.Contains(low, "content-length :") ||
						strings.Contains(low, "transfer-encoding") && strings.Contains(low, "content-length") {
						t.Errorf("%s: target got more than one framing: %q", tier, g)
					}
					if tier == "Ambiguous" && mode == "defensive" && !strings.Contains(low, "connection: close") {
						t.Errorf("%s: the target connection is not closed: %q", tier, g)
					}
				}
				id := resps[0].Header.Get("X-Request-Id")
				for _, x := range hist.Recent(100, false) {
					if x.TraceID == id && tier != "Compliant" && x.Classification != tier {
						t.Errorf("%s: logged classification %q", tier, x.Classification)
					}
				}
			}
		})
	}
}

// TestConnH2C checks h2c prior knowledge with h2c on, and that an
// HTTP/1.1 Upgrade: h2c is served as HTTP/1.1 with the upgrade removed.
func TestConnH2C(t *testing.T) {
	tg := newRecordingTarget(t)
	addr, _ := startEdge(t, tg.addr, ", h2c: true")
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	h2 := &http.Transport{Protocols: &protos}
	defer h2.CloseIdleConnections()
	resp, err := (&http.Client{Transport: h2}).Get("http://" + addr + "/h2")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 || string(body) != "ok" {
		t.Errorf("h2c: %s %d %q", resp.Proto, resp.StatusCode, body)
	}

	resps, _, _ := rawExchange(t, addr, "GET /up HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n", 1)
	if len(resps) != 1 || resps[0].StatusCode != 200 {
		t.Fatalf("Upgrade: h2c answered %v", resps)
	}
	for _, g := range tg.requests() {
		if strings.HasPrefix(g, "GET /up ") {
			low := strings.ToLower(g)
			if strings.Contains(low, "upgrade") || strings.Contains(low, "http2-settings") {
				t.Errorf("the target got the h2c upgrade: %q", g)
			}
		}
	}
}

// TestConnHTTPS checks an https listener: ALPN h2 goes to HTTP/2, ALPN
// http/1.1 to the loop, and the loop's own answers there are logged too.
func TestConnHTTPS(t *testing.T) {
	tg := newRecordingTarget(t)
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "a.pem"), filepath.Join(dir, "a.key")
	writePEM(t, cert, key, selfSigned(t, "a.test"))
	addr, hist := startEdge(t, tg.addr, fmt.Sprintf(", protocol: https, certificates: [{cert_file: %q, key_file: %q}]", cert, key))
	for _, h2 := range []bool{true, false} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{ServerName: "a.test", InsecureSkipVerify: true}, ForceAttemptHTTP2: h2}
		if !h2 {
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
		resp, err := (&http.Client{Transport: tr}).Get("https://" + addr + "/x")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		tr.CloseIdleConnections()
		if want := map[bool]int{true: 2, false: 1}[h2]; resp.ProtoMajor != want || resp.StatusCode != 200 || string(body) != "ok" {
			t.Errorf("h2 %v: %s %d %q", h2, resp.Proto, resp.StatusCode, body)
		}
	}
	c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "a.test", InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\nBad header\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 400 || resp.Header.Get("Server") != "fulcrum" {
		t.Fatalf("malformed over TLS: %v, %v", resp, err)
	}
	id := resp.Header.Get("X-Request-Id")
	found := false
	for _, x := range hist.Recent(100, false) {
		found = found || x.TraceID == id && x.ELBStatus == 400 && x.Type == "https"
	}
	if !found {
		t.Error("the 400 on an https listener was not logged")
	}
}

// slowTarget answers each request after delay, or never when delay is 0.
func slowTarget(t *testing.T, delay time.Duration) string {
	t.Helper()
	stop := make(chan struct{})
	backend := httptestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if delay == 0 {
			select {
			case <-r.Context().Done():
			case <-stop:
			}
			return
		}
		time.Sleep(delay)
		io.WriteString(w, r.URL.Path)
	}))
	t.Cleanup(func() { close(stop) })
	return backend
}

// TestConnClientGone checks that a client that leaves while the target
// is silent gets its request logged as 460, and that bytes the watch read
// meanwhile (a pipelined request) are served after the slow one.
func TestConnClientGone(t *testing.T) {
	addr, hist := startEdge(t, slowTarget(t, 0), "")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET /silent HTTP/1.1\r\nHost: a\r\nX-Request-Id: gone-460\r\n\r\n")
	time.Sleep(100 * time.Millisecond) // past clientCloseDelay: the watch is reading
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if rec, ok := findRecord(hist, "gone-460"); ok {
			if rec.ELBStatus != 460 {
				t.Fatalf("logged %d, want 460", rec.ELBStatus)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no 460 logged")
		}
		time.Sleep(10 * time.Millisecond)
	}

	addr2, _ := startEdge(t, slowTarget(t, 150*time.Millisecond), "")
	p, err := net.Dial("tcp", addr2)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(p, "GET /first HTTP/1.1\r\nHost: a\r\n\r\n")
	time.Sleep(60 * time.Millisecond) // the watch has started
	io.WriteString(p, "GET /second HTTP/1.1\r\nHost: a\r\n\r\n")
	br := bufio.NewReader(p)
	for _, want := range []string{"/first", "/second"} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: %v", want, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if string(b) != want {
			t.Errorf("got %q, want %q", b, want)
		}
	}
}

func findRecord(h *accesslog.History, id string) (accesslog.Record, bool) {
	for _, x := range h.Recent(100, false) {
		if x.TraceID == id {
			return x, true
		}
	}
	return accesslog.Record{}, false
}

func httptestServer(t *testing.T, h http.Handler) string {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.Listener.Addr().String()
}

// TestConnReframesBody checks that a request with both framings reaches
// the target with one: its chunked body de-chunked and chunked again,
// without Content-Length or a look-alike.
func TestConnReframesBody(t *testing.T) {
	tg := newRecordingTarget(t)
	addr, _ := startEdge(t, tg.addr, ", desync_mitigation_mode: monitor")
	resps, _, closed := rawExchange(t, addr, "POST /tecl HTTP/1.1\r\nHost: a\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n"+
		"Transfer_Encoding: x\r\n\r\n3;ext=1\r\nhel\r\n2\r\nlo\r\n0\r\nX-Trailer: t\r\n\r\n", 1)
	if len(resps) != 1 || resps[0].StatusCode != 200 {
		t.Fatalf("answered %v", resps)
	}
	if !closed {
		t.Error("a request with both framings must close the client connection (RFC 9112 §6.1)")
	}
	got := tg.requests()
	if len(got) != 1 {
		t.Fatalf("target got %q", got)
	}
	low := strings.ToLower(got[0])
	if strings.Contains(low, "content-length") || strings.Contains(low, "transfer_encoding") ||
		strings.Count(low, "transfer-encoding: chunked") != 1 || !strings.HasSuffix(got[0], "\r\n0\r\n\r\n") ||
		strings.Contains(got[0], "ext=") || strings.Contains(got[0], "X-Trailer") {
		t.Errorf("target got %q", got[0])
	}
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(got[0])))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(req.Body); string(b) != "hello" {
		t.Errorf("target's body %q", b)
	}
}

// TestConnGracefulShutdown checks that shutdown closes an idle
// keep-alive connection at once and lets a request in flight finish,
// answered with Connection: close.
func TestConnGracefulShutdown(t *testing.T) {
	target := slowTarget(t, 300*time.Millisecond)
	c, err := config.Load(fmt.Appendf(nil, `
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app}]
target_groups: [{name: app, health_check: {enabled: false}, targets: [{address: %q}]}]
`, target))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(c, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	addr := s.Addrs()["web"]
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Serve(ctx, 5*time.Second) }()

	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	busy, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busy.SetDeadline(time.Now().Add(5 * time.Second))
	idle.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(busy, "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	time.Sleep(50 * time.Millisecond) // the request is with the target
	cancel()
	if n, err := idle.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("idle connection: %d, %v; want closed", n, err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(busy), nil)
	if err != nil || resp.StatusCode != 200 || !resp.Close {
		t.Fatalf("in-flight request: %v, %v; want 200 with Connection: close", resp, err)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// TestConnEarlyHints checks that a target's 103 Early Hints reaches an
// HTTP/1.1 client before the final response, and not an HTTP/1.0 one.
func TestConnEarlyHints(t *testing.T) {
	target := httptestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		io.WriteString(w, "final")
	}))
	addr, _ := startEdge(t, target, "")
	for _, v := range []string{"1.1", "1.0"} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET / HTTP/"+v+"\r\nHost: a\r\n\r\n")
		br := bufio.NewReader(c)
		first, _ := br.ReadString('\n')
		c.Close()
		want := "HTTP/1.1 103 Early Hints\r\n"
		if v == "1.0" {
			want = "HTTP/1.1 200 OK\r\n"
		}
		if first != want {
			t.Errorf("HTTP/%s: first line %q, want %q", v, first, want)
		}
	}
}

// TestConnDesyncMetric checks that a non-compliant request is counted
// with its listener, classification and reason, a malformed one too.
func TestConnDesyncMetric(t *testing.T) {
	tg := newRecordingTarget(t)
	reg := prometheus.NewRegistry()
	_, addr := startServerOpts(t, fmt.Sprintf(`
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app}]
target_groups: [{name: app, health_check: {enabled: false}, targets: [{address: %q}]}]
`, tg.addr), Options{Logger: slog.New(slog.DiscardHandler), Metrics: metrics.New(reg)})
	rawExchange(t, addr, "GET / HTTP/1.1\r\nHost: a\r\nTransfer_Encoding: x\r\n\r\n", 1)
	rawExchange(t, addr, "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 1)
	for _, c := range []struct{ class, reason string }{{"Ambiguous", "SuspiciousHeader"}, {"Severe", "MultipleContentLength"}} {
		if got := counter(t, reg, "fulcrum_desync_requests_total", map[string]string{"listener": "web", "classification": c.class, "reason": c.reason}); got != 1 {
			t.Errorf("%s/%s counted %v, want 1", c.class, c.reason, got)
		}
	}
}

// newLenientTarget is a raw TCP target that records each request's
// bytes, head and body, whatever they hold (control bytes in the request
// line, codings net/http refuses): it splits requests only by the
// forwarded framing, and answers "ok".
func newLenientTarget(t *testing.T) *recordingTarget {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rt := &recordingTarget{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	var open sync.Map
	t.Cleanup(func() {
		ln.Close()
		open.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			open.Store(c, true)
			wg.Go(func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					var raw strings.Builder
					chunked, cl := false, 0
					for {
						line, err := br.ReadString('\n')
						if err != nil {
							return
						}
						raw.WriteString(line)
						l := strings.ToLower(strings.TrimRight(line, "\r\n"))
						if l == "" {
							break
						}
						if v, ok := strings.CutPrefix(l, "transfer-encoding:"); ok {
							chunked = strings.HasSuffix(strings.TrimSpace(v), "chunked")
						}
						if v, ok := strings.CutPrefix(l, "content-length:"); ok {
							fmt.Sscan(v, &cl)
						}
					}
					switch {
					case chunked:
						for !strings.HasSuffix(raw.String(), "\r\n0\r\n\r\n") {
							b, err := br.ReadByte()
							if err != nil {
								return
							}
							raw.WriteByte(b)
						}
					case cl > 0:
						b := make([]byte, cl)
						if _, err := io.ReadFull(br, b); err != nil {
							return
						}
						raw.Write(b)
					}
					rt.mu.Lock()
					rt.reqs = append(rt.reqs, raw.String())
					rt.mu.Unlock()
					if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
						return
					}
				}
			})
		}
	})
	return rt
}

// TestConnGuardianGaps: requests the parser once refused outright are
// left to the classifier and the mode, as ALB does (docs/desync.md): an
// empty field name (EmptyHeader, never forwarded), control bytes in the
// target (AmbiguousUri, forwarded as received), codings before the final
// chunked (Compliant, forwarded with one chunked framing made anew), and
// NUL in a field value (refused, but logged Severe/BadHeader).
func TestConnGuardianGaps(t *testing.T) {
	type row struct {
		name, raw    string
		mode         string
		status       int
		tier, reason string
		// forwarded is the exact request the target must get; "" for none.
		forwarded string
		closed    bool
	}
	for _, c := range []row{
		{"empty name", "POST /e HTTP/1.1\r\nHost: a\r\n: chunked\r\n:X:Transfer-Encoding:: chunked\r\nContent-Length: 2\r\n\r\nhi", "monitor", 200, "Ambiguous", "EmptyHeader",
			"Content-Length: 2\r\n\r\nhi", false},
		{"empty name, defensive", "POST /e HTTP/1.1\r\nHost: a\r\n: chunked\r\nContent-Length: 2\r\n\r\nhi", "defensive", 200, "Ambiguous", "EmptyHeader",
			"Content-Length: 2\r\nConnection: close\r\n\r\nhi", true},
		{"empty name, strictest", "POST /e HTTP/1.1\r\nHost: a\r\n: chunked\r\nContent-Length: 2\r\n\r\nhi", "strictest", 400, "Ambiguous", "EmptyHeader", "", true},
		{"tab in target", "GET /a\tHTTP/1.1?q=\x01 HTTP/1.1\r\nHost: a\r\n\r\n", "monitor", 200, "Ambiguous", "AmbiguousUri",
			"GET /a\tHTTP/1.1?q=\x01 HTTP/1.1\r\n", false},
		{"tab in target, defensive", "GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", "defensive", 200, "Ambiguous", "AmbiguousUri", "GET /a\tb HTTP/1.1\r\n", true},
		{"tab in target, strictest", "GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", "strictest", 400, "Ambiguous", "AmbiguousUri", "", false},
		{"codings", "POST /g HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: identity, deflate ;, chunked;p\r\n\r\n3;x\r\nabc\r\n0\r\n\r\n", "strictest", 200, "-", "-",
			"Transfer-Encoding: gzip, deflate, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", false},
		{"NUL in value", "POST /n HTTP/1.1\r\nHost: a\r\nX-A: a\x00b\r\nContent-Length: 2\r\n\r\nhi", "defensive", 400, "Severe", "BadHeader", "", true},
		{"NUL in value, monitor", "POST /n HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \x00chunked\r\n\r\n", "monitor", 400, "Severe", "BadHeader", "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			tg := newLenientTarget(t)
			addr, hist := startEdge(t, tg.addr, ", desync_mitigation_mode: "+c.mode)
			resps, _, closed := rawExchange(t, addr, c.raw, 1)
			if len(resps) != 1 || resps[0].StatusCode != c.status {
				t.Fatalf("answered %v, want %d", resps, c.status)
			}
			if closed != c.closed {
				t.Errorf("client connection closed %v, want %v", closed, c.closed)
			}
			got := tg.requests()
			switch {
			case c.forwarded == "" && len(got) != 0:
				t.Errorf("refused, yet the target got %q", got)
			case c.forwarded != "" && len(got) != 1:
				t.Errorf("target got %q", got)
			case c.forwarded != "":
				g := got[0]
				ok := strings.HasPrefix(c.forwarded, "GET ") && strings.HasPrefix(g, c.forwarded) ||
					!strings.HasPrefix(c.forwarded, "GET ") && strings.HasSuffix(g, c.forwarded)
				if !ok || strings.Contains(g, "\n:") || strings.Contains(g, "%09") ||
					strings.Count(strings.ToLower(g), "transfer-encoding")+strings.Count(strings.ToLower(g), "content-length") > 1 {
					t.Errorf("target got %q, want %q", g, c.forwarded)
				}
			}
			id := resps[0].Header.Get("X-Request-Id")
			rec, ok := findRecord(hist, id)
			if c.tier == "-" {
				c.tier, c.reason = "", ""
			}
			if !ok || rec.Classification != c.tier || rec.ClassificationReason != c.reason {
				t.Errorf("logged %q/%q, want %q/%q", rec.Classification, rec.ClassificationReason, c.tier, c.reason)
			}
		})
	}
}
