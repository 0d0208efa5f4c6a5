//go:build linux

package evloop

import (
	"bufio"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/http1"
)

// Record is one request's access-log entry, fixed-size so that the loop
// hands it over by value without allocating. Fields longer than their
// arrays are cut.
type Record struct {
	Start     int64 // Unix time, ns, when the head was parsed
	End       int64 // Unix time, ns, when the response was out
	Status    int32 // the target's status
	Target    int32 // index into the targets
	RespBytes int64
	ReqBytes  int64
	Loop      uint16
	ipLen     uint8
	methodLen uint8
	pathLen   uint8
	ip        [48]byte
	method    [8]byte
	path      [128]byte
	id        [16]byte
}

func (r *Record) fill(req *http1.Request, s *Session) {
	r.Start = now()
	r.Loop = s.p.loop
	r.ipLen = uint8(copy(r.ip[:], s.ip))
	r.methodLen = uint8(copy(r.method[:], req.Method))
	r.pathLen = uint8(copy(r.path[:], req.Target))
	r.id = s.id
	r.ReqBytes = int64(len(s.head)) + max(req.ContentLength, 0)
}

func (r *Record) done(u *Upstream) {
	r.End = now()
	r.Status = int32(u.status)
	r.Target = int32(u.target)
	r.RespBytes = u.sent
}

// Logger encodes Records on its own goroutine, off the loops, into a
// buffered writer: one line per request with ALB's leading fields
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-access-logs.html):
// type, time, elb, client, target, the three processing times in seconds
// (-1 where the prototype does not measure one), the two statuses, the
// byte counts, the request line, and the request id as trace_id. The
// loops send without blocking; a full queue drops the record (Dropped
// counts them). Close stops the goroutine after it wrote every queued
// record.
type Logger struct {
	ch      chan Record
	w       *bufio.Writer
	targets []string
	port    string
	dropped atomic.Uint64
	wg      sync.WaitGroup
	once    sync.Once
	err     error
}

// NewLogger starts the encoder for w. targets name Record.Target; port is
// the listener's, for the request URL. depth is the queue's length in
// records (default 4096).
func NewLogger(w io.Writer, targets []string, port int, depth int) *Logger {
	if depth <= 0 {
		depth = 4096
	}
	l := &Logger{ch: make(chan Record, depth), w: bufio.NewWriterSize(w, 64<<10), targets: targets, port: strconv.Itoa(port)}
	l.wg.Add(1)
	go l.run()
	return l
}

func (l *Logger) send(r *Record) {
	select {
	case l.ch <- *r:
	default:
		l.dropped.Add(1)
	}
}

// Dropped is the number of records lost to a full queue.
func (l *Logger) Dropped() uint64 { return l.dropped.Load() }

func (l *Logger) run() {
	defer l.wg.Done()
	var line []byte
	for r := range l.ch {
		line = l.encode(line[:0], &r)
		if _, err := l.w.Write(line); err != nil && l.err == nil {
			l.err = err
		}
		if len(l.ch) == 0 {
			if err := l.w.Flush(); err != nil && l.err == nil {
				l.err = err
			}
		}
	}
	if err := l.w.Flush(); err != nil && l.err == nil {
		l.err = err
	}
}

func (l *Logger) encode(b []byte, r *Record) []byte {
	b = append(b, "http "...)
	b = time.Unix(0, r.End).UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z")
	b = append(b, " app/evproto/"...)
	b = strconv.AppendUint(b, uint64(r.Loop), 10)
	b = append(b, ' ')
	b = append(b, r.ip[:r.ipLen]...)
	b = append(b, ":0 "...)
	if int(r.Target) < len(l.targets) {
		b = append(b, l.targets[r.Target]...)
	} else {
		b = append(b, '-')
	}
	b = append(b, " -1 "...)
	b = strconv.AppendFloat(b, float64(r.End-r.Start)/1e9, 'f', 6, 64)
	b = append(b, " -1 "...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, r.ReqBytes, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, r.RespBytes, 10)
	b = append(b, " \""...)
	b = append(b, r.method[:r.methodLen]...)
	b = append(b, " http://127.0.0.1:"...)
	b = append(b, l.port...)
	b = append(b, r.path[:r.pathLen]...)
	b = append(b, " HTTP/1.1\" \"-\" - - - \"Root="...)
	b = append(b, r.id[:]...)
	b = append(b, "\"\n"...)
	return b
}

// Close stops the encoder once every queued record is written and
// returns the first write error. Call it after the loops stopped sending.
func (l *Logger) Close() error {
	l.once.Do(func() { close(l.ch) })
	l.wg.Wait()
	return l.err
}
