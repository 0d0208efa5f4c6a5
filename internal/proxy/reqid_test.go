package proxy

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/accesslog"
	"github.com/fulcrumlb/fulcrum/internal/config"
	"github.com/fulcrumlb/fulcrum/internal/httpmsg"
)

// TestRequestStrings checks each piece of a request's strings, that they
// cost no allocation in a record that carried a request before (one
// without a record), and that the trace value is left out when not asked
// for.
func TestRequestStrings(t *testing.T) {
	r := &httpmsg.Request{Method: "GET", Host: "shop.example.com"}
	if err := r.SetTarget("GET", "/a?b=1"); err != nil {
		t.Fatal(err)
	}
	r.Header.Add("X-Amzn-Trace-Id", "Root=1-abc-def")
	now := time.Unix(0x5f000000, 0)
	rec := &accesslog.Record{}
	s := newRequestStrings(rec, r, true, "8443", true, now)
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(s.id) {
		t.Errorf("id %q", s.id)
	}
	if s.url != "https://shop.example.com:8443/a?b=1" {
		t.Errorf("url %q", s.url)
	}
	if !regexp.MustCompile(`^Self=1-5f000000-[0-9a-f]{24};Root=1-abc-def$`).MatchString(s.trace) {
		t.Errorf("trace %q", s.trace)
	}
	if s2 := newRequestStrings(rec, r, true, "8443", true, now); s2.id == s.id || s2.trace == s.trace || s.url != "https://shop.example.com:8443/a?b=1" {
		t.Errorf("two requests share id %q or trace %q", s.id, s.trace)
	}
	if s := newRequestStrings(nil, r, false, "80", false, now); s.trace != "" || s.url != "http://shop.example.com:80/a?b=1" || len(s.id) != 32 {
		t.Errorf("without trace: %+v", s)
	}
	for _, trace := range []bool{false, true} {
		if n := testing.AllocsPerRun(100, func() { rec.Reset(); s = newRequestStrings(rec, r, false, "80", trace, now) }); n != 0 {
			t.Errorf("trace %v, into a record: %v allocations, want 0", trace, n)
		}
		if n := testing.AllocsPerRun(100, func() { s = newRequestStrings(nil, r, false, "80", trace, now) }); n != 1 {
			t.Errorf("trace %v, no record: %v allocations, want 1", trace, n)
		}
	}
}

// TestRecordsKeepTheirOwnStrings sends three requests on one keep-alive
// connection, each with its own method, path, User-Agent and
// X-Request-Id, and checks each access log line and history record for
// its own values. The connection reuses one buffer for every request's
// head, and the writer encodes lines after the requests have ended: a
// record holding the head's strings rather than copies
// (accesslog.Record.Keep) would log the last request's values three
// times.
func TestRecordsKeepTheirOwnStrings(t *testing.T) {
	tg := newRawTarget(t, false)
	logPath := filepath.Join(t.TempDir(), "access.log")
	c, err := config.Load([]byte(fmt.Sprintf(`
access_log: {path: %q}
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app}]
target_groups: [{name: app, health_check: {enabled: false}, targets: [{address: %q}]}]
`, logPath, tg.ln.Addr())))
	if err != nil {
		t.Fatal(err)
	}
	hist := accesslog.NewHistory(16)
	s, err := New(c, Options{Logger: slog.New(slog.DiscardHandler), History: hist})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, time.Second) }()
	stop := func() error { cancel(); return <-done }
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()

	conn, err := net.Dial("tcp", s.Addrs()["web"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	reqs := []struct{ method, path, ua, id string }{
		{"GET", "/first", "agent-one", "id-one"},
		{"DELETE", "/second/longer/path", "agent-two/2.0", "id-two-two"},
		{"PUT", "/3", "a3", "3"},
	}
	for _, r := range reqs {
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: keep.example\r\nUser-Agent: %s\r\nX-Request-Id: %s\r\nContent-Length: 0\r\n\r\n", r.method, r.path, r.ua, r.id)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if got := resp.Header.Get("X-Request-Id"); got != r.id {
			t.Errorf("%s %s: X-Request-Id %q, want %q", r.method, r.path, got, r.id)
		}
	}
	kept := make([]accesslog.Record, len(reqs))
	for i, r := range reqs {
		rec, ok := hist.Get(r.id)
		if !ok {
			t.Errorf("history has no request %q", r.id)
			continue
		}
		kept[i] = rec
		if rec.Method != r.method || rec.URL != "http://keep.example:"+strings.Split(s.Addrs()["web"], ":")[1]+r.path || rec.UserAgent != r.ua || rec.TraceID != r.id {
			t.Errorf("history record %q: %s %s %q %q; want %s %s %q", r.id, rec.Method, rec.URL, rec.UserAgent, rec.TraceID, r.method, r.path, r.ua)
		}
	}
	stopped = true
	if err := stop(); err != nil { // flushes the access log
		t.Fatalf("Serve: %v", err)
	}
	data, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != len(reqs) {
		t.Fatalf("%d access log lines, want %d:\n%s", len(lines), len(reqs), data)
	}
	for i, r := range reqs {
		want := fmt.Sprintf(`"%s http://keep.example:`, r.method)
		if l := lines[i]; !strings.Contains(l, want) || !strings.Contains(l, r.path+` HTTP/1.1" "`+r.ua+`"`) || !strings.HasSuffix(l, `"`+r.id+`"`) {
			t.Errorf("line %d: %s\nwant %s…%s HTTP/1.1, User-Agent %q and request id %q", i, l, want, r.path, r.ua, r.id)
		}
		// The history keeps Fulcrum's ids packed (accesslog.PackedIDs)
		// and spells them back as the log wrote them.
		k := kept[i]
		if k.Packed.Has != accesslog.PackedID|accesslog.PackedConn|accesslog.PackedTrace {
			t.Errorf("line %d: packed %b", i, k.Packed.Has)
		}
		for _, v := range []string{" " + k.ConnID + " ", `"` + k.AmznTraceID + `"`} {
			if len(v) < 20 || !strings.Contains(lines[i], v) {
				t.Errorf("line %d: %s\nhas not the history's %q", i, lines[i], v)
			}
		}
		// The line carries the client's X-Request-Id; Fulcrum's own id
		// finds the same request.
		if own, ok := hist.Get(k.ID); !ok || own.TraceID != r.id || own.URL != k.URL || len(k.ID) != 32 {
			t.Errorf("line %d: own id %q finds %q %q, %v", i, k.ID, own.TraceID, own.URL, ok)
		}
	}
}

// TestPackedIDsSpellTheStrings: the bytes newRequestStrings and
// newConnID hand the request history (accesslog.PackedIDs) spell exactly
// the ids they made; a trace value with the client's fields is not
// packed.
func TestPackedIDsSpellTheStrings(t *testing.T) {
	r := &httpmsg.Request{Method: "GET", Host: "shop.example.com"}
	if err := r.SetTarget("GET", "/"); err != nil {
		t.Fatal(err)
	}
	now := time.Unix(0x6b16c3a2, 0)
	for range 20 {
		s := newRequestStrings(nil, r, false, "80", true, now)
		p := s.packed
		if p.Has != accesslog.PackedID|accesslog.PackedTrace {
			t.Fatalf("packed %b", p.Has)
		}
		if got := hex.EncodeToString(p.ID[:]); got != s.id {
			t.Errorf("id %q packed as %s", s.id, got)
		}
		if got := "Root=1-" + hex.EncodeToString(p.Trace[:4]) + "-" + hex.EncodeToString(p.Trace[4:]); got != s.trace {
			t.Errorf("trace %q packed as %s", s.trace, got)
		}
		id, raw := newConnID()
		if got := "TID_" + hex.EncodeToString(raw[:]); got != id {
			t.Errorf("connection id %q packed as %s", id, got)
		}
	}
	r.Header.Add("X-Amzn-Trace-Id", "Root=1-abc-def")
	if s := newRequestStrings(nil, r, false, "80", true, now); s.packed.Has != accesslog.PackedID {
		t.Errorf("trace %q: packed %b", s.trace, s.packed.Has)
	}
	// After 2106 the epoch needs a ninth digit: not packed.
	r.Header.Del("X-Amzn-Trace-Id")
	if s := newRequestStrings(nil, r, false, "80", true, time.Unix(1<<32, 0)); s.packed.Has != accesslog.PackedID || !strings.HasPrefix(s.trace, "Root=1-100000000-") {
		t.Errorf("trace %q: packed %b", s.trace, s.packed.Has)
	}
}
