package proxy

import (
	"context"
	"sync"
	"time"
)

// An attempt must end wherever it is when the client goes away (its
// connection's context is done: 460) or when the target's deregistration
// delay expires (its CutContext: 502). Ending it means moving the target
// connection's deadline into the past, so that a blocked read or write
// returns at once. A context.AfterFunc per attempt for each costs four
// allocations per request; the two watchers here are registered once
// instead: attemptHook once per client connection, cutWatch once per
// target pool. Attempts that have neither (HTTP/2 clients, pools of a
// closed transport) fall back to context.AfterFunc.

// pastDeadline is a deadline already gone: the blocked call returns at
// once with os.ErrDeadlineExceeded.
var pastDeadline = time.Unix(1, 0)

// attemptHook is one HTTP/1.1 client connection's link to its attempt in
// progress. fire is registered once with context.AfterFunc on the
// connection's context; the attempt sets its target connection while it
// runs. Safe for concurrent use.
type attemptHook struct {
	mu    sync.Mutex
	c     *backendConn
	fired bool
}

// fire ends the attempt in progress, and any later one at its start.
func (h *attemptHook) fire() {
	h.mu.Lock()
	h.fired = true
	if h.c != nil {
		h.c.SetDeadline(pastDeadline)
	}
	h.mu.Unlock()
}

// set links c as the attempt in progress. It returns false when the
// context is already done (c's deadline is then already past).
func (h *attemptHook) set(c *backendConn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fired {
		c.SetDeadline(pastDeadline)
		return false
	}
	h.c = c
	return true
}

// clear unlinks the attempt's connection. It returns true when fire did
// not run (the connection's deadline is untouched), as
// context.AfterFunc's stop does.
func (h *attemptHook) clear() bool {
	h.mu.Lock()
	h.c = nil
	ok := !h.fired
	h.mu.Unlock()
	return ok
}

// cutWatch tracks a pool's connections in use, so that one
// context.AfterFunc on the target's CutContext ends them all. active is
// a set kept as a slice: each connection in it knows its index
// (backendConn.cutIdx), so adding and removing are a store and a swap,
// with no hashing per request. Guarded by the pool's mu.
type cutWatch struct {
	watching bool // watchCut registered the watcher
	active   []*backendConn
	fired    bool
	stop     func() bool
	// buf backs active while it holds up to two, in the pool's own
	// memory rather than an array a request with 1,000 targets finds
	// cold.
	buf [2]*backendConn
}

// watchCut registers the pool's cut watcher on ctx (the target's
// CutContext). Called once, when the pool is stored.
func (p *pool) watchCut(ctx context.Context) {
	p.mu.Lock()
	p.cut.watching = true
	p.mu.Unlock()
	stop := context.AfterFunc(ctx, p.cutAll)
	p.mu.Lock()
	p.cut.stop = stop
	p.mu.Unlock()
}

// cutAll ends every attempt in use on the pool, and any later one at its
// start.
func (p *pool) cutAll() {
	p.mu.Lock()
	p.cut.fired = true
	for _, c := range p.cut.active {
		c.cutHit = true
		c.SetDeadline(pastDeadline)
	}
	p.mu.Unlock()
}

// track adds c to the pool's connections in use. It returns false when
// the pool has no cut watcher (the caller falls back to AfterFunc); when
// the cut already came, c's deadline is set in the past.
func (p *pool) track(c *backendConn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.cut.watching {
		return false
	}
	c.cutHit = false
	if p.cut.fired {
		c.cutHit = true
		c.SetDeadline(pastDeadline)
		return true
	}
	if p.cut.active == nil {
		p.cut.active = p.cut.buf[:0]
	}
	p.cut.active = append(p.cut.active, c)
	c.cutIdx = len(p.cut.active)
	return true
}

// untrack removes c from the connections in use. It returns true when the
// cut did not reach c. A closed pool with nothing in use stops its
// watcher.
func (p *pool) untrack(c *backendConn) bool {
	p.mu.Lock()
	if i := c.cutIdx - 1; i >= 0 {
		a := p.cut.active
		last := a[len(a)-1]
		a[i], last.cutIdx = last, i+1
		a[len(a)-1] = nil
		p.cut.active = a[:len(a)-1]
		c.cutIdx = 0
	}
	ok := !c.cutHit
	var stop func() bool
	if p.closed && len(p.cut.active) == 0 {
		stop, p.cut.stop = p.cut.stop, nil
	}
	p.mu.Unlock()
	if stop != nil {
		stop()
	}
	return ok
}

// stopCutWatch stops a closed pool's watcher when nothing is in use.
func (p *pool) stopCutWatch() {
	p.mu.Lock()
	var stop func() bool
	if len(p.cut.active) == 0 {
		stop, p.cut.stop = p.cut.stop, nil
	}
	p.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// stop unhooks the attempt from its client's context. It returns true
// when the context did not end the attempt.
func (x *exchange) stop() bool {
	switch {
	case x.hook != nil:
		h := x.hook
		x.hook = nil
		return h.clear()
	case x.stopFn != nil:
		f := x.stopFn
		x.stopFn = nil
		return f()
	}
	return true
}

// stopCut unhooks the attempt from the target's deregistration cut. It
// returns true when the cut did not end the attempt.
func (x *exchange) stopCut() bool {
	switch {
	case x.cutPool != nil:
		p := x.cutPool
		x.cutPool = nil
		return p.untrack(x.c)
	case x.stopCutFn != nil:
		f := x.stopCutFn
		x.stopCutFn = nil
		return f()
	}
	return true
}
