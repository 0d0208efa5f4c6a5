package proxy

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/fulcrumlb/fulcrum/internal/config"
)

// TestReloadRetiresH2Server: a reload that changes idle_timeout sends the
// open HTTP/2 connections GOAWAY (they finish and clients reconnect), and
// connections from then on are served with the new idle timeout.
func TestReloadRetiresH2Server(t *testing.T) {
	tg := newRecordingTarget(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	web := ln.Addr().String()
	ln.Close()
	cfg := func(idle string) string {
		return fmt.Sprintf(`
listeners: [{name: web, address: %q, default_target_group: app, h2c: true, idle_timeout: %s}]
target_groups: [{name: app, health_check: {enabled: false}, targets: [{address: %q}]}]
`, web, idle, tg.addr)
	}
	var mu sync.Mutex
	file := cfg("60s")
	load := func() (*config.Config, []byte, error) {
		mu.Lock()
		defer mu.Unlock()
		c, err := config.Load([]byte(file))
		return c, []byte(file), err
	}
	s, addr := startServerOpts(t, file, Options{Logger: slog.New(slog.DiscardHandler), Load: load})

	// An open HTTP/2 connection, prior knowledge, after its settings.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, http2.ClientPreface)
	fr := http2.NewFramer(c, c)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	if f, err := fr.ReadFrame(); err != nil || f.Header().Type != http2.FrameSettings {
		t.Fatalf("first frame: %v %v", f, err)
	}
	fr.WriteSettingsAck()

	mu.Lock()
	file = cfg("5s")
	mu.Unlock()
	if _, err := s.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("no GOAWAY on the open connection after the reload: %v", err)
		}
		if ga, ok := f.(*http2.GoAwayFrame); ok {
			if ga.ErrCode != http2.ErrCodeNo {
				t.Errorf("GOAWAY %v, want NO_ERROR", ga.ErrCode)
			}
			break
		}
	}
	if got := s.listeners["web"].srv.h2.srv.IdleTimeout; got != 5*time.Second {
		t.Errorf("new HTTP/2 connections get idle timeout %v, want 5s", got)
	}
	// A new connection is served.
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &protos}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("http://" + addr + "/after")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		t.Errorf("after the reload: %s %d", resp.Proto, resp.StatusCode)
	}
}
