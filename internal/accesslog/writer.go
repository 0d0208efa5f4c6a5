package accesslog

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// flushEvery is how often queued lines are written out; checkEvery how
// often a file log checks that its path still names the open file.
const (
	flushEvery = 100 * time.Millisecond
	checkEvery = time.Second
	maxBatch   = 64 << 10
)

// Logger hands records to a writer goroutine through a bounded queue;
// the writer encodes them, so encoding costs the request path nothing.
// Records live in slots the Logger keeps (Take, Submit): a request fills
// one, the writer encodes it and gives the slot back, so in steady state a
// logged request allocates no record and no line buffer.
//
// Submit never waits for the writer's work: when the queue is full the
// line is dropped and counted (Dropped). A line the writer cannot write
// (full disk, removed directory) is dropped and counted too; the first
// failure of an episode is logged once, and the writer recovers by
// itself: it reopens the file after a failure, when the path no longer
// names the open file (removed or rotated), and on Reopen (SIGUSR1, like
// nginx -s reopen).
//
// The writer does not wake for each line: it drains the queue when
// wakeAt lines wait, and at least every 100 ms, so a busy proxy pays one
// cross-thread wake-up per wakeAt requests rather than one per request.
// The queue and the free slots are slices under one mutex, held only to
// push or pop one slot (Take, Submit) or to swap or refill a whole batch
// (the writer): two uncontended lock pairs a request, where the two
// channels they replace cost a channel operation each on the request
// path and two more per line on the writer's (docs/performance.md,
// "The log's queue").
type Logger struct {
	encode func([]byte, *Record) []byte
	qmu    sync.Mutex
	queue  []*Record // submitted, in order
	taken  int       // records the writer took from the queue and has not given back
	free   []*Record // slots the writer has encoded and reset; at most buffer
	buffer int       // the most records queued and taken together
	wake   chan struct{}
	wakeAt int
	path   string // "" when not a file
	out    io.Writer
	closer io.Closer
	events atomic.Pointer[slog.Logger]
	reopen chan struct{}

	dropped atomic.Int64
	done    chan struct{}
	mu      sync.Mutex // guards closer and out against Close
}

// preallocSlots is how many record slots New makes up front (or buffer,
// when smaller); more are made on demand, up to buffer kept.
const preallocSlots = 256

// Open returns a Logger writing format ("alb" or "json") to path ("-" is
// standard output), with room for buffer queued lines. Run must be started
// for lines to be written.
func Open(path, format string, buffer int, stdout io.Writer) (*Logger, error) {
	if path == "-" {
		return New(stdout, nil, format, buffer), nil
	}
	f, err := openFile(path)
	if err != nil {
		return nil, fmt.Errorf("open access log: %w", err)
	}
	l := New(f, f, format, buffer)
	l.path = path
	return l, nil
}

func openFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
}

// New returns a Logger over w. closer, when not nil, is closed by Close.
func New(w io.Writer, closer io.Closer, format string, buffer int) *Logger {
	buffer = max(buffer, 1)
	l := &Logger{
		encode: AppendALB,
		queue:  make([]*Record, 0, min(buffer, preallocSlots)),
		free:   make([]*Record, 0, min(buffer, preallocSlots)),
		buffer: buffer,
		wake:   make(chan struct{}, 1),
		wakeAt: max(1, min(buffer/2, 128)),
		out:    w,
		closer: closer,
		done:   make(chan struct{}),
		reopen: make(chan struct{}, 1),
	}
	if format == "json" {
		l.encode = AppendJSON
	}
	for range min(buffer, preallocSlots) {
		l.free = append(l.free, NewRecord())
	}
	return l
}

// NewRecord returns an empty record with room for one attempt, the
// common case. A retried request's record grows its Attempts once, and
// Reset keeps the room, so the log's slots and the proxy's pool allocate
// for retries only until each slot has seen one. (Room for 4, as before,
// was 312 bytes more a slot, and the log keeps as many slots as were
// ever queued at once, up to access_log.buffer_lines.)
func NewRecord() *Record { return &Record{Attempts: make([]Attempt, 0, 1)} }

// SetEvents sets the operational logger that hears of write failures and
// recoveries; call it before Run.
func (l *Logger) SetEvents(e *slog.Logger) { l.events.Store(e) }

func (l *Logger) event() *slog.Logger {
	if e := l.events.Load(); e != nil {
		return e
	}
	return slog.New(slog.DiscardHandler)
}

// Take returns an empty record slot for one request, made new when every
// slot is in use. Hand it back with Submit; when Submit refuses it, the
// caller keeps it.
func (l *Logger) Take() *Record {
	l.qmu.Lock()
	if n := len(l.free); n > 0 {
		r := l.free[n-1]
		l.free[n-1] = nil
		l.free = l.free[:n-1]
		l.qmu.Unlock()
		return r
	}
	l.qmu.Unlock()
	return NewRecord()
}

// Submit queues r for the writer, which encodes it and reuses it: the
// caller must not touch r once Submit returns true. When the queue is
// full, the line is dropped and counted and Submit returns false; r stays
// the caller's. It is safe for concurrent use and never waits for the
// writer's encoding or writing.
func (l *Logger) Submit(r *Record) bool {
	l.qmu.Lock()
	if len(l.queue)+l.taken >= l.buffer {
		l.qmu.Unlock()
		l.dropped.Add(1)
		return false
	}
	l.queue = append(l.queue, r)
	n := len(l.queue)
	l.qmu.Unlock()
	if n >= l.wakeAt {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// recycle resets r and keeps it as a free slot, or lets it go when buffer
// slots are already free.
func (l *Logger) recycle(r *Record) {
	r.Reset()
	l.qmu.Lock()
	if len(l.free) < l.buffer {
		l.free = append(l.free, r)
	}
	l.qmu.Unlock()
}

// queued returns how many records wait for the writer.
func (l *Logger) queued() int {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	return len(l.queue)
}

// spare returns how many free slots the Logger keeps.
func (l *Logger) spare() int {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	return len(l.free)
}

// Dropped returns how many lines were lost: dropped because the queue was
// full, or not written because the writer failed.
func (l *Logger) Dropped() int64 { return l.dropped.Load() }

// Reopen asks the writer to close and reopen the file (after a rotation,
// or once the disk is back). It does not block; it does nothing for
// standard output.
func (l *Logger) Reopen() {
	select {
	case l.reopen <- struct{}{}:
	default:
	}
}

// writer is Run's state: the batch being built, the records taken from
// the queue (recs, swapped with the queue's slice) and the failure
// episode.
type writer struct {
	l       *Logger
	recs    []*Record
	batch   []byte
	lines   int
	failing bool
	lost    int64 // lines lost in the current episode
	retryAt time.Time
}

// Run writes queued lines until ctx is done, then drains the queue,
// writes what is left, and returns. Lines are written at least every
// 100 ms.
func (l *Logger) Run(ctx context.Context) error {
	defer close(l.done)
	w := &writer{l: l, batch: make([]byte, 0, maxBatch+4<<10)}
	tick := time.NewTicker(flushEvery)
	defer tick.Stop()
	lastCheck := time.Now()
	for {
		select {
		case <-l.wake:
			w.drain()
		case <-l.reopen:
			w.drain()
			w.flush()
			w.reopen("reopen requested")
		case now := <-tick.C:
			w.drain()
			if now.Sub(lastCheck) >= checkEvery {
				lastCheck = now
				w.checkPath()
			}
			w.flush()
		case <-ctx.Done():
			w.drain()
			w.flush()
			if w.failing {
				return fmt.Errorf("access log: %d lines lost", w.lost)
			}
			return nil
		}
	}
}

// drain encodes every queued record into the batch, writing the batch
// whenever it fills, and gives the slots back. It takes the whole queue
// at once, by swapping slices, and returns the slots at once, so the
// request path waits on the mutex for no encoding.
func (w *writer) drain() {
	l := w.l
	for {
		l.qmu.Lock()
		recs := l.queue
		l.queue = w.recs[:0]
		l.taken = len(recs)
		l.qmu.Unlock()
		if len(recs) == 0 {
			w.recs = recs
			return
		}
		for _, r := range recs {
			w.batch = l.encode(w.batch, r)
			w.lines++
			r.Reset()
			if len(w.batch) >= maxBatch {
				w.flush()
			}
		}
		l.qmu.Lock()
		room := max(l.buffer-len(l.free), 0)
		l.free = append(l.free, recs[:min(room, len(recs))]...)
		l.taken = 0
		l.qmu.Unlock()
		clear(recs)
		w.recs = recs[:0]
	}
}

// flush writes the batch; lines that cannot be written are counted as
// dropped, and a failure starts an episode and a reopen.
func (w *writer) flush() {
	if w.lines == 0 {
		return
	}
	l := w.l
	l.mu.Lock()
	out := l.out
	l.mu.Unlock()
	var err error
	n := 0
	if out == nil {
		err = fmt.Errorf("the access log file is not open")
	} else {
		n, err = out.Write(w.batch)
	}
	if err == nil {
		if w.failing {
			w.failing = false
			l.event().Info("access log writing again", "path", l.path, "lines_lost", w.lost)
			w.lost = 0
		}
	} else {
		written := bytes.Count(w.batch[:max(n, 0)], []byte{'\n'})
		lost := int64(w.lines - written)
		l.dropped.Add(lost)
		w.lost += lost
		if !w.failing {
			w.failing = true
			l.event().Error("access log write failed; lines are dropped and counted in fulcrum_access_log_dropped_total until it recovers",
				"path", l.path, "error", err)
		}
		if now := time.Now(); l.path != "" && !now.Before(w.retryAt) {
			w.retryAt = now.Add(checkEvery)
			w.reopen("write failed")
		}
	}
	w.batch, w.lines = w.batch[:0], 0
}

// checkPath reopens a file log whose path no longer names the open file:
// the file was removed or rotated away, or a failed reopen left it
// closed.
func (w *writer) checkPath() {
	l := w.l
	if l.path == "" {
		return
	}
	l.mu.Lock()
	f, _ := l.closer.(*os.File)
	l.mu.Unlock()
	if f != nil {
		a, err1 := f.Stat()
		b, err2 := os.Stat(l.path)
		if err1 == nil && err2 == nil && os.SameFile(a, b) {
			return
		}
	}
	w.reopen("the path no longer names the open file")
}

// reopen closes the file and opens the path again; on failure the log
// stays closed (lines are counted as dropped) until a later try works.
func (w *writer) reopen(why string) {
	l := w.l
	if l.path == "" {
		return
	}
	f, err := openFile(l.path)
	l.mu.Lock()
	old := l.closer
	if err == nil {
		l.out, l.closer = f, f
	} else {
		l.out, l.closer = nil, nil
	}
	l.mu.Unlock()
	if old != nil {
		old.Close()
	}
	if err != nil {
		if !w.failing {
			w.failing = true
			l.event().Error("access log cannot be opened; lines are dropped and counted in fulcrum_access_log_dropped_total until it recovers",
				"path", l.path, "error", err, "why", why)
		}
		return
	}
	l.event().Debug("access log reopened", "path", l.path, "why", why)
}

// Close waits for Run to finish (its ctx must be done) and closes the file.
func (l *Logger) Close() error {
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closer != nil {
		return l.closer.Close()
	}
	return nil
}
