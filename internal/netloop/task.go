//go:build linux

package netloop

import "iter"

// task is a coroutine the loop resumes. It runs one function at a time
// and goes back to the loop's free list when it returns, so a coroutine
// (and its stack) is reused by the next piece of work.
// maxFree bounds a loop's idle coroutines: a burst of concurrent work
// leaves at most this many stacks behind.
const maxFree = 128

type task struct {
	l      *Loop
	fn     func()
	next   func() (struct{}, bool)
	stop   func()
	yield  func(struct{}) bool
	queued bool // in the loop's run queue
	dead   bool // the loop shut down: park returns false at once
	off    bool // offloaded: it runs on a goroutine of its own now
	timer  timer
	turn   uint64 // the loop pass in which it last had its write turn
}

func (l *Loop) newTask() *task {
	t := &task{l: l}
	t.timer.i = -1
	t.timer.f = func() { l.ready(t) }
	t.next, t.stop = iter.Pull(t.body)
	l.all[t] = struct{}{}
	return t
}

func (t *task) body(yield func(struct{}) bool) {
	t.yield = yield
	for {
		fn := t.fn
		t.fn = nil
		fn()
		if t.off || t.dead || len(t.l.free) >= maxFree {
			return
		}
		t.l.free = append(t.l.free, t)
		if !yield(struct{}{}) {
			return
		}
	}
}

// spawn runs fn as a task; called on the loop.
func (l *Loop) spawn(fn func()) {
	var t *task
	if n := len(l.free); n > 0 {
		t = l.free[n-1]
		l.free[n-1] = nil
		l.free = l.free[:n-1]
	} else {
		t = l.newTask()
	}
	t.fn = fn
	l.ready(t)
}

func (l *Loop) resume(t *task) {
	l.cur = t
	_, alive := t.next()
	l.cur = nil
	switch {
	case t.off:
		delete(l.all, t)
		// The goroutine gets alive as an argument: captured, alive would
		// move to the heap on every resume, not only on this rare one.
		go func(alive bool) {
			// The goroutine owns the task from here: it resumes it until
			// its function returns (an offloaded task never parks).
			for alive {
				_, alive = t.next()
			}
		}(alive)
	case !alive:
		delete(l.all, t)
	}
}

// park yields to the loop until something readies the task. It reports
// false when the loop shut down.
func (t *task) park() bool {
	if t.dead {
		return false
	}
	if t.off {
		panic("netloop: a task off its loop waited on a loop socket")
	}
	if !t.yield(struct{}{}) {
		t.dead = true
		return false
	}
	return !t.dead
}

// Blocking runs fn, which may block on channels, locks or the Go
// netpoller, without holding up the loop: the calling task parks and fn
// runs on a goroutine of its own, which wakes the task when fn returns.
// Called off a loop task (c is nil, or detached), it just calls fn.
func (c *Conn) Blocking(fn func()) {
	if c == nil || c.det.Load() != nil || c.l.cur == nil {
		fn()
		return
	}
	l, t := c.l, c.l.cur
	go func() {
		fn()
		if !l.post(func() { l.ready(t) }) {
			return // the loop is gone; the task was ended with it
		}
	}()
	t.park()
}

// Offload moves the calling task off its loop for the rest of its life:
// it resumes on a goroutine of its own and may block like any goroutine.
// Every Conn the task still uses must have been detached first
// (Conn.Detach); c is the task's Conn, used to find its loop.
func (c *Conn) Offload() {
	t := c.l.cur
	if t == nil || t.off {
		return
	}
	t.off = true
	t.yield(struct{}{})
}
