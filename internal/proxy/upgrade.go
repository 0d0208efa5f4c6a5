package proxy

import (
	"fmt"
	"net/http"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/failure"
)

// upgrade completes a 101 Switching Protocols answer (WebSocket): it hands
// the 101 to the client, then copies bytes both ways until either side
// closes. ALB logs a WebSocket when it closes, with the bytes of the whole
// connection.
func (h *Handler) upgrade(q *request, x *exchange) {
	defer x.c.Close()
	// The tunnel stays hooked to the target's deregistration cut, so a
	// WebSocket to a target whose deregistration delay expired ends too.
	defer x.stopCut()
	x.stop()
	rec, resp := q.rec, x.resp
	rc := http.NewResponseController(q.w)
	cc, brw, err := rc.Hijack()
	if err != nil {
		h.fail(q, fmt.Errorf("cannot take over the client connection: %w", err))
		return
	}
	defer cc.Close()
	x.c.SetDeadline(time.Time{})
	cc.SetDeadline(time.Time{})

	// The protocol the target switched to (RFC 9110 §7.8), read before
	// the hop-by-hop fields, Upgrade among them, are removed; the
	// client's offer stands in when the target named none.
	proto := x.headerValue("Upgrade")
	if proto == "" {
		proto = q.r.Header.Get("Upgrade")
	}
	removeHopHeaders(x.header())
	resp.Header["Connection"] = []string{"Upgrade"}
	resp.Header["Upgrade"] = []string{proto}
	resp.Header["X-Request-Id"] = []string{q.id}
	brw.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	resp.Header.Write(brw)
	brw.WriteString("\r\n")
	if err := brw.Flush(); err != nil {
		c := failure.Classify(&failure.ClientError{Closed: true, Err: err})
		rec.Error, rec.ELBStatus, rec.TargetStatus = c.Type, c.Status(), 101
		return
	}
	rec.ELBStatus, rec.TargetStatus = 101, 101
	rec.TargetProcessing = time.Since(q.start) - max(rec.RequestProcessing, 0)
	rec.ResponseProcessing = 0

	// Bytes already read past the 101 on either side go first; after
	// that the tunnel reads the sockets directly, with the idle bound.
	cbuf, _ := brw.Reader.Peek(brw.Reader.Buffered())
	tbuf, _ := x.c.br.Peek(x.c.br.Buffered())
	up, down, idled := tunnel(cc, cbuf, x.c.Conn, tbuf, q.idleTimeout)
	rec.ReceivedBytes += up
	rec.SentBytes = responseHeaderSize(resp) + down
	if idled {
		rec.ErrorDetail = "no byte either way for idle_timeout " + q.idleTimeout.String() + ": tunnel closed"
	}
}
