package proxy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fulcrumlb/fulcrum/internal/httpmsg"
)

func TestForwardHeaders(t *testing.T) {
	var named []string
	h := httpmsg.Header{{Name: "Accept", Value: "*/*"}}
	for i := range 10 {
		n := fmt.Sprintf("X-Hop-%d", i)
		named = append(named, n)
		h.Add(n, "v")
	}
	h.Add("Connection", "keep-alive, "+strings.Join(named[:5], ", "))
	h.Add("Connection", strings.Join(named[5:], ","))
	h.Add("Keep-Alive", "timeout=5")
	h.Add("Te", "trailers")
	h.Add("Expect", "100-continue")
	h.Add("X-Forwarded-For", "203.0.113.1")
	h.Add("x-forwarded-for", "203.0.113.2, 203.0.113.3")
	h.Add("X-Forwarded-Proto", "https") // the client's claim is replaced
	h.Add("X-Request-Id", "client-chosen")
	forwardHeaders(&h, "[2001:db8::7]:5555", "http", "80", "rid", "")
	want := httpmsg.Header{
		{Name: "Accept", Value: "*/*"},
		{Name: "X-Forwarded-For", Value: "203.0.113.1, 203.0.113.2, 203.0.113.3, 2001:db8::7"},
		{Name: "X-Forwarded-Proto", Value: "http"},
		{Name: "X-Forwarded-Port", Value: "80"},
		{Name: "X-Request-Id", Value: "rid"},
	}
	if d := cmp.Diff(want, h); d != "" {
		t.Errorf("forwarded header (-want +got):\n%s", d)
	}

	// A WebSocket upgrade keeps Connection: Upgrade and Upgrade.
	ws := httpmsg.Header{{Name: "Connection", Value: "Upgrade"}, {Name: "Upgrade", Value: "websocket"}, {Name: "Sec-Websocket-Key", Value: "k"}}
	forwardHeaders(&ws, "192.0.2.9:1", "https", "443", "rid", upgradeType(ws))
	if ws.Get("Connection") != "Upgrade" || ws.Get("Upgrade") != "websocket" || ws.Get("X-Forwarded-For") != "192.0.2.9" || ws.Get("Sec-Websocket-Key") != "k" {
		t.Errorf("upgrade header: %v", ws)
	}
}

func TestClientIP(t *testing.T) {
	for in, want := range map[string]string{"192.0.2.1:80": "192.0.2.1", "[2001:db8::1]:443": "2001:db8::1", "2001:db8::1": "2001:db8::1", "pipe": "pipe"} {
		if got := clientIP(in); got != want {
			t.Errorf("clientIP(%q) = %q, want %q", in, got, want)
		}
	}
}
