package proxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestResponseFieldsPassInOrder: an HTTP/1.1 target's fields reach an
// HTTP/1.1 client in the target's order, without the hop-by-hop fields
// (those of hopHeaders and those Connection names), with Fulcrum's own
// X-Request-Id instead of the target's, and with the target's Date
// rather than a second one; on both I/O layers.
func TestResponseFieldsPassInOrder(t *testing.T) {
	const head = "HTTP/1.1 200 OK\r\n" +
		"Content-Type: text/plain\r\n" +
		"x-zeta: 1\r\n" +
		"Connection: X-Secret, keep-alive\r\n" +
		"X-Secret: s\r\n" +
		"Keep-Alive: timeout=5\r\n" +
		"X-Alpha: 2\r\n" +
		"X-Request-Id: target-chosen\r\n" +
		"Date: Mon, 01 Jan 2024 00:00:00 GMT\r\n" +
		"Set-Cookie: a=1\r\n" +
		"X-Zeta: 3\r\n" +
		"Content-Length: 5\r\n\r\nhello"
	target := rawListener(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if line == "\r\n" {
				io.WriteString(c, head)
			}
		}
	})
	for _, layer := range []struct {
		name  string
		loops int
	}{{"loops", 0}, {"goroutine", -1}} {
		t.Run(layer.name, func(t *testing.T) {
			_, addr := startServerOpts(t, fmt.Sprintf(`
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app}]
target_groups: [{name: app, health_check: {enabled: false}, targets: [{address: %q}]}]
`, target), Options{Logger: slog.New(slog.DiscardHandler), EventLoops: layer.loops})
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			br := bufio.NewReader(c)
			for round := range 2 { // the second on a reused target connection
				io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
				var fields []string
				id := ""
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						t.Fatalf("round %d: %v after %q", round, err, fields)
					}
					line = strings.TrimRight(line, "\r\n")
					if line == "" {
						break
					}
					if v, ok := strings.CutPrefix(line, "X-Request-Id: "); ok {
						id = v
						continue
					}
					fields = append(fields, line)
				}
				body := make([]byte, 5)
				if _, err := io.ReadFull(br, body); err != nil || !bytes.Equal(body, []byte("hello")) {
					t.Fatalf("round %d: body %q, %v", round, body, err)
				}
				want := []string{"HTTP/1.1 200 OK", "Content-Type: text/plain", "X-Zeta: 1", "X-Alpha: 2",
					"Date: Mon, 01 Jan 2024 00:00:00 GMT", "Set-Cookie: a=1", "X-Zeta: 3", "Content-Length: 5"}
				if diff := cmp.Diff(want, fields); diff != "" {
					t.Errorf("round %d: fields (-want +got):\n%s", round, diff)
				}
				if id == "" || id == "target-chosen" {
					t.Errorf("round %d: X-Request-Id %q, want Fulcrum's own", round, id)
				}
			}
		})
	}
}

// TestPassFieldsSize: the head size counts what the hop-by-hop removal
// leaves, as responseHeaderSize does over the map.
func TestPassFieldsSize(t *testing.T) {
	fields := []respField{{"Connection", "close, X-A"}, {"X-A", "1"}, {"Content-Type", "text/plain"}, {"X-Request-Id", "t"}, {"Te", "x"}}
	pass, size := passFields(fields, "200 OK")
	want := []respField{{"", "close, X-A"}, {"", "1"}, {"Content-Type", "text/plain"}, {"", "t"}, {"", "x"}}
	if diff := cmp.Diff(want, pass, cmp.AllowUnexported(respField{})); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	if want := int64(len("200 OK") + 11 + len("Content-Type") + len("text/plain") + 4 + len("X-Request-Id") + 1 + 4 + 2); size != want {
		t.Errorf("size %d, want %d", size, want)
	}
}
