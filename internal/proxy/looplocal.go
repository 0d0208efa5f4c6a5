package proxy

import (
	"bufio"
	"net"
	"net/http"

	"github.com/fulcrumlb/fulcrum/internal/netloop"
)

// loopFree is one event loop's free lists of the buffers a request
// borrows and gives back: a client connection's read buffer, request
// state, response header map and response writer (lent while it idles,
// conn.go: lendBufs), the handler's 32 KiB body buffers, and a target
// connection's read and write buffers (connbufs.go). The listener's,
// handler's and transport's sync.Pools were about 14 Get and Put calls a
// proxied request, 3.5 % of its user time with one loop, most of it in
// the pools' shared queues (their atomics); a loop's own lists need no
// atomic, because only its tasks touch them (netloop.Loop.Local). Off a
// loop (the goroutine layer, an offloaded connection) the sync.Pools
// serve as before, and a buffer may move between a list and a pool.
//
// Each list keeps at most its bound; what comes back beyond it goes to
// the pool, where the garbage collector may free it. So an idle loop
// keeps at most 32 of each 4 KiB buffer and 8 of the 32 KiB ones, 768
// KiB, after a burst.
type loopFree struct {
	readBufs  []*[]byte
	reqStates []*reqState
	headers   []http.Header
	writers   []*bufio.Writer // client response writers
	bodyBufs  []*[]byte       // the handler's 32 KiB buffers
	tReaders  []*bufio.Reader // target connections' read buffers
	tWriters  []*bufio.Writer // target connections' write buffers
}

// Each list's bound: small buffers, big ones.
const (
	loopFreeSmall = 32
	loopFreeBig   = 8
)

func newLoopFree() any { return new(loopFree) }

// freeOf returns l's free lists, nil when l is nil (not on a loop). It
// must be called on one of l's tasks.
func freeOf(l *netloop.Loop) *loopFree {
	if l == nil {
		return nil
	}
	f, _ := l.Local(newLoopFree).(*loopFree)
	return f
}

// loopOfConn returns the loop whose socket c is, nil for a socket on the
// Go netpoller.
func loopOfConn(c net.Conn) *netloop.Loop {
	if lc, ok := c.(*netloop.Conn); ok {
		return lc.Loop()
	}
	return nil
}

// take pops the newest entry of f's list that list selects; false when
// f is nil (not on a loop) or the list is empty.
func take[T any](f *loopFree, list func(*loopFree) *[]T) (v T, ok bool) {
	if f == nil {
		return v, false
	}
	s := list(f)
	n := len(*s)
	if n == 0 {
		return v, false
	}
	v = (*s)[n-1]
	var zero T
	(*s)[n-1] = zero
	*s = (*s)[:n-1]
	return v, true
}

// keep pushes v on f's list that list selects when it holds fewer than
// bound entries; it reports false (the caller gives v to its pool) when
// f is nil or the list is full.
func keep[T any](f *loopFree, list func(*loopFree) *[]T, v T, bound int) bool {
	if f == nil {
		return false
	}
	s := list(f)
	if len(*s) >= bound {
		return false
	}
	if *s == nil {
		*s = make([]T, 0, bound)
	}
	*s = append(*s, v)
	return true
}

// The lists, for take and keep.
func readBufsOf(f *loopFree) *[]*[]byte            { return &f.readBufs }
func reqStatesOf(f *loopFree) *[]*reqState         { return &f.reqStates }
func headersOf(f *loopFree) *[]http.Header         { return &f.headers }
func writersOf(f *loopFree) *[]*bufio.Writer       { return &f.writers }
func bodyBufsOf(f *loopFree) *[]*[]byte            { return &f.bodyBufs }
func targetReadersOf(f *loopFree) *[]*bufio.Reader { return &f.tReaders }
func targetWritersOf(f *loopFree) *[]*bufio.Writer { return &f.tWriters }

// free returns the free lists of cc's loop, nil off a loop.
func (cc *clientConn) free() *loopFree {
	if cc.lc == nil {
		return nil
	}
	return freeOf(cc.lc.Loop())
}
