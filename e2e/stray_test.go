package e2e

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestStrayBytesThroughTheBinary: a target that answers HEAD, 204 and 304
// with a body, or sends more than its Content-Length, appends a forged
// response to its real one. The next request, from another client
// connection, still gets the target's real answer through fulcrum serve;
// the metric counts each closed connection, and the request's story says
// what the target did.
func TestStrayBytesThroughTheBinary(t *testing.T) {
	const forged = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nEVIL!"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
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
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					resp := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
					switch req.URL.Path {
					case "/head":
						resp = "HTTP/1.1 200 OK\r\nContent-Length: 47\r\n\r\n" + forged
					case "/204":
						resp = "HTTP/1.1 204 No Content\r\n\r\n" + forged
					case "/304":
						resp = "HTTP/1.1 304 Not Modified\r\n\r\n" + forged
					case "/long":
						resp = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc" + forged
					}
					if _, err := io.WriteString(c, resp); err != nil {
						return
					}
				}
			}()
		}
	}()
	f := startFulcrum(t, idleCfg(ln.Addr().String(), ""))
	for _, tc := range []struct{ method, path string }{{"HEAD", "/head"}, {"GET", "/204"}, {"GET", "/304"}, {"GET", "/long"}} {
		id := "stray" + strings.ReplaceAll(tc.path, "/", "-")
		req, _ := http.NewRequest(tc.method, "http://"+f.addr+tc.path, nil)
		req.Header.Set("X-Request-Id", id)
		resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()

		other := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		resp, body := get(t, other, "http://"+f.addr+"/next", id+"-next")
		if resp.StatusCode != 200 || body != "ok" {
			t.Errorf("after %s %s another client got %d %q, want 200 \"ok\"", tc.method, tc.path, resp.StatusCode, body)
		}
		if line := f.accessLine(id + "-next"); line[8] != "200" || line[9] != "200" {
			t.Errorf("after %s %s the next request logged elb %s target %s", tc.method, tc.path, line[8], line[9])
		}
		var story struct {
			Attempts []struct{ Evidence string } `json:"attempts"`
		}
		json.Unmarshal([]byte(adminGet(t, f.admin+"/api/v1/requests/"+id, 200)), &story)
		if len(story.Attempts) != 1 || !strings.Contains(story.Attempts[0].Evidence, "after the response ended") {
			t.Errorf("%s %s: the story does not name the unsolicited bytes: %+v", tc.method, tc.path, story.Attempts)
		}
	}
	metrics := adminGet(t, f.admin+"/metrics", 200)
	want := `fulcrum_target_connections_closed_total{reason="unsolicited_data",target="` + ln.Addr().String() + `",target_group="app"} 4`
	if !strings.Contains(metrics, want) {
		t.Errorf("metrics lack %s", want)
	}
}
