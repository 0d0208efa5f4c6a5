package proxy

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/failure"
)

// The listener's idle_timeout bounds every wait on the client, as ALB's
// connection idle timeout does: "if no data has been sent or received by
// the time that the idle timeout period elapses, the load balancer closes
// the connection" (Elastic Load Balancing, Application Load Balancers,
// "Connection idle timeout"). The bound is idle, not total: each byte that
// moves extends it, so a slow but steady upload or download completes and
// only a stalled one ends.

// idleBody is the client's request body with an idle bound: before each
// Read the client connection's read deadline moves to now plus the idle
// timeout. Once the body is fully read the deadline is cleared, so
// net/http's background read (which notices a client going away) does not
// time out while the response streams.
//
// The HTTP/2 transport to a target may go on reading the body after the
// handler returned (the target answered before the body's end); stop,
// deferred by the handler, ends the deadline moves then, since the
// client's ResponseWriter must not be used after its handler is done.
type idleBody struct {
	r    io.Reader
	rc   *http.ResponseController
	idle time.Duration
	// timedOut is set when a read hit the idle bound: the client stalled.
	timedOut bool

	mu      sync.Mutex
	stopped bool // stop ran: the ResponseWriter is not touched again
}

// stop ends the deadline moves; Reads still read the body.
func (b *idleBody) stop() {
	b.mu.Lock()
	b.stopped = true
	b.mu.Unlock()
}

// setReadDeadline moves the client's read deadline unless stop ran.
func (b *idleBody) setReadDeadline(t time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.stopped {
		b.rc.SetReadDeadline(t)
	}
}

func newIdleBody(r io.Reader, w http.ResponseWriter, idle time.Duration) *idleBody {
	return &idleBody{r: r, rc: http.NewResponseController(w), idle: idle}
}

// Read reads the body; an error from a stalled client wraps
// os.ErrDeadlineExceeded.
func (b *idleBody) Read(p []byte) (int, error) {
	if b.idle > 0 {
		b.setReadDeadline(time.Now().Add(b.idle))
	}
	n, err := b.r.Read(p)
	switch {
	case err == io.EOF:
		if b.idle > 0 {
			b.setReadDeadline(time.Time{})
		}
	case err != nil && errors.Is(err, os.ErrDeadlineExceeded):
		b.timedOut = true
	}
	return n, err
}

// idleWriter is the client's ResponseWriter with an idle bound on writes:
// before each Write and Flush the write deadline moves to now plus the
// idle timeout, so a client that stops reading a response releases the
// target connection and slot after idle_timeout, not never.
type idleWriter struct {
	w    http.ResponseWriter
	rc   *http.ResponseController
	idle time.Duration
}

func newIdleWriter(w http.ResponseWriter, idle time.Duration) *idleWriter {
	iw := &idleWriter{w: w, rc: http.NewResponseController(w), idle: idle}
	iw.extend()
	return iw
}

func (w *idleWriter) extend() {
	if w.idle > 0 {
		w.rc.SetWriteDeadline(time.Now().Add(w.idle))
	}
}

// Write writes p to the client within the idle bound.
func (w *idleWriter) Write(p []byte) (int, error) {
	w.extend()
	return w.w.Write(p)
}

// Header returns the response header map.
func (w *idleWriter) Header() http.Header { return w.w.Header() }

// WriteHeader sends the status line and header within the idle bound.
func (w *idleWriter) WriteHeader(code int) {
	w.extend()
	w.w.WriteHeader(code)
}

// Flush sends buffered bytes within the idle bound (http.Flusher).
func (w *idleWriter) Flush() {
	w.extend()
	w.rc.Flush()
}

// Unwrap returns the underlying ResponseWriter, for
// http.ResponseController (Hijack, deadlines).
func (w *idleWriter) Unwrap() http.ResponseWriter { return w.w }

// tunnel copies an upgraded connection (WebSocket) both ways until either
// side closes it or no byte moved either way for idle; then it closes
// both. clientBuf and targetBuf are bytes already read past the 101 on
// each side. It returns the bytes sent up (client to target) and down,
// and whether the idle bound ended the tunnel.
func tunnel(client net.Conn, clientBuf []byte, tgt net.Conn, targetBuf []byte, idle time.Duration) (up, down int64, idled bool) {
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	var idledFlag atomic.Bool
	var once sync.Once
	closeBoth := func() {
		once.Do(func() {
			client.Close()
			tgt.Close()
		})
	}
	pipe := func(dst, src net.Conn, pending []byte) int64 {
		defer closeBoth()
		var n int64
		if len(pending) > 0 {
			if idle > 0 {
				dst.SetWriteDeadline(time.Now().Add(idle))
			}
			w, err := dst.Write(pending)
			n += int64(w)
			if err != nil {
				return n
			}
		}
		buf := make([]byte, 32<<10)
		for {
			if idle > 0 {
				src.SetReadDeadline(time.Unix(0, last.Load()).Add(idle))
			}
			r, err := src.Read(buf)
			if r > 0 {
				now := time.Now()
				last.Store(now.UnixNano())
				if idle > 0 {
					dst.SetWriteDeadline(now.Add(idle))
				}
				w, werr := dst.Write(buf[:r])
				n += int64(w)
				if werr != nil {
					return n
				}
			}
			if err == nil {
				continue
			}
			if idle > 0 && errors.Is(err, os.ErrDeadlineExceeded) {
				// The other direction may have moved bytes meanwhile:
				// the tunnel is idle only when neither did.
				if time.Since(time.Unix(0, last.Load())) < idle {
					continue
				}
				idledFlag.Store(true)
			}
			return n
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() { up = pipe(tgt, client, clientBuf) })
	wg.Go(func() { down = pipe(client, tgt, targetBuf) })
	wg.Wait()
	return up, down, idledFlag.Load()
}

// clientBodyFailed answers a request whose body the client did not
// deliver: 408 when the client stalled for idle_timeout (ALB: "the client
// did not send data before the idle timeout period expired"), 400 when it
// sent a malformed or short body. Either is the client's fault: no target
// is blamed.
func (h *Handler) clientBodyFailed(q *request, err error) {
	detail := err.Error()
	var tl *errBodyTooLarge
	if errors.As(err, &tl) {
		h.answer(q, failure.Classify(&failure.ClientError{Denied: true, Status: http.StatusRequestEntityTooLarge, Err: err}), detail)
		return
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		detail = "client sent no request body byte for idle_timeout " + q.idleTimeout.String() + ": " + detail
	}
	h.answer(q, failure.Classify(&failure.ClientError{Err: err}), detail)
}

// clientWriteDetail explains a failed write of the response to the client.
func clientWriteDetail(err error) string {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return "client read no response byte for idle_timeout: " + err.Error()
	}
	return "client closed the connection during the response body: " + err.Error()
}
