package proxy

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/fulcrumlb/fulcrum/internal/accesslog"
	"github.com/fulcrumlb/fulcrum/internal/failure"
)

// connInfo is per client connection state: its id (ALB conn_trace_id), and
// whether the server has read request bytes that no handler has seen yet.
type connInfo struct {
	id      string
	pending atomic.Bool
}

type connInfoKey struct{}

func connInfoOf(ctx context.Context) *connInfo {
	ci, _ := ctx.Value(connInfoKey{}).(*connInfo)
	return ci
}

// trackedListener wraps accepted connections so that requests net/http
// rejects itself (malformed: 400, header section too large: 431) still get
// an access log line, as ALB logs them (conn_trace_id,
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-access-logs.html).
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
		return &trackedConn{Conn: c, l: l, h: l.h, info: &connInfo{id: "TID_" + newID()}}, nil
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

// Write sees every byte the server sends. A response written while a
// request is pending (read but not handed to the handler) is net/http's own
// rejection of a malformed request; its status line is logged.
func (c *trackedConn) Write(p []byte) (int, error) {
	if c.info.pending.Load() && len(p) >= 12 && string(p[:9]) == "HTTP/1.1 " {
		c.info.pending.Store(false)
		if code, err := strconv.Atoi(string(p[9:12])); err == nil {
			c.h.logRejected(c.RemoteAddr().String(), c.info.id, code)
		}
	}
	return c.Conn.Write(p)
}

// connContext attaches the connection's info to every request's context.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if t, ok := c.(*trackedConn); ok {
		return context.WithValue(ctx, connInfoKey{}, t.info)
	}
	return ctx
}

// connState marks a connection pending when net/http starts reading a
// request from it.
func connState(c net.Conn, s http.ConnState) {
	if t, ok := c.(*trackedConn); ok && s == http.StateActive {
		t.info.pending.Store(true)
	}
}

// logRejected logs a request net/http refused before routing.
func (h *Handler) logRejected(client, connID string, code int) {
	if h.AccessLog == nil {
		h.Metrics.Request(h.Listener, "", code, true)
		return
	}
	now := time.Now()
	rec := &accesslog.Record{Type: "http", Time: now, RequestCreation: now, Listener: h.Listener, Client: client,
		RequestProcessing: -1, TargetProcessing: -1, ResponseProcessing: -1, ELBStatus: code, RulePriority: -1,
		Error: failure.HTTPRequestError, ConnID: connID}
	h.AccessLog.Log(rec)
	h.Metrics.Request(h.Listener, "", code, true)
}
