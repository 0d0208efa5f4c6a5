package proxy

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestBytesInOut: after N forwarded requests of known size, the target's
// and the listener's bin/bout hold N times the body sizes plus their
// header sections; a fixed response counts on the listener only.
func TestBytesInOut(t *testing.T) {
	const n, reqBody, respBody = 5, 1000, 3000
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, strings.Repeat("r", respBody))
	}))
	defer backend.Close()
	s, addr := startServer(t, fmt.Sprintf(`
listeners:
  - name: web
    address: "127.0.0.1:0"
    default_target_group: app
    rules:
      - priority: 10
        conditions: [{field: http_request_method, values: [DELETE]}]
        action: {type: fixed_response, fixed_response: {status_code: 403, content_type: text/plain, message_body: "no"}}
target_groups: [{name: app, health_check: {enabled: false}, targets: [{address: %q}]}]
`, hostPort(backend.URL)))
	do := func(method, body string) {
		t.Helper()
		resp, err := http.DefaultClient.Do(mustReq(method, "http://"+addr+"/up", body))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	for range n {
		do("POST", strings.Repeat("q", reqBody))
	}
	listener := func() ListenerLoad {
		for _, l := range s.ListenerLoads() {
			if l.Name == "web" {
				return l
			}
		}
		t.Fatal("no listener web")
		return ListenerLoad{}
	}
	tg := s.Group("app").Targets.Find(hostPort(backend.URL)).Stats.Snapshot(time.Now())
	// Header sections are a few hundred bytes each at most.
	if tg.BytesIn < n*reqBody || tg.BytesIn > n*(reqBody+400) {
		t.Errorf("target bin = %d, want %d plus headers", tg.BytesIn, n*reqBody)
	}
	if tg.BytesOut < n*respBody || tg.BytesOut > n*(respBody+400) {
		t.Errorf("target bout = %d, want %d plus headers", tg.BytesOut, n*respBody)
	}
	if l := listener(); l.BytesIn != tg.BytesIn || l.BytesOut != tg.BytesOut {
		t.Errorf("listener bin/bout %d/%d, want the target's %d/%d", l.BytesIn, l.BytesOut, tg.BytesIn, tg.BytesOut)
	}
	do("DELETE", "")
	after := s.Group("app").Targets.Find(hostPort(backend.URL)).Stats.Snapshot(time.Now())
	if after.BytesIn != tg.BytesIn || after.BytesOut != tg.BytesOut {
		t.Errorf("fixed response counted on the target: %d/%d -> %d/%d", tg.BytesIn, tg.BytesOut, after.BytesIn, after.BytesOut)
	}
	if l := listener(); l.BytesIn <= tg.BytesIn || l.BytesOut < tg.BytesOut+int64(len("no")) {
		t.Errorf("fixed response not counted on the listener: %d/%d, target %d/%d", l.BytesIn, l.BytesOut, tg.BytesIn, tg.BytesOut)
	}
}
