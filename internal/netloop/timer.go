//go:build linux

package netloop

import "container/heap"

// timer is a loop's timer: f runs on the loop once the wall clock reaches
// when (Unix nanoseconds). i is its index in the heap, -1 when not in it.
type timer struct {
	when int64
	i    int
	f    func()
}

// timerHeap is a loop's timers, soonest first (container/heap).
type timerHeap []*timer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].when < h[j].when }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].i, h[j].i = i, j
}
func (h *timerHeap) Push(x any) {
	t := x.(*timer)
	t.i = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	n := len(old)
	t := old[n-1]
	old[n-1] = nil
	*h = old[:n-1]
	t.i = -1
	return t
}

// set arms t for when, or moves it there.
func (h *timerHeap) set(t *timer, when int64) {
	t.when = when
	if t.i >= 0 {
		heap.Fix(h, t.i)
		return
	}
	heap.Push(h, t)
}

// del disarms t; a timer not armed is left alone.
func (h *timerHeap) del(t *timer) {
	if t.i >= 0 {
		heap.Remove(h, t.i)
	}
}

// next returns the soonest deadline.
func (h timerHeap) next() (int64, bool) {
	if len(h) == 0 {
		return 0, false
	}
	return h[0].when, true
}

// fire runs the timers due at now.
func (h *timerHeap) fire(now int64) {
	for len(*h) > 0 && (*h)[0].when <= now {
		t := heap.Pop(h).(*timer)
		t.f()
	}
}
