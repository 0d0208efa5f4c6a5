package proxy

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/fulcrumlb/fulcrum/internal/accesslog"
)

// forged is a complete HTTP response a misbehaving target sends where no
// bytes belong. If it were ever read from a pooled connection it would
// become another client's answer.
const forged = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nEVIL!"

// strayTarget answers every request on a keep-alive connection. /stray
// gets a response followed, in the same write, by forged: after a HEAD,
// 204 or 304 (which have no body), or after a body that ends at its
// Content-Length. Every other path gets "ok".
func strayTarget(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	conns := make(chan net.Conn, 64)
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
			go func() {
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					var resp string
					switch {
					case req.URL.Path != "/stray":
						resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
					case req.Method == http.MethodHead:
						resp = "HTTP/1.1 200 OK\r\nContent-Length: 47\r\n\r\n" + forged
					case req.URL.Query().Get("status") == "204":
						resp = "HTTP/1.1 204 No Content\r\n\r\n" + forged
					case req.URL.Query().Get("status") == "304":
						resp = "HTTP/1.1 304 Not Modified\r\n\r\n" + forged
					default: // a body longer than its Content-Length
						resp = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc" + forged
					}
					if _, err := io.WriteString(c, resp); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		close(conns)
		for c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// TestStrayBytesNeverReachAnotherClient: a target's bytes after a response
// ends never return to the pool with the connection, so the next request,
// from another client connection, gets the target's real answer; the
// connection is counted as closed for unsolicited data and the request's
// story says so.
func TestStrayBytesNeverReachAnotherClient(t *testing.T) {
	addr := strayTarget(t)
	hist := accesslog.NewHistory(64)
	s, web := startServerOpts(t, fmt.Sprintf(`
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app}]
target_groups: [{name: app, health_check: {enabled: false}, targets: [{address: %q}]}]
`, addr), Options{Logger: slog.New(slog.DiscardHandler), History: hist})
	tg := s.Group("app").Targets.Targets()[0]
	for i, tc := range []struct{ method, path string }{
		{http.MethodHead, "/stray"},
		{http.MethodGet, "/stray?status=204"},
		{http.MethodGet, "/stray?status=304"},
		{http.MethodGet, "/stray?status=200"},
	} {
		// Each request on its own client connection, as two clients.
		first := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := first.Do(mustReq(tc.method, "http://"+web+tc.path, ""))
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		id := resp.Header.Get("X-Request-Id")

		second := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err = second.Get("http://" + web + "/next")
		if err != nil {
			t.Fatalf("after %s %s: %v", tc.method, tc.path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "ok" {
			t.Errorf("after %s %s, another client got %d %q; want 200 \"ok\"", tc.method, tc.path, resp.StatusCode, body)
		}
		if got := tg.Conns.Unsolicited(); got != int64(i+1) {
			t.Errorf("after %s %s: %d connections closed for unsolicited data, want %d", tc.method, tc.path, got, i+1)
		}
		rec, ok := hist.Get(id)
		if !ok || len(rec.Attempts) == 0 || !strings.Contains(rec.Attempts[len(rec.Attempts)-1].Evidence, "after the response ended") {
			t.Errorf("%s %s: the story does not name the unsolicited bytes: %+v", tc.method, tc.path, rec.Attempts)
		}
	}
}
