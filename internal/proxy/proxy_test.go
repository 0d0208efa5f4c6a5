package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fulcrumlb/fulcrum/internal/config"
	"github.com/fulcrumlb/fulcrum/internal/httpmsg"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startServer runs a Server for cfg on 127.0.0.1:0 until the test ends and
// returns the web listener's address.
func startServer(t *testing.T, cfg string) (*Server, string) {
	t.Helper()
	return startServerOpts(t, cfg, Options{Logger: slog.New(slog.DiscardHandler)})
}

// startServerOpts is startServer with the server's collaborators; the
// benchmarks use it too.
func startServerOpts(t testing.TB, cfg string, opts Options) (*Server, string) {
	t.Helper()
	c, err := config.Load([]byte(cfg))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	s, err := New(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Serve(ctx, 5*time.Second) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, s.Addrs()["web"]
}

func hostPort(u string) string { return u[strings.Index(u, "//")+2:] }

func TestForwardedHeaders(t *testing.T) {
	var got http.Header
	var gotHost string
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, gotHost = r.Header.Clone(), r.Host
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("X-From-Target", "yes")
	}))
	defer backend.Close()
	_, addr := startServer(t, fmt.Sprintf(`
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app}]
target_groups: [{name: app, health_check: {enabled: false}, targets: [{address: %q}]}]
`, hostPort(backend.URL)))
	req, _ := http.NewRequest("GET", "http://"+addr+"/p?q=1", nil)
	req.Host = "shop.example.com"
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	req.Header.Set("Connection", "X-Secret, keep-alive")
	req.Header.Set("X-Secret", "hop")
	req.Header.Set("Proxy-Authorization", "Basic x")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	checks := map[string]string{
		"X-Forwarded-For":     "203.0.113.7, 127.0.0.1",
		"X-Forwarded-Proto":   "http",
		"X-Forwarded-Port":    port,
		"X-Secret":            "",
		"Proxy-Authorization": "",
		"Connection":          "",
	}
	for k, want := range checks {
		if g := got.Get(k); g != want {
			t.Errorf("target saw %s = %q, want %q", k, g, want)
		}
	}
	if gotHost != "shop.example.com" {
		t.Errorf("Host = %q, want the client's", gotHost)
	}
	id := got.Get("X-Request-Id")
	if len(id) != 32 || resp.Header.Get("X-Request-Id") != id {
		t.Errorf("request id: target %q, client %q", id, resp.Header.Get("X-Request-Id"))
	}
	if resp.Header.Get("Keep-Alive") != "" || resp.Header.Get("X-From-Target") != "yes" {
		t.Errorf("response headers: %v", resp.Header)
	}
}

func TestRulesRouteByHostAndPath(t *testing.T) {
	named := func(name string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, name) }))
	}
	app, api, wild := named("app"), named("api"), named("wild")
	defer app.Close()
	defer api.Close()
	defer wild.Close()
	_, addr := startServer(t, fmt.Sprintf(`
listeners:
  - name: web
    address: "127.0.0.1:0"
    default_target_group: app
    rules:
      - {priority: 20, host: "*.example.com", target_group: wild}
      - {priority: 10, host: api.example.com, path: "/api/*", target_group: api}
target_groups:
  - {name: app, health_check: {enabled: false}, targets: [{address: %q}]}
  - {name: api, health_check: {enabled: false}, targets: [{address: %q}]}
  - {name: wild, health_check: {enabled: false}, targets: [{address: %q}]}
`, hostPort(app.URL), hostPort(api.URL), hostPort(wild.URL)))
	tests := []struct{ host, path, want string }{
		{"api.example.com", "/api/v1", "api"},
		{"API.Example.com:8080", "/api/", "api"},
		{"api.example.com", "/other", "wild"},
		{"www.example.com", "/api/v1", "wild"},
		{"example.com", "/", "app"},
		{"other.org", "/api/v1", "app"},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest("GET", "http://"+addr+tc.path, nil)
		req.Host = tc.host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != tc.want {
			t.Errorf("%s%s went to %q, want %q", tc.host, tc.path, b, tc.want)
		}
	}
}

// TestRetryRulesByMethod: a POST is retried when the connect was refused
// (nothing reached a target), but not when a target reset the connection
// after receiving it; a GET is retried in both cases.
func TestRetryRulesByMethod(t *testing.T) {
	var resets atomic.Int64
	resetter := rawListener(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		if req, err := http.ReadRequest(br); err == nil {
			io.Copy(io.Discard, req.Body)
			resets.Add(1)
			c.(*net.TCPConn).SetLinger(0)
		}
	})
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(w, r.Body) }))
	defer ok.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	refused := ln.Addr().String()
	ln.Close()
	_, addr := startServer(t, fmt.Sprintf(`
listeners:
  - name: web
    address: "127.0.0.1:0"
    default_target_group: refused
    rules: [{priority: 1, path: "/reset", target_group: reset}]
target_groups:
  - {name: refused, algorithm: round_robin, health_check: {enabled: false}, targets: [{address: %q}, {address: %q}]}
  - {name: reset, health_check: {enabled: false}, targets: [{address: %q}, {address: %q}]}
`, refused, hostPort(ok.URL), resetter, hostPort(ok.URL)))

	do := func(method, path string) int {
		resp, err := http.DefaultClient.Do(mustReq(method, "http://"+addr+path, "body"))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for range 4 {
		if s := do("POST", "/"); s != 200 {
			t.Errorf("POST with one refusing target: %d, want 200 after a retry", s)
		}
	}
	var postFailures int
	for range 4 {
		switch s := do("POST", "/reset"); s {
		case 502:
			postFailures++
		case 200:
		default:
			t.Errorf("POST to /reset: %d", s)
		}
	}
	if postFailures != 2 {
		t.Errorf("POSTs that met the resetting target: %d failed, want 2 (no retry after the request was sent)", postFailures)
	}
	for range 4 {
		if s := do("GET", "/reset"); s != 200 {
			t.Errorf("GET to /reset: %d, want 200 after a retry", s)
		}
	}
}

func mustReq(method, url, body string) *http.Request {
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	return req
}

// rawListener serves each connection with handle until the test ends.
func rawListener(t *testing.T, handle func(net.Conn)) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			handle(c)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

func TestWebSocketUpgradePassesThrough(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			w.WriteHeader(400)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		line, _ := brw.ReadString('\n')
		brw.WriteString("echo: " + line)
		brw.Flush()
	}))
	defer backend.Close()
	_, addr := startServer(t, fmt.Sprintf(`
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app}]
target_groups: [{name: app, health_check: {enabled: false}, targets: [{address: %q}]}]
`, hostPort(backend.URL)))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 || resp.Header.Get("Upgrade") != "websocket" {
		t.Fatalf("upgrade response: %v %+v", err, resp)
	}
	io.WriteString(c, "hello\n")
	if line, err := br.ReadString('\n'); err != nil || line != "echo: hello\n" {
		t.Fatalf("after the upgrade: %q %v", line, err)
	}
}

// TestUpgradeNamesTheTargetsProtocol: the 101 the client gets names the
// protocol the target switched to, not the list the client offered
// (RFC 9110 §7.8).
func TestUpgradeNamesTheTargetsProtocol(t *testing.T) {
	target := rawListener(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil || !strings.Contains(req.Header.Get("Upgrade"), "websocket") {
			io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
			return
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		line, _ := br.ReadString('\n')
		io.WriteString(c, "echo: "+line)
	})
	_, addr := startServer(t, fmt.Sprintf(`
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app}]
target_groups: [{name: app, health_check: {enabled: false}, targets: [{address: %q}]}]
`, target))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: foo/2, websocket\r\nConnection: Upgrade\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade response: %v %+v", err, resp)
	}
	if got := resp.Header.Values("Upgrade"); len(got) != 1 || got[0] != "websocket" {
		t.Errorf("Upgrade %q, want the target's websocket", got)
	}
	io.WriteString(c, "hello\n")
	if line, err := br.ReadString('\n'); err != nil || line != "echo: hello\n" {
		t.Fatalf("after the upgrade: %q %v", line, err)
	}
}

func TestHTTPSListenerServesHTTP2(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", r.Header.Get("X-Forwarded-Proto"), r.Proto)
	}))
	defer backend.Close()
	tlsSrv := httptest.NewUnstartedServer(nil)
	tlsSrv.StartTLS()
	cert := tlsSrv.TLS.Certificates[0]
	tlsSrv.Close()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writePEM(t, certFile, keyFile, cert)
	_, addr := startServer(t, fmt.Sprintf(`
listeners: [{name: web, address: "127.0.0.1:0", protocol: https, tls: {cert_file: %q, key_file: %q}, default_target_group: app}]
target_groups: [{name: app, health_check: {enabled: false}, targets: [{address: %q}]}]
`, certFile, keyFile, hostPort(backend.URL)))
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("https://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || string(b) != "https HTTP/1.1" {
		t.Errorf("client proto %s, target saw %q; want HTTP/2 in front and HTTP/1.1 behind", resp.Proto, b)
	}
}

func writePEM(t *testing.T, certFile, keyFile string, cert tls.Certificate) {
	t.Helper()
	if err := os.WriteFile(certFile, pemBlock("CERTIFICATE", cert.Certificate[0]), 0o600); err != nil {
		t.Fatal(err)
	}
	key, err := marshalKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pemBlock("PRIVATE KEY", key), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestRequestURLAddsListenerPortOnce(t *testing.T) {
	tests := []struct{ host, want string }{
		{"Shop.Example.com", "http://Shop.Example.com:8080/a?b=1"},
		{"shop.example.com:9000", "http://shop.example.com:9000/a?b=1"},
		{"[2001:db8::1]", "http://[2001:db8::1]:8080/a?b=1"},
		{"[2001:db8::1]:81", "http://[2001:db8::1]:81/a?b=1"},
		{"2001:db8::1", "http://2001:db8::1:8080/a?b=1"},
		{"h:", "http://h:/a?b=1"},
	}
	for _, tc := range tests {
		r := &httpmsg.Request{Method: "GET", Host: tc.host}
		if err := r.SetTarget("GET", "/a?b=1"); err != nil {
			t.Fatal(err)
		}
		if got := newRequestStrings(nil, r, false, "8080", false, time.Time{}).url; got != tc.want {
			t.Errorf("requestURL(Host %q) = %q, want %q", tc.host, got, tc.want)
		}
	}
}

// TestRequestFramingSentOnce: the client's Content-Length is replaced by
// the framing Fulcrum writes, never repeated. nginx answers 400 to a
// request with two Content-Length fields, even equal ones.
func TestRequestFramingSentOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	heads := make(chan string, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					var head strings.Builder
					for {
						line, err := br.ReadString('\n')
						if err != nil {
							return
						}
						head.WriteString(line)
						if line == "\r\n" {
							break
						}
					}
					req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head.String())))
					if err != nil {
						return
					}
					io.CopyN(io.Discard, br, req.ContentLength)
					heads <- head.String()
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				}
			}()
		}
	}()
	_, addr := startServer(t, fmt.Sprintf(`
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app}]
target_groups: [{name: app, health_check: {enabled: false}, targets: [{address: %q}]}]
`, ln.Addr().String()))
	for _, tc := range []struct {
		method, body, want string
	}{
		{"POST", strings.Repeat("x", 16384), "Content-Length: 16384\r\n"},
		{"POST", "", "Content-Length: 0\r\n"},
		{"GET", "", ""},
	} {
		req, _ := http.NewRequest(tc.method, "http://"+addr+"/", strings.NewReader(tc.body))
		if tc.body == "" {
			req.Body, req.ContentLength = http.NoBody, 0
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		head := <-heads
		if n := strings.Count(head, "Content-Length:"); (tc.want == "" && n != 0) || (tc.want != "" && (n != 1 || !strings.Contains(head, tc.want))) {
			t.Errorf("%s with %d body bytes sent:\n%s", tc.method, len(tc.body), head)
		}
	}
}

// TestReusePort: with reuse_port two servers bind one address (the old and
// the new binary during a restart) and both answer; without it the second
// bind fails as usual.
func TestReusePort(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	defer backend.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := func(reuse bool) *config.Config {
		c, err := config.Load([]byte(fmt.Sprintf(`
listeners: [{name: web, address: %q, reuse_port: %v, default_target_group: app}]
target_groups: [{name: app, health_check: {enabled: false}, targets: [{address: %q}]}]
`, addr, reuse, hostPort(backend.URL))))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	var servers []*Server
	for range 2 {
		s, err := New(cfg(true), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Listen(); err != nil {
			t.Fatalf("second bind with reuse_port: %v", err)
		}
		servers = append(servers, s)
	}
	plain, err := New(cfg(false), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := plain.Listen(); err == nil {
		t.Error("a bind without reuse_port succeeded on an address in use")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	for _, s := range servers {
		go func() { done <- s.Serve(ctx, time.Second) }()
	}
	defer func() {
		cancel()
		for range servers {
			<-done
		}
	}()
	for range 20 {
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
}
