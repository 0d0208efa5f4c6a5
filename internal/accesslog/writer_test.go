package accesslog

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the writer goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWriterCountsLostLinesAndRecovers: with the log's directory removed
// every line is counted as dropped and one operational line says so; when
// the directory is back the writer reopens the file by itself and says
// so once.
func TestWriterCountsLostLinesAndRecovers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	os.Mkdir(dir, 0o755)
	path := filepath.Join(dir, "access.log")
	l, err := Open(path, "alb", 1024, nil)
	if err != nil {
		t.Fatal(err)
	}
	var events syncBuffer
	l.SetEvents(slog.New(slog.NewTextHandler(&events, &slog.HandlerOptions{Level: slog.LevelInfo})))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	rec := &Record{TraceID: "x", ELBStatus: 200}
	l.Log(rec)
	waitUntil(t, "the first line", func() bool { b, _ := os.ReadFile(path); return len(b) > 0 })

	os.RemoveAll(dir)
	waitUntil(t, "the failure to be noticed", func() bool { return strings.Contains(events.String(), "access log") })
	for range 50 {
		l.Log(rec)
	}
	waitUntil(t, "50 lost lines", func() bool { return l.Dropped() >= 50 })
	if n := strings.Count(events.String(), "level=ERROR"); n != 1 {
		t.Errorf("%d error lines for one episode:\n%s", n, events.String())
	}

	os.Mkdir(dir, 0o755)
	waitUntil(t, "recovery", func() bool {
		l.Log(rec)
		b, _ := os.ReadFile(path)
		return len(b) > 0
	})
	waitUntil(t, "the recovery line", func() bool { return strings.Contains(events.String(), "access log writing again") })
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	l.Close()
}

// TestWriterFullDisk: /dev/full accepts the open and fails every write:
// each line is counted and the episode is logged once.
func TestWriterFullDisk(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	l, err := Open("/dev/full", "json", 1024, nil)
	if err != nil {
		t.Fatal(err)
	}
	var events syncBuffer
	l.SetEvents(slog.New(slog.NewTextHandler(&events, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	for range 600 {
		l.Log(&Record{TraceID: "x", ELBStatus: 200})
	}
	waitUntil(t, "600 lost lines", func() bool { return l.Dropped() == 600 })
	cancel()
	if err := <-done; err == nil || !strings.Contains(err.Error(), "lines lost") {
		t.Errorf("Run: %v", err)
	}
	l.Close()
	if n := strings.Count(events.String(), "level=ERROR"); n != 1 {
		t.Errorf("%d error lines:\n%s", n, events.String())
	}
}
