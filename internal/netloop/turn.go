//go:build linux

package netloop

// Write turns. A loop's pass resumes every task an epoll_wait(2) batch
// readied, one after the other. Were each task to write as soon as it
// got there, its peer (the target for a request, the client for a
// response) would be woken by that one write, drain it and go back to
// sleep before the next task's write, and the waking (an inter-processor
// interrupt on a virtual machine) is paid by the writer inside
// sendto(2). So a task's write waits for the pass's write turn: when
// other tasks are still to run in the pass, the writing task parks until
// they have run up to their own writes or parks, and then the writes go
// out back to back. A task alone in its pass writes at once, so a
// lightly loaded loop pays nothing and adds no latency.
// docs/performance.md, "Write turns", has the measurements: behind one
// loop wrk slept 0.25 times a request before, 0.06 after, and 0.05
// behind HAProxy.

// turnDue reports whether the running task must wait for the pass's
// write turn before its write, and queues it for the turn if so: the
// caller parks next. A task waits at most once a pass; a write outside a
// task (a Watch function) or during shutdown never waits.
func (l *Loop) turnDue() bool {
	t := l.cur
	if t == nil || l.done || t.turn == l.pass {
		return false
	}
	t.turn = l.pass
	if l.behind == 0 && len(l.runq) == 0 && len(l.turns) == 0 {
		return false // no one else runs in this pass
	}
	l.turns = append(l.turns, t)
	l.turned++
	return true
}

// maxTurns bounds the tasks waiting for one write turn. A waiting task
// holds the buffer it writes from (a target connection's 4 KiB write
// buffer is lent for the request only, proxy/connbufs.go), so an
// unbounded turn at 200 busy connections kept about 1 MB more of them
// live; 32 writes back to back already wake a peer once for many.
const maxTurns = 32

// runTurns resumes the tasks waiting for the write turn, in the order
// they came to it. Called between tasks of a pass (runReady, when
// maxTurns wait) and at its end; what the resumed tasks ready runs in
// the pass's run queue.
func (l *Loop) runTurns() {
	q := l.turns
	l.turns = l.turns2[:0]
	for i, t := range q {
		q[i] = nil
		l.resume(t)
	}
	l.turns2 = q[:0]
}
