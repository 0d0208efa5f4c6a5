package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestFailureTable drives every row of the failure table through
// the binary and checks the status, the Proxy-Status error type and the
// ALB access log fields.
func TestFailureTable(t *testing.T) {
	slowBody := rawServer(t, respondOnce("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten.."))
	silent := rawServer(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	closer := rawServer(t, func(c net.Conn) { readRequest(bufio.NewReader(c)) })
	malformed := rawServer(t, respondOnce("HTTP/1.1 200 OK\r\nThis is not a header\r\n\r\n"))
	// net/http's reader accepts a name with a space; Fulcrum must not pass it on.
	badName := rawServer(t, respondOnce("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Debug Info: broken\r\n\r\nok"))
	huge := rawServer(t, respondOnce("HTTP/1.1 200 OK\r\nX-Big: "+strings.Repeat("a", 40<<10)+"\r\nContent-Length: 0\r\n\r\n"))
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer plain.Close()
	selfSigned := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	selfSigned.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are expected
	selfSigned.StartTLS()
	defer selfSigned.Close()
	target500 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) }))
	defer target500.Close()
	hole := blackhole(t)

	groups := []struct{ name, proto, addr string }{
		{"refused", "http", closedAddr(t)},
		{"timeout", "http", hole},
		{"unroutable", "http", "[100::1]:80"},
		{"dns", "http", "no-such-host.invalid:80"},
		{"tls", "https", strings.TrimPrefix(plain.URL, "http://")},
		{"cert", "https", strings.TrimPrefix(selfSigned.URL, "https://")},
		{"terminated", "http", closer},
		{"malformed", "http", malformed},
		{"badname", "http", badName},
		{"huge", "http", huge},
		{"silent", "http", silent},
		{"short", "http", slowBody},
		{"own500", "http", strings.TrimPrefix(target500.URL, "http://")},
	}
	var cfg strings.Builder
	cfg.WriteString("access_log: {path: \"-\"}\nlisteners:\n  - name: web\n    address: 127.0.0.1:0\n    idle_timeout: 1s\n    default_target_group: empty\n    rules:\n")
	for i, g := range groups {
		fmt.Fprintf(&cfg, "      - {priority: %d, path: \"/%s\", target_group: %s}\n", i+1, g.name, g.name)
	}
	cfg.WriteString("target_groups:\n  - {name: empty, targets: []}\n")
	for _, g := range groups {
		fmt.Fprintf(&cfg, "  - name: %s\n    protocol: %s\n    connect_timeout: 1s\n    retries: {max_attempts: 1}\n    health_check: {enabled: false}\n    targets: [{address: %q}]\n", g.name, g.proto, g.addr)
	}
	f := startFulcrum(t, cfg.String())
	client := &http.Client{Timeout: 10 * time.Second}

	tests := []struct {
		path      string
		status    int
		errorType string
		alt       string // an acceptable alternative, where the environment decides
	}{
		{"/none", 503, "destination_unavailable", ""},
		{"/refused", 502, "connection_refused", ""},
		{"/timeout", 504, "connection_timeout", ""},
		{"/unroutable", 502, "destination_ip_unroutable", ""},
		{"/dns", 502, "dns_error", "dns_timeout"},
		{"/tls", 502, "tls_protocol_error", ""},
		{"/cert", 502, "tls_certificate_error", ""},
		{"/terminated", 502, "connection_terminated", ""},
		{"/malformed", 502, "http_protocol_error", ""},
		{"/badname", 502, "http_protocol_error", ""},
		{"/huge", 502, "http_response_header_section_size", ""},
		{"/silent", 504, "http_response_timeout", ""},
	}
	for _, tc := range tests {
		t.Run(strings.TrimPrefix(tc.path, "/"), func(t *testing.T) {
			id := "table" + strings.ReplaceAll(tc.path, "/", "-")
			resp, body := get(t, client, "http://"+f.addr+tc.path, id)
			ps := resp.Header.Get("Proxy-Status")
			errType := tc.errorType
			if tc.alt != "" && strings.Contains(ps, "error="+tc.alt+";") {
				errType = tc.alt
				tc.status = 504
			}
			if errType == "destination_ip_unroutable" && strings.Contains(ps, "error=connection_timeout;") {
				t.Skip("this machine has a route to 100::1; the connect timed out instead")
			}
			if resp.StatusCode != tc.status || !strings.HasPrefix(ps, "fulcrum; error="+errType+";") || resp.Header.Get("Server") != "fulcrum" {
				t.Fatalf("got %d, Proxy-Status %q, Server %q; want %d and error=%s", resp.StatusCode, ps, resp.Header.Get("Server"), tc.status, errType)
			}
			if resp.Header.Get("X-Request-Id") != id || !strings.Contains(body, "request id: "+id) {
				t.Errorf("request id not returned: header %q body %q", resp.Header.Get("X-Request-Id"), body)
			}
			fs := f.accessLine(id)
			if fs[fELBStatus] != fmt.Sprint(tc.status) || fs[fTargetStatus] != "-" || fs[fErrorReason] != errType || fs[fTargetTime] != "-1" {
				t.Errorf("access log: elb_status %s target_status %s error_reason %s target_processing_time %s",
					fs[fELBStatus], fs[fTargetStatus], fs[fErrorReason], fs[fTargetTime])
			}
			if tc.status != 503 && (fs[fTargetList] == "-" || fs[fStatusList] != "-") {
				t.Errorf("attempt lists: %q %q", fs[fTargetList], fs[fStatusList])
			}
		})
	}

	t.Run("target 5xx passes through", func(t *testing.T) {
		resp, _ := get(t, client, "http://"+f.addr+"/own500", "table-own500")
		if resp.StatusCode != 500 || resp.Header.Get("Proxy-Status") != "" || resp.Header.Get("Server") == "fulcrum" {
			t.Fatalf("got %d Proxy-Status %q Server %q; want the target's own 500 untouched", resp.StatusCode, resp.Header.Get("Proxy-Status"), resp.Header.Get("Server"))
		}
		fs := f.accessLine("table-own500")
		if fs[fELBStatus] != "500" || fs[fTargetStatus] != "500" || fs[fErrorReason] != "-" {
			t.Errorf("access log: %v", fs)
		}
	})

	t.Run("response body incomplete", func(t *testing.T) {
		req, _ := http.NewRequest("GET", "http://"+f.addr+"/short", nil)
		req.Header.Set("X-Request-Id", "table-short")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("status %d, body error %v; want 200 then a cut body", resp.StatusCode, err)
		}
		fs := f.accessLine("table-short")
		if fs[fTargetStatus] != "200" || fs[fErrorReason] != "http_response_incomplete" {
			t.Errorf("access log: %v", fs)
		}
	})

	t.Run("malformed request", func(t *testing.T) {
		for _, raw := range []string{
			"GET / HTTP/1.1\r\nHost: x\r\nNot a header\r\n\r\n",
			"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 70<<10) + "\r\n\r\n",
		} {
			c, err := net.Dial("tcp", f.addr)
			if err != nil {
				t.Fatal(err)
			}
			c.Write([]byte(raw))
			status, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			want := "400"
			if len(raw) > 64<<10 {
				want = "431"
			}
			if !strings.HasPrefix(status, "HTTP/1.1 "+want) {
				t.Errorf("status line %q, want %s", status, want)
			}
			f.waitFor("a logged "+want, func() bool {
				for _, l := range f.access {
					if fs := splitALB(l); fs[fELBStatus] == want && fs[fErrorReason] == "http_request_error" {
						return true
					}
				}
				return false
			})
		}
	})

	t.Run("client closed before response", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+f.addr+"/silent", nil)
		req.Header.Set("X-Request-Id", "table-460")
		if _, err := client.Do(req); err == nil {
			t.Fatal("the request should have been cancelled")
		}
		fs := f.accessLine("table-460")
		if fs[fELBStatus] != "460" || fs[fTargetStatus] != "-" {
			t.Errorf("access log: %v", fs)
		}
	})
}
