// Package evloop is the prototype of issue 15: an HTTP/1.1 reverse proxy
// for plain TCP whose connections live on event loops, one per core,
// instead of a goroutine each.
//
// The proxy logic is sans-IO: a Proxy (one per loop) and its sessions and
// upstreams never touch a socket. The I/O layer hands it bytes (End.Space
// and Proxy.Received), writes what it asks for (End.Pending and
// Proxy.Wrote), dials for it (the Dialer the layer gives NewProxy), and
// services the ends the Proxy marks (Proxy.Next) after every event. Two
// layers share that core, so that only the I/O differs between them:
//
//   - EpollServer (epoll.go): raw epoll through golang.org/x/sys/unix,
//     edge-triggered, one locked OS thread per loop, an SO_REUSEPORT
//     listener per loop, non-blocking connects, writev;
//   - GnetServer (gnet.go): github.com/panjf2000/gnet/v2's EventHandler,
//     with target connections registered on the client connection's own
//     loop (gnet.EventLoop.Register).
//
// The prototype does a subset of Fulcrum's work: one target group picked
// round robin, a per-loop keep-alive pool, the project's own head parsers
// (internal/http1), Content-Length request bodies (chunked requests are
// refused with 501), responses framed by Content-Length, chunked or the
// connection's end and copied through unchanged, X-Forwarded-For, -Proto,
// -Port and X-Request-Id, and an optional access log encoded off the loop.
// It has no rules, retries, health checks, timeouts, metrics, TLS,
// WebSocket, draining or desync modes (the verdict is computed for its
// cost, not acted on). See docs/performance.md, "Event-loop prototypes
// (issue 15)".
package evloop
