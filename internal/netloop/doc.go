// Package netloop runs the proxy engine's own blocking code on event
// loops, one per core, without a goroutine parked in the netpoller per
// connection (issue 15).
//
// A Loop owns an epoll(7) instance and the sockets registered in it, each
// edge-triggered once (EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET). Work on a
// loop runs as tasks: coroutines (iter.Pull) that the loop resumes on its
// own goroutine. A task's Conn.Read or Conn.Write that would block (EAGAIN)
// yields back to the loop, which resumes the task when epoll says the
// socket is ready, when its deadline passes, or when another goroutine
// moves the deadline or closes the socket. A switch between the loop and
// a task is a coroutine switch (runtime.coroswitch) on the same thread:
// no futex, no run queue, no netpoller park and unpark.
//
// Conn implements net.Conn, so the engine's connection loop, its request
// handler and its HTTP/1.1 transport run unchanged on a loop. Three
// escapes keep every behaviour for what a loop cannot carry:
//
//   - Blocking runs a function that waits on channels or locks (the
//     max_connections queue) on a goroutine of its own while the task
//     stays parked and the loop serves everything else;
//   - Offload moves a task off its loop for good, after its Conns were
//     detached to the Go netpoller (Conn.Detach): WebSocket tunnels,
//     HTTP/2 and TLS targets, h2c;
//   - Conn.Watch calls a function on the loop when a socket no task waits
//     on becomes readable: the client-gone watch of a request awaiting
//     its target, with no goroutine.
//
// Only tasks of a Conn's loop may call its blocking methods (Read, Write,
// Detach, Watch, TryRead). Any goroutine may call Close and the
// Set*Deadline methods: from outside the loop they post to the loop's
// mailbox and wake it through an eventfd(2).
package netloop
