package accesslog

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
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
	logRecord(l, rec)
	waitUntil(t, "the first line", func() bool { b, _ := os.ReadFile(path); return len(b) > 0 })

	os.RemoveAll(dir)
	waitUntil(t, "the failure to be noticed", func() bool { return strings.Contains(events.String(), "access log") })
	for range 50 {
		logRecord(l, rec)
	}
	waitUntil(t, "50 lost lines", func() bool { return l.Dropped() >= 50 })
	if n := strings.Count(events.String(), "level=ERROR"); n != 1 {
		t.Errorf("%d error lines for one episode:\n%s", n, events.String())
	}

	os.Mkdir(dir, 0o755)
	waitUntil(t, "recovery", func() bool {
		logRecord(l, rec)
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
		logRecord(l, &Record{TraceID: "x", ELBStatus: 200})
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

// fill copies failedRecord into a slot, attempts included.
func fill(s *Record) {
	attempts := s.Attempts[:0]
	r := failedRecord()
	*s = *r
	s.Attempts = append(attempts, r.Attempts...)
}

// TestWriterWakesPerBatchNotPerLine: fewer than wakeAt queued records
// wait for the 100 ms tick; wakeAt of them wake the writer at once, which
// encodes them and gives their slots back. The lines are written, in
// order and complete, by the tick.
func TestWriterWakesPerBatchNotPerLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out syncBuffer
		l := New(&out, nil, "alb", 1024)
		if l.wakeAt != 128 {
			t.Fatalf("wakeAt = %d, want 128", l.wakeAt)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- l.Run(ctx) }()
		free := l.spare()
		for range l.wakeAt - 1 {
			s := l.Take()
			fill(s)
			if !l.Submit(s) {
				t.Fatal("Submit refused with room in the queue")
			}
		}
		synctest.Wait()
		if n := l.queued(); n != l.wakeAt-1 {
			t.Errorf("%d records queued before the tick, want %d (the writer woke early)", n, l.wakeAt-1)
		}
		s := l.Take()
		fill(s)
		l.Submit(s)
		synctest.Wait()
		if n := l.queued(); n != 0 {
			t.Errorf("%d records still queued after wakeAt were submitted", n)
		}
		if n := l.spare(); n != free {
			t.Errorf("%d free slots after the drain, want the %d there were", n, free)
		}
		if out.String() != "" {
			t.Error("lines written before the tick; the batch should wait for it")
		}
		time.Sleep(flushEvery)
		synctest.Wait()
		want := string(AppendALB(nil, failedRecord()))
		if got := out.String(); got != strings.Repeat(want, l.wakeAt) {
			t.Errorf("wrote %d bytes, want %d lines of %q", len(got), l.wakeAt, want)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// TestSubmitKeepsRefusedRecord: a full queue refuses the record, counts
// the line as dropped, and leaves the record with the caller.
func TestSubmitKeepsRefusedRecord(t *testing.T) {
	l := New(io.Discard, nil, "json", 1)
	first, second := l.Take(), l.Take()
	fill(first)
	fill(second)
	if !l.Submit(first) || l.Submit(second) {
		t.Fatal("want the first accepted and the second refused")
	}
	if l.Dropped() != 1 || second.ELBStatus != 502 {
		t.Errorf("Dropped = %d, refused record %+v", l.Dropped(), second)
	}
}

// TestSlotsAllocateNothing: once slots exist, a request's Take, Submit
// and the writer's encoding allocate nothing.
func TestSlotsAllocateNothing(t *testing.T) {
	l := New(io.Discard, nil, "alb", 64)
	w := &writer{l: l, batch: make([]byte, 0, maxBatch+4<<10)}
	allocs := testing.AllocsPerRun(1000, func() {
		s := l.Take()
		fill(s)
		l.Submit(s)
		w.drain()
		w.flush()
	})
	// fill's failedRecord allocates; measure it alone and subtract.
	base := testing.AllocsPerRun(1000, func() { _ = failedRecord() })
	if allocs > base {
		t.Errorf("%.0f allocations per logged request beyond the test's own %.0f", allocs-base, base)
	}
}

// logRecord queues a copy of r in one of l's slots, as a request fills
// one; r's strings are the test's own, so the copy may share them.
func logRecord(l *Logger, r *Record) {
	s := l.Take()
	attempts := s.Attempts[:0]
	*s = *r
	s.Attempts = append(attempts, r.Attempts...)
	if !l.Submit(s) {
		l.recycle(s)
	}
}

// TestQueueBoundCountsTakenRecords: the records the writer has taken from
// the queue and is still encoding count toward buffer, so at most buffer
// records are ever queued or being encoded, as with the bounded channel
// the queue was before.
func TestQueueBoundCountsTakenRecords(t *testing.T) {
	l := New(io.Discard, nil, "alb", 2)
	for range 2 {
		s := l.Take()
		fill(s)
		if !l.Submit(s) {
			t.Fatal("Submit refused with room in the queue")
		}
	}
	refused, accepted := 0, 0
	l.encode = func(b []byte, r *Record) []byte {
		s := l.Take()
		fill(s)
		if l.Submit(s) {
			accepted++
		} else {
			refused++
		}
		return AppendALB(b, r)
	}
	w := &writer{l: l}
	w.drain()
	if refused != 2 || accepted != 0 {
		t.Errorf("while encoding 2 taken records of 2: %d submits accepted, %d refused; want 0 and 2", accepted, refused)
	}
	if got := l.Dropped(); got != 2 {
		t.Errorf("Dropped = %d, want 2", got)
	}
	if n := l.queued(); n != 0 {
		t.Errorf("%d records queued after the drain, want 0", n)
	}
	if n := l.spare(); n != 2 {
		t.Errorf("%d free slots after the drain, want the 2 encoded (at most buffer)", n)
	}
}
