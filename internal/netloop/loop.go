//go:build linux

package netloop

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ErrClosed is returned by Group methods after Close.
var ErrClosed = errors.New("netloop: closed")

// Group is a set of loops, one per core by default, each on its own
// goroutine. Connections are spread over them round robin.
type Group struct {
	loops []*Loop
	next  atomic.Uint32
	wg    sync.WaitGroup
	once  sync.Once
}

// Start starts n loops (n <= 0: runtime.GOMAXPROCS(0)). The errors are
// those of epoll_create1(2) and eventfd(2), wrapped.
func Start(n int) (*Group, error) {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	g := &Group{}
	for i := range n {
		l, err := newLoop(g, i)
		if err != nil {
			for _, l := range g.loops {
				l.closeFDs()
			}
			return nil, err
		}
		g.loops = append(g.loops, l)
	}
	for _, l := range g.loops {
		g.wg.Add(1)
		go l.run()
	}
	return g, nil
}

// Loops returns the number of loops.
func (g *Group) Loops() int { return len(g.loops) }

// Adopt moves c's socket onto the next loop: c, a *net.TCPConn or any
// net.Conn with a socket behind syscall.Conn, is closed and the returned
// Conn owns a duplicate of its socket. Any goroutine may call it. The
// error is ErrClosed or that of dup(2), and c is closed either way.
func (g *Group) Adopt(c net.Conn) (*Conn, error) {
	l := g.loops[int(g.next.Add(1))%len(g.loops)]
	fd, err := dupSocket(c)
	laddr, raddr := c.LocalAddr(), c.RemoteAddr()
	c.Close()
	if err != nil {
		return nil, err
	}
	lc := &Conn{l: l, fd: fd, laddr: laddr, raddr: raddr, rready: true, wready: true}
	if !l.post(func() {
		if err := l.register(lc); err != nil {
			lc.closed.Store(true)
			unix.Close(fd)
			lc.fd = -1
		}
	}) {
		unix.Close(fd)
		return nil, ErrClosed
	}
	return lc, nil
}

// Spawn runs fn as a new task on c's loop. Any goroutine may call it.
// It reports false when the loop is closing (fn does not run).
func (c *Conn) Spawn(fn func()) bool {
	l := c.l
	return l.post(func() { l.spawn(fn) })
}

// Close stops the loops and waits for them to exit. Their sockets are
// closed and tasks still parked are ended (their calls return
// net.ErrClosed). Callers stop serving first: Close does not wait for
// tasks that never park again.
func (g *Group) Close() error {
	g.once.Do(func() {
		for _, l := range g.loops {
			l.mu.Lock()
			l.closing = true
			l.mu.Unlock()
			l.wake()
		}
		g.wg.Wait()
	})
	return nil
}

// Loop is one event loop: an epoll instance, its sockets, its timers and
// its tasks. Its fields below mu are touched only by the loop's goroutine
// and its tasks.
type Loop struct {
	g      *Group
	id     int
	epfd   int
	wakefd int

	mu      sync.Mutex
	mail    []func() // posted by other goroutines; guarded by mu
	closing bool     // guarded by mu

	spare []func()
	conns []*Conn // by file descriptor
	gen   uint32  // registration generation, in the epoll event's data
	runq  []*task
	runq2 []*task
	// behind is how many tasks of the run queue's current batch are still
	// to run (runReady); pass counts the loop's iterations; turns are the
	// tasks waiting for the pass's write turn (turn.go), turned how many
	// writes have waited for one.
	behind        int
	pass          uint64
	turns, turns2 []*task
	turned        int64
	free          []*task
	all           map[*task]struct{}
	cur           *task
	timers        timerHeap
	events        [128]unix.EpollEvent
	nev           int
	now           int64 // the clock at the iteration's start, Unix nanoseconds
	// yielded is when the loop last yielded its P (run: yieldEvery),
	// yields how many times it has.
	yielded, yields int64
	done            bool
	file            *os.File // the epoll descriptor, in the Go netpoller
	rc              syscall.RawConn
	pollFn          func(uintptr) bool
	armed           int64 // the deadline set on file, Unix nanoseconds; 0 none
	local           any   // Local's value
}

func newLoop(g *Group, id int) (*Loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("netloop: epoll_create1: %w", err)
	}
	wfd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("netloop: eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wfd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wfd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(wfd)
		return nil, fmt.Errorf("netloop: epoll_ctl eventfd: %w", err)
	}
	// The loop sleeps in the Go netpoller, on its epoll descriptor's
	// readiness (an epoll instance is readable while it has events): a
	// blocking epoll_wait would hold the loop's P until sysmon took it,
	// and keep every other goroutine (the access log's writer, health
	// checks, timers) waiting for a P meanwhile.
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		unix.Close(wfd)
		return nil, fmt.Errorf("netloop: epoll descriptor: %w", err)
	}
	l := &Loop{g: g, id: id, epfd: epfd, wakefd: wfd, all: map[*task]struct{}{}}
	l.file = os.NewFile(uintptr(epfd), "netloop-epoll")
	rc, err := l.file.SyscallConn()
	if err != nil {
		l.file.Close()
		unix.Close(wfd)
		return nil, fmt.Errorf("netloop: epoll descriptor: %w", err)
	}
	l.rc = rc
	l.pollFn = l.poll
	return l, nil
}

// poll is one non-blocking epoll_wait; it reports whether the loop has
// something to do (rc.Read waits for the epoll descriptor otherwise).
func (l *Loop) poll(fd uintptr) bool {
	// A zero timeout never blocks: a raw system call (see sysRead).
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, fd, uintptr(unsafe.Pointer(&l.events[0])), uintptr(len(l.events)), 0, 0, 0)
	if e != 0 {
		l.nev = 0
		return e != unix.EINTR && e != unix.EAGAIN
	}
	l.nev = int(n)
	return n > 0
}

// ID is the loop's index in its Group, from 0.
func (l *Loop) ID() int { return l.id }

// Local returns the loop's own value for the code its tasks run, made by
// mk on the first call: state that only this loop's tasks touch, one at
// a time, so it needs no lock (package proxy keeps its free lists of
// request buffers there, looplocal.go). There is one value per loop;
// every call must pass the same mk. Called on l's tasks only: not from a
// Blocking function, an offloaded task or another goroutine.
func (l *Loop) Local(mk func() any) any {
	if l.local == nil {
		l.local = mk()
	}
	return l.local
}

// Now is the loop's clock: the time its current iteration started, read
// once for every task that iteration runs. It is earlier than time.Now by
// at most the iteration's length (microseconds; milliseconds under
// load), which suits deadlines of seconds and saves a clock read each.
// Called on l's tasks.
func (l *Loop) Now() time.Time { return time.Unix(0, l.now) }

func (l *Loop) closeFDs() {
	l.file.Close()
	unix.Close(l.wakefd)
}

// post queues f to run on the loop; it reports false when the loop is
// closing (f will not run).
func (l *Loop) post(f func()) bool {
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		return false
	}
	l.mail = append(l.mail, f)
	first := len(l.mail) == 1
	l.mu.Unlock()
	if first {
		l.wake()
	}
	return true
}

var one = [8]byte{1}

func (l *Loop) wake() { unix.Write(l.wakefd, one[:]) }

func (l *Loop) drainMail() (closing bool) {
	var b [8]byte
	unix.Read(l.wakefd, b[:])
	l.mu.Lock()
	mail := l.mail
	l.mail = l.spare[:0]
	closing = l.closing
	l.mu.Unlock()
	for i, f := range mail {
		f()
		mail[i] = nil
	}
	l.spare = mail[:0]
	return closing
}

func (l *Loop) register(c *Conn) error {
	l.gen++
	c.gen = l.gen
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(c.fd), Pad: int32(c.gen)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
		return fmt.Errorf("netloop: epoll_ctl add: %w", err)
	}
	for c.fd >= len(l.conns) {
		l.conns = append(l.conns, make([]*Conn, len(l.conns)+64)...)
	}
	l.conns[c.fd] = c
	return nil
}

// unregister removes c from the loop (before its socket is closed or
// handed to the Go netpoller).
func (l *Loop) unregister(c *Conn) {
	if c.fd < 0 {
		return
	}
	unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
	if c.fd < len(l.conns) && l.conns[c.fd] == c {
		l.conns[c.fd] = nil
	}
}

// yieldEvery is how often a busy loop yields its P to the Go scheduler
// (runtime.Gosched), in nanoseconds of the loop's clock: about 10,000
// yields a second at most, each well under a microsecond.
const yieldEvery = int64(100 * time.Microsecond)

func (l *Loop) run() {
	defer l.g.wg.Done()
	defer l.closeFDs()
	for {
		l.pass++
		for l.runReady(); len(l.turns) > 0; l.runReady() {
			l.runTurns()
		}
		if l.now-l.yielded >= yieldEvery {
			// A busy loop never enters the scheduler. Without the yield
			// another loop, parked in the Go netpoller, can be left with
			// events on its epoll descriptor that no thread collects
			// (or wait behind this loop on its P) until sysmon's 10 ms
			// preemption: p99 of 100 ms and more with two loops on two
			// cores. Gosched's wakep starts the thread that collects
			// them; a yield skipped whenever no goroutine was runnable
			// brought the stalls back (docs/performance.md, "Run-queue
			// wait").
			l.yielded = l.now
			l.yields++
			runtime.Gosched()
		}
		if len(l.runq) > 0 {
			l.poll(uintptr(l.epfd))
		} else {
			when, _ := l.timers.next()
			if when != l.armed {
				l.armed = when
				dl := time.Time{}
				if when != 0 {
					dl = time.Unix(0, when)
				}
				l.file.SetReadDeadline(dl)
			}
			// The deadline's error (os.ErrDeadlineExceeded) is the
			// timers' turn, below.
			l.rc.Read(l.pollFn)
		}
		n := l.nev
		l.nev = 0
		l.now = time.Now().UnixNano()
		closing := false
		for i := range n {
			ev := &l.events[i]
			fd := int(ev.Fd)
			if fd == l.wakefd {
				closing = l.drainMail()
				continue
			}
			if fd < len(l.conns) {
				if c := l.conns[fd]; c != nil && int32(c.gen) == ev.Pad {
					c.event(ev.Events)
				}
			}
		}
		if l.timers.Len() > 0 {
			l.timers.fire(l.now)
		}
		if closing {
			l.shutdown()
			return
		}
	}
}

// shutdown closes every socket, lets the tasks see it, and ends the
// tasks still alive.
func (l *Loop) shutdown() {
	l.done = true
	for _, c := range l.conns {
		if c != nil {
			c.closed.Store(true)
			c.closeOnLoop()
		}
	}
	l.runReady()
	for t := range l.all {
		t.dead = true
		t.stop()
	}
	clear(l.all)
	l.free = nil
}

func (l *Loop) runReady() {
	for len(l.runq) > 0 {
		q := l.runq
		l.runq = l.runq2[:0]
		for i, t := range q {
			q[i] = nil
			t.queued = false
			l.behind = len(q) - i - 1
			l.resume(t)
			if len(l.turns) >= maxTurns {
				l.runTurns()
			}
		}
		l.behind = 0
		l.runq2 = q[:0]
	}
}

// ready queues t to be resumed; a task already queued is queued once.
func (l *Loop) ready(t *task) {
	if !t.queued {
		t.queued = true
		l.runq = append(l.runq, t)
	}
}

// Stats is what a Group's loops hold at one moment.
type Stats struct {
	// Conns are the sockets registered on the loops.
	Conns int
	// Tasks are the coroutines alive, Free of them idle in the loops'
	// free lists; Tasks - Free are running or parked in a call.
	Tasks, Free int
	// Idle are the sockets parked by ParkIdle, with no task.
	Idle int
	// Yields counts the times the loops gave their P back to the Go
	// scheduler while busy (yieldEvery), since they started.
	Yields int64
	// Turns counts the writes that waited for their pass's write turn
	// (turn.go), since the loops started.
	Turns int64
}

// Stats asks every loop for its counts and waits for the answers; a
// closed Group reports zeros.
func (g *Group) Stats() Stats {
	ch := make(chan Stats, len(g.loops))
	n := 0
	for _, l := range g.loops {
		if l.post(func() { ch <- l.stats() }) {
			n++
		}
	}
	var s Stats
	for range n {
		ls := <-ch
		s.Conns += ls.Conns
		s.Tasks += ls.Tasks
		s.Free += ls.Free
		s.Idle += ls.Idle
		s.Yields += ls.Yields
		s.Turns += ls.Turns
	}
	return s
}

func (l *Loop) stats() Stats {
	s := Stats{Tasks: len(l.all), Free: len(l.free), Yields: l.yields, Turns: l.turned}
	for _, c := range l.conns {
		if c != nil {
			s.Conns++
			if c.idleFn != nil {
				s.Idle++
			}
		}
	}
	return s
}
