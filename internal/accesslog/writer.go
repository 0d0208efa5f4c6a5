package accesslog

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Logger encodes records and hands them to a writer goroutine through a
// bounded queue. Log never blocks: when the queue is full the line is
// dropped and counted (Dropped).
type Logger struct {
	encode func([]byte, *Record) []byte
	queue  chan *[]byte
	bufs   sync.Pool
	out    io.Writer
	closer io.Closer

	dropped atomic.Int64
	done    chan struct{}
}

// Open returns a Logger writing format ("alb" or "json") to path ("-" is
// standard output), with room for buffer queued lines. Run must be started
// for lines to be written.
func Open(path, format string, buffer int, stdout io.Writer) (*Logger, error) {
	var out io.Writer = stdout
	var closer io.Closer
	if path != "-" {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("open access log: %w", err)
		}
		out, closer = f, f
	}
	return New(out, closer, format, buffer), nil
}

// New returns a Logger over w. closer, when not nil, is closed by Close.
func New(w io.Writer, closer io.Closer, format string, buffer int) *Logger {
	l := &Logger{
		encode: AppendALB,
		queue:  make(chan *[]byte, max(buffer, 1)),
		out:    w,
		closer: closer,
		done:   make(chan struct{}),
	}
	if format == "json" {
		l.encode = AppendJSON
	}
	l.bufs.New = func() any { b := make([]byte, 0, 512); return &b }
	return l
}

// Log encodes r and queues the line. It is safe for concurrent use and
// never blocks; r may be reused when it returns.
func (l *Logger) Log(r *Record) {
	bp := l.bufs.Get().(*[]byte)
	*bp = l.encode((*bp)[:0], r)
	select {
	case l.queue <- bp:
	default:
		l.dropped.Add(1)
		l.bufs.Put(bp)
	}
}

// Dropped returns how many lines were dropped because the queue was full.
func (l *Logger) Dropped() int64 { return l.dropped.Load() }

// Run writes queued lines until ctx is done, then drains the queue,
// flushes, and returns. Lines are flushed at least every 100 ms.
func (l *Logger) Run(ctx context.Context) error {
	defer close(l.done)
	w := bufio.NewWriterSize(l.out, 64<<10)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	write := func(bp *[]byte) {
		w.Write(*bp)
		if cap(*bp) <= 64<<10 {
			l.bufs.Put(bp)
		}
	}
	for {
		select {
		case bp := <-l.queue:
			write(bp)
		case <-tick.C:
			w.Flush()
		case <-ctx.Done():
			for {
				select {
				case bp := <-l.queue:
					write(bp)
				default:
					return w.Flush()
				}
			}
		}
	}
}

// Close waits for Run to finish (its ctx must be done) and closes the file.
func (l *Logger) Close() error {
	<-l.done
	if l.closer != nil {
		return l.closer.Close()
	}
	return nil
}
