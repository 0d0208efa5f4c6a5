//go:build linux

package netloop

import (
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ErrWouldBlock is TryRead's answer when nothing is pending.
var ErrWouldBlock = errors.New("netloop: would block")

// Conn is a TCP socket on a loop, as a net.Conn. Its errors have the
// shapes of the net package's: *net.OpError wrapping os.ErrDeadlineExceeded
// (a deadline), net.ErrClosed (after Close) or an *os.SyscallError with the
// errno (ECONNRESET, EPIPE, ...), and io.EOF at the peer's FIN.
type Conn struct {
	l            *Loop
	fd           int
	gen          uint32
	laddr, raddr net.Addr

	// Loop-only state.
	rready, wready bool   // the last event said so and no EAGAIN since
	hup            bool   // the peer's FIN or an error was seen: reads do not block
	rwait, wwait   *task  // the task waiting to read or write
	watch          func() // called when readable and no task waits to read
	idleFn         func() // ParkIdle's continuation
	idleTimer      timer

	rdl, wdl atomic.Int64 // deadlines, Unix nanoseconds; 0 is none
	waiting  atomic.Int32 // waitRead|waitWrite while a task is parked on c
	closed   atomic.Bool
	det      atomic.Pointer[detached]
}

type detached struct{ net.Conn }

const (
	waitRead  = 1
	waitWrite = 2
	waitIdle  = 4
)

func (c *Conn) kickRead() {
	if t := c.rwait; t != nil {
		c.l.ready(t)
	}
}

func (c *Conn) kickWrite() {
	if t := c.wwait; t != nil {
		c.l.ready(t)
	}
}

// Loop returns the loop c is registered on.
func (c *Conn) Loop() *Loop { return c.l }

// event handles an epoll event for c.
func (c *Conn) event(ev uint32) {
	if ev&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		c.hup = true
	}
	if ev&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		c.rready = true
		switch {
		case c.rwait != nil:
			c.l.ready(c.rwait)
		case c.watch != nil:
			c.watch()
		case c.idleFn != nil:
			c.fireIdle()
		}
	}
	if ev&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		c.wready = true
		if c.wwait != nil {
			c.l.ready(c.wwait)
		}
	}
}

func (c *Conn) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.laddr, Addr: c.raddr, Err: err}
}

func deadline(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	if n := t.UnixNano(); n > 0 {
		return n
	}
	return 1
}

// expired reports whether the deadline dl passed by the loop's clock,
// read once per loop iteration: a deadline moved into the past (an
// attempt's abort) is always seen, and one that passed within the
// iteration is seen by the wait that follows (wait reads the clock).
func (c *Conn) expired(dl int64) bool { return dl != 0 && dl <= c.l.now }

// sysRead and sysWrite are recvfrom(2) and sendto(2), with no address,
// on a non-blocking socket, which never block: raw system calls, without
// the runtime's entersyscall and exitsyscall, so that the scheduler never
// sees the loop in a system call and never hands its P to another
// thread. On a socket they are read(2) and write(2) without the file
// layer's work per call (vfs_read and vfs_write: the file position lock,
// the access checks and fsnotify), which HAProxy's recv and send skip
// too; sendto's MSG_NOSIGNAL turns a write to a reset connection into
// EPIPE without a SIGPIPE (send(2)).
func sysRead(fd int, p []byte) (int, error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	n, _, e := unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(ptr), uintptr(len(p)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func sysWrite(fd int, p []byte) (int, error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	n, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(ptr), uintptr(len(p)), unix.MSG_NOSIGNAL, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// wait parks the calling task until c's socket may be ready for the
// operation, its deadline passes or it is closed. It reports false when
// the loop shut down.
func (c *Conn) wait(slot **task, dl *atomic.Int64, bit int32) bool {
	l := c.l
	t := l.cur
	if t == nil {
		panic("netloop: a blocking call on a loop socket outside its loop's tasks")
	}
	*slot = t
	c.waiting.Or(bit)
	// Loaded after waiting is published: a deadline moved by another
	// goroutine from now on sees waiting and kicks the task.
	if d := dl.Load(); d != 0 {
		if d <= l.now {
			c.waiting.And(^bit)
			*slot = nil
			return true // the caller's expired check sees it
		}
		// A deadline that passed since the loop read its clock (l.now)
		// fires on the loop's next turn, which reads the clock first: no
		// clock read here, one fewer per parked read.
		l.timers.set(&t.timer, d)
	}
	ok := t.park()
	c.waiting.And(^bit)
	*slot = nil
	l.timers.del(&t.timer)
	return ok
}

// Read reads from the socket as net.Conn's Read, parking the task while
// nothing is pending.
func (c *Conn) Read(p []byte) (int, error) {
	if d := c.det.Load(); d != nil {
		return d.Read(p)
	}
	for {
		if c.closed.Load() {
			return 0, c.opErr("read", net.ErrClosed)
		}
		if c.expired(c.rdl.Load()) {
			return 0, c.opErr("read", os.ErrDeadlineExceeded)
		}
		if c.rready {
			n, err := c.readOnce(p)
			if err != ErrWouldBlock {
				return n, err
			}
		}
		if !c.wait(&c.rwait, &c.rdl, waitRead) {
			return 0, c.opErr("read", net.ErrClosed)
		}
	}
}

// AwaitReadable parks the calling task until c's socket may be readable,
// its read deadline passes or c is closed, without reading: the caller's
// next Read says which. A Conn counts as maybe readable until a read
// drains its socket (bytes that came before it was adopted raise no
// edge), so on a fresh Conn it returns at once. It lets a caller take a read buffer only once
// bytes are there, so that a connection waiting on its peer holds none
// (the proxy's target connections, while the target thinks). It returns
// at once on a detached c. Called by c's task.
func (c *Conn) AwaitReadable() {
	if c.det.Load() != nil {
		return
	}
	for !c.rready && !c.closed.Load() && !c.expired(c.rdl.Load()) {
		if !c.wait(&c.rwait, &c.rdl, waitRead) {
			return
		}
	}
}

// readOnce is one read(2); ErrWouldBlock at EAGAIN.
func (c *Conn) readOnce(p []byte) (int, error) {
	for {
		n, err := sysRead(c.fd, p)
		switch {
		case err == nil && n == 0 && len(p) > 0:
			return 0, io.EOF
		case err == nil:
			if n < len(p) && !c.hup {
				// The socket's queue is drained: the next arrival raises
				// a new edge, so the next read waits for it.
				c.rready = false
			}
			return n, nil
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			c.rready = false
			return 0, ErrWouldBlock
		}
		return 0, c.opErr("read", os.NewSyscallError("read", err))
	}
}

// Quiet reports whether nothing (no byte, FIN or error) has arrived on c
// since a read drained its socket, as of the loop's latest epoll_wait(2):
// an idle connection that reports true can carry a request without a
// MSG_PEEK to check it, which costs a syscall. It is stale by at most the
// loop's current iteration. Called on c's loop.
func (c *Conn) Quiet() bool {
	return !c.rready && !c.hup && !c.closed.Load() && c.det.Load() == nil
}

// TryRead reads what is pending without parking: ErrWouldBlock when
// nothing is, io.EOF at the peer's FIN. For Watch functions.
func (c *Conn) TryRead(p []byte) (int, error) {
	if c.closed.Load() {
		return 0, c.opErr("read", net.ErrClosed)
	}
	if !c.rready {
		return 0, ErrWouldBlock
	}
	return c.readOnce(p)
}

// Watch sets f to be called on the loop whenever the socket becomes
// readable while no task waits to read it (nil stops). When the socket
// is readable already, f is called now. Called by c's task.
func (c *Conn) Watch(f func()) {
	c.watch = f
	if f != nil && c.rready {
		f()
	}
}

// Write writes all of p as net.Conn's Write, parking the task while the
// socket's send buffer is full. When other tasks are still to run in the
// loop's pass, the write first waits for them (the pass's write turn,
// turn.go), so that the writes of one pass go out back to back.
func (c *Conn) Write(p []byte) (int, error) {
	if d := c.det.Load(); d != nil {
		return d.Write(p)
	}
	n := 0
	for n < len(p) {
		if c.closed.Load() {
			return n, c.opErr("write", net.ErrClosed)
		}
		if c.expired(c.wdl.Load()) {
			return n, c.opErr("write", os.ErrDeadlineExceeded)
		}
		if c.wready {
			if n == 0 && c.l.turnDue() {
				// The pass's other tasks run first (turn.go); the
				// socket's state is checked again after the turn.
				if !c.l.cur.park() {
					return 0, c.opErr("write", net.ErrClosed)
				}
				continue
			}
			k, err := sysWrite(c.fd, p[n:])
			if k > 0 {
				n += k
			}
			switch {
			case err == nil:
				if n < len(p) {
					c.wready = false // a short write: the buffer is full
				}
				continue
			case err == unix.EINTR:
				continue
			case err == unix.EAGAIN:
				c.wready = false
			default:
				return n, c.opErr("write", os.NewSyscallError("write", err))
			}
		}
		if !c.wait(&c.wwait, &c.wdl, waitWrite) {
			return n, c.opErr("write", net.ErrClosed)
		}
	}
	return n, nil
}

// WriteBuffers writes bufs in order, as one Write of their concatenation
// would, in one sendmsg(2) with the buffers gathered (writev's iovecs)
// where Write would make one system call for each: a request head and
// its buffered body go to the target as one segment on loopback. It
// parks the task while the send buffer is full and takes the pass's
// write turn as Write does. bufs is consumed: its elements are resliced
// past what was written. It returns the bytes written.
func (c *Conn) WriteBuffers(bufs [][]byte) (int64, error) {
	if d := c.det.Load(); d != nil {
		nb := net.Buffers(bufs)
		return nb.WriteTo(d)
	}
	var n int64
	for {
		for len(bufs) > 0 && len(bufs[0]) == 0 {
			bufs = bufs[1:]
		}
		if len(bufs) == 0 {
			return n, nil
		}
		if c.closed.Load() {
			return n, c.opErr("write", net.ErrClosed)
		}
		if c.expired(c.wdl.Load()) {
			return n, c.opErr("write", os.ErrDeadlineExceeded)
		}
		if c.wready {
			if n == 0 && c.l.turnDue() {
				if !c.l.cur.park() {
					return 0, c.opErr("write", net.ErrClosed)
				}
				continue
			}
			k, asked, err := sysWritev(c.fd, bufs)
			n += int64(k)
			consume(bufs, k)
			switch {
			case err == nil:
				if k < asked {
					c.wready = false // a short write: the buffer is full
				}
				continue
			case err == unix.EINTR:
				continue
			case err == unix.EAGAIN:
				c.wready = false
			default:
				return n, c.opErr("write", os.NewSyscallError("sendmsg", err))
			}
		}
		if !c.wait(&c.wwait, &c.wdl, waitWrite) {
			return n, c.opErr("write", net.ErrClosed)
		}
	}
}

// maxIovecs is how many buffers one sendmsg gathers; more take another.
const maxIovecs = 8

// sysWritev is sendmsg(2) with bufs' first maxIovecs non-empty buffers
// gathered and MSG_NOSIGNAL (see sysWrite), as a raw system call. It
// returns the bytes written and the bytes it asked to write.
func sysWritev(fd int, bufs [][]byte) (written, asked int, err error) {
	var iov [maxIovecs]unix.Iovec
	k := 0
	for _, b := range bufs {
		if k == len(iov) {
			break
		}
		if len(b) > 0 {
			iov[k].Base = &b[0]
			iov[k].SetLen(len(b))
			asked += len(b)
			k++
		}
	}
	var msg unix.Msghdr
	msg.Iov = &iov[0]
	msg.SetIovlen(k)
	n, _, e := unix.RawSyscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)), unix.MSG_NOSIGNAL)
	if e != 0 {
		return 0, asked, e
	}
	return int(n), asked, nil
}

// consume reslices bufs past their first n bytes.
func consume(bufs [][]byte, n int) {
	for i := range bufs {
		if n == 0 {
			return
		}
		k := min(n, len(bufs[i]))
		bufs[i] = bufs[i][k:]
		n -= k
	}
}

// Close closes the socket. Any goroutine may call it; the socket is
// closed on the loop, and a task parked on it returns net.ErrClosed.
func (c *Conn) Close() error {
	if d := c.det.Load(); d != nil {
		return d.Close()
	}
	if !c.closed.CompareAndSwap(false, true) {
		return c.opErr("close", net.ErrClosed)
	}
	if !c.l.post(c.closeOnLoop) {
		// The loop is gone and closed its sockets already.
		return nil
	}
	return nil
}

func (c *Conn) closeOnLoop() {
	if c.fd < 0 || c.det.Load() != nil {
		return
	}
	c.l.unregister(c)
	unix.Close(c.fd)
	c.fd = -1
	c.watch = nil
	c.kickRead()
	c.kickWrite()
	if c.idleFn != nil {
		c.fireIdle()
	}
}

// ParkIdle lets the calling task end while c waits for its next bytes:
// fn is spawned as a new task when the socket is readable, when the read
// deadline passes, or when c is closed, and no coroutine (no stack) is
// held meanwhile. It reports false, registering nothing, when the socket
// may be readable already; then the caller reads on. After true, the
// caller returns from its task without touching c. Called by c's task.
func (c *Conn) ParkIdle(fn func()) bool {
	if c.rready || c.closed.Load() || c.det.Load() != nil {
		return false
	}
	c.idleFn = fn
	if c.idleTimer.f == nil {
		c.idleTimer.i = -1
		c.idleTimer.f = c.fireIdle
	}
	c.waiting.Or(waitIdle)
	if d := c.rdl.Load(); d != 0 {
		c.l.timers.set(&c.idleTimer, d)
	}
	return true
}

// fireIdle spawns ParkIdle's continuation.
func (c *Conn) fireIdle() {
	fn := c.idleFn
	if fn == nil {
		return
	}
	c.idleFn = nil
	c.waiting.And(^waitIdle)
	c.l.timers.del(&c.idleTimer)
	c.l.spawn(fn)
}

// kickIdle re-arms an idle wait's timer for a deadline another goroutine
// moved.
func (c *Conn) kickIdle() {
	if c.idleFn == nil {
		return
	}
	if d := c.rdl.Load(); d != 0 {
		c.l.timers.set(&c.idleTimer, d)
	} else {
		c.l.timers.del(&c.idleTimer)
	}
}

// LocalAddr returns the socket's local address.
func (c *Conn) LocalAddr() net.Addr { return c.laddr }

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.raddr }

// SetDeadline sets both deadlines, as net.Conn's.
func (c *Conn) SetDeadline(t time.Time) error {
	if d := c.det.Load(); d != nil {
		return d.SetDeadline(t)
	}
	n := deadline(t)
	c.rdl.Store(n)
	c.wdl.Store(n)
	c.kick(waitRead | waitWrite)
	return nil
}

// SetReadDeadline sets the read deadline, as net.Conn's.
func (c *Conn) SetReadDeadline(t time.Time) error {
	if d := c.det.Load(); d != nil {
		return d.SetReadDeadline(t)
	}
	c.rdl.Store(deadline(t))
	c.kick(waitRead)
	return nil
}

// SetWriteDeadline sets the write deadline, as net.Conn's.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	if d := c.det.Load(); d != nil {
		return d.SetWriteDeadline(t)
	}
	c.wdl.Store(deadline(t))
	c.kick(waitWrite)
	return nil
}

// kick wakes a task parked on c for the operations in bits, so that it
// sees a deadline moved by another goroutine. The task itself never
// finds itself waiting, so its own deadline changes cost no post.
func (c *Conn) kick(bits int32) {
	w := c.waiting.Load() & bits
	if w&waitRead != 0 {
		c.l.post(c.kickRead)
	}
	if w&waitWrite != 0 {
		c.l.post(c.kickWrite)
	}
	if bits&waitRead != 0 && c.waiting.Load()&waitIdle != 0 {
		c.l.post(c.kickIdle)
	}
}

// Detach hands the socket to the Go netpoller: c leaves its loop, and
// from now on every method of c is that of a net.Conn made by
// net.FileConn, which is also returned. Its deadlines carry over. Called
// by c's task, before Offload; the error is net.FileConn's (c is then
// closed).
func (c *Conn) Detach() (net.Conn, error) {
	if d := c.det.Load(); d != nil {
		return d.Conn, nil
	}
	if c.closed.Load() || c.fd < 0 {
		return nil, c.opErr("detach", net.ErrClosed)
	}
	c.l.unregister(c)
	c.watch = nil
	f := os.NewFile(uintptr(c.fd), "netloop")
	gc, err := net.FileConn(f)
	f.Close()
	c.fd = -1
	if err != nil {
		c.closed.Store(true)
		return nil, err
	}
	if r := c.rdl.Load(); r != 0 {
		gc.SetReadDeadline(time.Unix(0, r))
	}
	if w := c.wdl.Load(); w != 0 {
		gc.SetWriteDeadline(time.Unix(0, w))
	}
	c.det.Store(&detached{gc})
	if c.closed.Load() {
		gc.Close() // closed by another goroutine meanwhile
	}
	return gc, nil
}

// SyscallConn gives the socket to functions that use it directly without
// blocking (a MSG_PEEK | MSG_DONTWAIT probe). Its Read and Write call f
// once and do not wait for readiness.
func (c *Conn) SyscallConn() (syscall.RawConn, error) {
	if d := c.det.Load(); d != nil {
		if sc, ok := d.Conn.(syscall.Conn); ok {
			return sc.SyscallConn()
		}
	}
	if c.closed.Load() {
		return nil, c.opErr("raw", net.ErrClosed)
	}
	return rawConn{c}, nil
}

type rawConn struct{ c *Conn }

func (r rawConn) Control(f func(fd uintptr)) error { f(uintptr(r.c.fd)); return nil }
func (r rawConn) Read(f func(fd uintptr) bool) error {
	f(uintptr(r.c.fd))
	return nil
}
func (r rawConn) Write(f func(fd uintptr) bool) error {
	f(uintptr(r.c.fd))
	return nil
}

// dupSocket duplicates c's socket descriptor (close-on-exec; it keeps
// O_NONBLOCK, which the Go runtime set).
func dupSocket(c net.Conn) (int, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return -1, errors.New("netloop: connection has no socket")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	var derr error
	if err := rc.Control(func(s uintptr) {
		fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return -1, err
	}
	if derr != nil {
		return -1, os.NewSyscallError("dup", derr)
	}
	return fd, nil
}

// Claim makes o, an idle Conn of another loop that the caller owns
// outright (taken from a pool: no task uses it), usable by the calling
// task of c's loop: it returns a new Conn on c's loop that shares o's
// socket (dup(2)), and closes o on its own loop. For o on c's loop, or
// not a Conn, it returns o. This is how a loop takes an idle target
// connection from another loop's pool instead of dialling (HAProxy's
// idle-connection sharing between threads). The error is dup(2)'s or
// epoll_ctl(2)'s; o is closed then too.
func (c *Conn) Claim(o net.Conn) (net.Conn, error) {
	oc, ok := o.(*Conn)
	if !ok || oc.l == c.l || oc.det.Load() != nil {
		return o, nil
	}
	fd, err := unix.FcntlInt(uintptr(oc.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		oc.Close()
		return nil, oc.opErr("dup", os.NewSyscallError("dup", err))
	}
	nc := &Conn{l: c.l, fd: fd, laddr: oc.laddr, raddr: oc.raddr, rready: true, wready: true}
	nc.rdl.Store(oc.rdl.Load())
	nc.wdl.Store(oc.wdl.Load())
	oc.Close()
	if err := c.l.register(nc); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return nc, nil
}
