package proxy

import (
	"context"
	"net"
	"sync/atomic"

	"github.com/fulcrumlb/fulcrum/internal/desync"
)

// connInfo is per client connection state: its id (ALB conn_trace_id)
// and, for the request being served on an HTTP/1.1 connection, its desync
// verdict and whether the mode asks to close the target connection after
// it (defensive mode, Ambiguous). The connection loop sets the request
// fields before the handler runs and clears them after; HTTP/2 leaves them
// zero.
type connInfo struct {
	id string
	// packed is the 16 bytes id's hex digits spell (newConnID).
	packed      [16]byte
	verdict     desync.Verdict
	closeTarget bool
	// cc is the HTTP/1.1 connection (nil for HTTP/2): the handler asks it
	// to leave its event loop (loopconn.go) for work a loop cannot carry.
	cc *clientConn
}

type connInfoKey struct{}

func connInfoOf(ctx context.Context) *connInfo {
	ci, _ := ctx.Value(connInfoKey{}).(*connInfo)
	return ci
}

// trackedListener gives each accepted connection its id (ALB's
// conn_trace_id,
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-access-logs.html)
// and counts it in the connection metrics.
//
// It also enforces the listener's max_connections: a connection beyond the
// limit is closed as soon as it is accepted and counted as rejected (ALB
// RejectedConnectionCount, Envoy's downstream_cx_overflow).
type trackedListener struct {
	net.Listener
	h *Handler
	// max is the listener's max_connections; 0 is unlimited.
	max    atomic.Int64
	active atomic.Int64
}

func (l *trackedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if limit := l.max.Load(); limit > 0 && l.active.Load() >= limit {
			c.Close()
			l.h.Metrics.ConnRejected(l.h.Listener)
			continue
		}
		l.active.Add(1)
		l.h.Metrics.ConnOpened(l.h.Listener)
		id, packed := newConnID()
		return &trackedConn{Conn: c, l: l, h: l.h, info: &connInfo{id: id, packed: packed}}, nil
	}
}

type trackedConn struct {
	net.Conn
	l      *trackedListener
	h      *Handler
	info   *connInfo
	closed atomic.Bool
}

// Close closes the connection and counts it closed once.
func (c *trackedConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.l.active.Add(-1)
		c.h.Metrics.ConnClosed(c.h.Listener)
	}
	return c.Conn.Close()
}
