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
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fulcrumlb/fulcrum/internal/accesslog"
	"github.com/fulcrumlb/fulcrum/internal/config"
	"github.com/fulcrumlb/fulcrum/internal/httpmsg"
	"github.com/fulcrumlb/fulcrum/internal/metrics"
)

// BenchmarkRuleMatch routes a request through ten host and path rules,
// matching the last one.
func BenchmarkRuleMatch(b *testing.B) {
	groups := map[string]*Group{"app": {Name: "app"}, "api": {Name: "api"}}
	var rules []config.Rule
	for i := range 9 {
		rules = append(rules, config.Rule{Priority: i + 1, Host: fmt.Sprintf("svc%d.example.com", i), Path: "/v1/*", TargetGroup: "app"})
	}
	rules = append(rules, config.Rule{Priority: 100, Host: "*.example.com", Path: "/api/*", TargetGroup: "api"})
	h := &Handler{}
	h.setRoutes(config.Listener{DefaultTargetGroup: "app", Rules: rules}, groups)
	r := new(httpmsg.Request)
	httpmsg.FromHTTP(r, httptest.NewRequest("GET", "http://shop.example.com/api/cart?id=1", nil))
	b.ReportAllocs()
	for b.Loop() {
		if _, f := h.routes.Load().route(r); f.groups[0].Name != "api" {
			b.Fatal(f.groups[0].Name)
		}
	}
}

// BenchmarkRewriteHeaders removes hop-by-hop headers from a typical browser
// request and adds the X-Forwarded-* and X-Request-Id headers.
func BenchmarkRewriteHeaders(b *testing.B) {
	base := httpmsg.Header{
		{Name: "Accept", Value: "text/html,application/xhtml+xml"},
		{Name: "Accept-Encoding", Value: "gzip, deflate, br"},
		{Name: "Accept-Language", Value: "en-GB,en;q=0.9"},
		{Name: "Connection", Value: "keep-alive"},
		{Name: "Cookie", Value: "session=abc123"},
		{Name: "User-Agent", Value: "Mozilla/5.0"},
		{Name: "X-Forwarded-For", Value: "203.0.113.7"},
	}
	h := make(httpmsg.Header, 0, 16)
	b.ReportAllocs()
	for b.Loop() {
		h = append(h[:0], base...)
		forwardHeaders(&h, "198.51.100.2:51234", "http", "80", "0123456789abcdef0123456789abcdef", "")
	}
}

// BenchmarkProxyGET sends small GETs over keep-alive connections through
// a whole Server (listener, handler, pool, target) on loopback, with
// metrics and request history on as in `fulcrum serve`. The target is a
// minimal net/http server, so most of the time is Fulcrum's and the
// client's.
func BenchmarkProxyGET(b *testing.B) {
	for _, logOn := range []bool{false, true} {
		name := "no-access-log"
		if logOn {
			name = "alb-access-log"
		}
		b.Run(name, func(b *testing.B) { benchProxyGET(b, logOn) })
	}
}

func benchProxyGET(b *testing.B, logOn bool) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "hello\n")
	}))
	defer backend.Close()
	accessLog := ""
	if logOn {
		accessLog = fmt.Sprintf("access_log: {path: %q}\n", b.TempDir()+"/access.log")
	}
	_, addr := startServerOpts(b, accessLog+fmt.Sprintf(`
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app}]
target_groups: [{name: app, health_check: {enabled: false}, targets: [{address: %q}]}]
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

// BenchmarkProxyGETRaw is BenchmarkProxyGET without net/http on either
// side: a raw keep-alive client and a raw target that answers every
// request head with the same 6-byte response. Its allocs/op are
// Fulcrum's own, per proxied request.
func BenchmarkProxyGETRaw(b *testing.B) {
	const answer = "HTTP/1.1 200 OK\r\nServer: raw\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\nhello\n"
	tln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer tln.Close()
	go func() {
		for {
			c, err := tln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 8192)
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
						if _, err := io.WriteString(c, answer); err != nil {
							return
						}
						have = copy(buf, buf[i+4:have])
					}
				}
			}()
		}
	}()
	_, addr := startServerOpts(b, fmt.Sprintf(`
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app}]
target_groups: [{name: app, health_check: {enabled: false}, targets: [{address: %q}]}]
`, tln.Addr().String()), Options{Logger: slog.New(slog.DiscardHandler), Metrics: metrics.New(prometheus.NewRegistry()),
		History: accesslog.NewHistory(accesslog.DefaultHistory)})
	req := []byte("GET / HTTP/1.1\r\nHost: bench\r\nUser-Agent: raw\r\nAccept: */*\r\n\r\n")
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for pb.Next() {
			if _, err := c.Write(req); err != nil {
				b.Error(err)
				return
			}
			cl := -1
			for {
				line, err := br.ReadSlice('\n')
				if err != nil {
					b.Error(err)
					return
				}
				if len(line) <= 2 {
					break
				}
				if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
					cl, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
				}
			}
			if cl < 0 {
				b.Error("no Content-Length")
				return
			}
			if _, err := br.Discard(cl); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
