package proxy

import (
	"context"
	"log"
	"net"
	"net/http"
	"time"
)

// h2Server is one generation of the HTTP/2 server that serves a
// listener's HTTP/2 connections (ALPN h2, h2c prior knowledge), handed to
// it by the connection loop. A generation's settings are fixed: net/http
// reads IdleTimeout for each connection it serves and cannot be changed
// while it runs. A reload that changes idle_timeout therefore starts a
// new generation for new connections and retires the old one: it sends
// its connections GOAWAY (RFC 9113 §6.8), they finish their streams, and
// clients reconnect to the new generation. That is also what an nginx
// reload does to the connections of its old workers.
type h2Server struct {
	srv  *http.Server
	ln   *handoffListener
	done chan struct{} // closed when srv.Serve returned
}

func newH2Server(h *Handler, errLog *log.Logger, idle time.Duration) *h2Server {
	var protos http.Protocols
	protos.SetHTTP2(true)
	protos.SetUnencryptedHTTP2(true)
	return &h2Server{srv: &http.Server{Handler: h, IdleTimeout: idle, ErrorLog: errLog, Protocols: &protos, ConnContext: h2ConnContext}}
}

// start serves the generation on its hand-off listener.
func (g *h2Server) start(addr net.Addr) {
	g.ln = &handoffListener{ch: make(chan net.Conn), done: make(chan struct{}), addr: addr}
	g.done = make(chan struct{})
	go func() {
		defer close(g.done)
		g.srv.Serve(g.ln)
	}()
}

// stop ends a started generation: GOAWAY, then its streams until ctx is
// done, then it closes what is left. It returns when Serve returned.
func (g *h2Server) stop(ctx context.Context) {
	if g.ln == nil {
		return
	}
	if err := g.srv.Shutdown(ctx); err != nil {
		g.srv.Close()
	}
	g.ln.Close()
	<-g.done
}

// setH2Idle makes idle the HTTP/2 idle timeout of connections accepted
// from now on. A started generation with another timeout is retired
// (h2Server); the retiring runs until its streams end or shutdown.
func (cs *connServer) setH2Idle(idle time.Duration) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	old := cs.h2
	if old.srv.IdleTimeout == idle || cs.shutting.Load() {
		return
	}
	cs.h2 = newH2Server(cs.h, cs.logger, idle)
	if old.ln == nil {
		return // not serving yet: the new one starts with serve
	}
	cs.h2.start(old.ln.addr)
	cs.retiring.Add(1)
	go func() {
		defer cs.retiring.Done()
		old.stop(cs.retireCtx)
	}()
}

// handH2 gives c to the current HTTP/2 generation; false when it is
// closed.
func (cs *connServer) handH2(c net.Conn) bool {
	cs.mu.Lock()
	g := cs.h2
	cs.mu.Unlock()
	return g.ln != nil && g.ln.hand(c)
}
