//go:build linux

package evloop

import (
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// EpollServer is layer A: raw epoll (epoll(7)) through golang.org/x/sys/unix.
//
//   - One loop goroutine per core, each on its own locked OS thread, each
//     with its own listening socket bound with SO_REUSEPORT (socket(7)):
//     the kernel spreads new connections over the loops by a hash of the
//     4-tuple, with no shared accept queue and no thundering herd, and a
//     connection stays on the loop that accepted it together with the
//     target connections it uses.
//   - Connection sockets are registered once, edge-triggered
//     (EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET), so that pausing and resuming
//     reads or writes never costs an epoll_ctl: a loop reads an end only
//     while the last event said it is readable and the core has room,
//     and stops at EAGAIN or at a short read (a later arrival raises a new
//     edge); it writes with writev(2) until EAGAIN or a short write.
//   - Target connections are non-blocking connects (connect(2),
//     EINPROGRESS, then SO_ERROR on the first EPOLLOUT).
//   - Close wakes every loop through its eventfd(2) and returns once they
//     have closed their sockets and exited.
type EpollServer struct {
	loops []*epLoop
	log   *Logger
	port  int
	wg    sync.WaitGroup
	once  sync.Once
}

type epLoop struct {
	p      *Proxy
	epfd   int
	lfd    int
	evfd   int
	sas    []unix.SockaddrInet4
	ends   []*End // by file descriptor
	events [256]unix.EpollEvent
	iov    [2]unix.Iovec
	sock   int // Config.SockBuf
}

// StartEpoll binds the loops' listeners and starts the loops. cfg.Loops
// defaults to runtime.NumCPU().
func StartEpoll(cfg Config) (*EpollServer, error) {
	cfg = cfg.withDefaults()
	targets, err := parseTargets(cfg.Targets)
	if err != nil {
		return nil, err
	}
	ap, err := netip.ParseAddrPort(cfg.Listen)
	if err != nil || !ap.Addr().Is4() {
		return nil, fmt.Errorf("%w: listen address %q is not IPv4 host:port: %w", ErrConfig, cfg.Listen, err)
	}
	n := cfg.Loops
	if n <= 0 {
		n = runtime.NumCPU()
	}
	s := &EpollServer{port: int(ap.Port())}
	for i := 0; i < n; i++ {
		l, err := s.newLoop(ap, targets, cfg)
		if err != nil {
			for _, l := range s.loops {
				l.closeFDs()
			}
			return nil, err
		}
		s.loops = append(s.loops, l)
	}
	if cfg.AccessLog != nil {
		s.log = NewLogger(cfg.AccessLog, cfg.Targets, s.port, 0)
		cfg.log = s.log
	}
	for i, l := range s.loops {
		l.p = NewProxy(cfg, targets, i, s.port, l)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			l.run()
		}()
	}
	return s, nil
}

// Addr returns the listening address, host:port.
func (s *EpollServer) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// Port returns the listening port.
func (s *EpollServer) Port() int { return s.port }

// Close stops every loop, closing its listener, connections and epoll
// instance, and returns after they exited.
func (s *EpollServer) Close() error {
	s.once.Do(func() {
		one := [8]byte{1}
		for _, l := range s.loops {
			_, _ = unix.Write(l.evfd, one[:])
		}
	})
	s.wg.Wait()
	if s.log != nil {
		return s.log.Close()
	}
	return nil
}

// Pauses counts, live, the times a loop stopped reading a target
// connection for backpressure.
func (s *EpollServer) Pauses() uint64 {
	var n uint64
	for _, l := range s.loops {
		n += l.p.pauses.Load()
	}
	return n
}

// Stats sums the loops' counters; call it after Close.
func (s *EpollServer) Stats() Stats {
	var t Stats
	for _, l := range s.loops {
		t.add(l.p.stats)
	}
	return t
}

func (t *Stats) add(o Stats) {
	t.Requests += o.Requests
	t.Dials += o.Dials
	t.Reused += o.Reused
	t.Answered += o.Answered
	t.MaxBuffered = max(t.MaxBuffered, o.MaxBuffered)
}

func (s *EpollServer) newLoop(ap netip.AddrPort, targets []netip.AddrPort, cfg Config) (*epLoop, error) {
	l := &epLoop{epfd: -1, lfd: -1, evfd: -1, sock: cfg.SockBuf}
	for _, t := range targets {
		l.sas = append(l.sas, unix.SockaddrInet4{Port: int(t.Port()), Addr: t.Addr().As4()})
	}
	var err error
	fail := func(what string, err error) (*epLoop, error) {
		l.closeFDs()
		return nil, fmt.Errorf("evloop: %s: %w", what, err)
	}
	if l.lfd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0); err != nil {
		return fail("socket", err)
	}
	if err = unix.SetsockoptInt(l.lfd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return fail("SO_REUSEADDR", err)
	}
	if err = unix.SetsockoptInt(l.lfd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
		return fail("SO_REUSEPORT", err)
	}
	if err = unix.Bind(l.lfd, &unix.SockaddrInet4{Port: s.port, Addr: ap.Addr().As4()}); err != nil {
		return fail("bind", err)
	}
	if s.port == 0 {
		sa, err := unix.Getsockname(l.lfd)
		if err != nil {
			return fail("getsockname", err)
		}
		s.port = sa.(*unix.SockaddrInet4).Port
	}
	if err = unix.Listen(l.lfd, 4096); err != nil {
		return fail("listen", err)
	}
	if l.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return fail("epoll_create1", err)
	}
	if l.evfd, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
		return fail("eventfd", err)
	}
	for _, fd := range []int{l.lfd, l.evfd} {
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
		if err = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			return fail("epoll_ctl", err)
		}
	}
	return l, nil
}

func (l *epLoop) closeFDs() {
	for _, fd := range []int{l.lfd, l.evfd, l.epfd} {
		if fd >= 0 {
			_ = unix.Close(fd)
		}
	}
}

func (l *epLoop) run() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer l.shutdown()
	for {
		n, err := unix.EpollWait(l.epfd, l.events[:], -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		stop := false
		for i := 0; i < n; i++ {
			ev := &l.events[i]
			fd := int(ev.Fd)
			switch fd {
			case l.evfd:
				stop = true
			case l.lfd:
				l.accept()
			default:
				if fd < len(l.ends) && l.ends[fd] != nil {
					l.event(l.ends[fd], ev.Events)
				}
			}
		}
		l.serviceAll()
		if stop {
			return
		}
	}
}

const (
	evIn  = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLHUP | unix.EPOLLERR
	evOut = unix.EPOLLOUT | unix.EPOLLHUP | unix.EPOLLERR
	evHUP = unix.EPOLLRDHUP | unix.EPOLLHUP | unix.EPOLLERR
)

func (l *epLoop) event(e *End, evs uint32) {
	if evs&evIn != 0 {
		e.Readable = true
	}
	if evs&evHUP != 0 {
		e.HUP = true
	}
	if evs&evOut != 0 {
		e.Writable = true
		if e.Connecting {
			v, err := unix.GetsockoptInt(e.FD, unix.SOL_SOCKET, unix.SO_ERROR)
			if err == nil && v != 0 {
				err = unix.Errno(v)
			}
			if err != nil {
				e.Connecting = false
				e.Readable = false
				l.p.Failed(e, err)
				l.p.Mark(e)
				return
			}
			l.p.Connected(e)
		}
	}
	l.p.Mark(e)
}

func (l *epLoop) serviceAll() {
	for e := l.p.Next(); e != nil; e = l.p.Next() {
		l.service(e)
	}
}

func (l *epLoop) service(e *End) {
	if e.closed || e.FD < 0 {
		return
	}
	p := l.p
	for e.Writable && !e.Connecting && !e.abort && e.niov > 0 {
		total := e.PendingLen()
		n, err := l.writev(e.FD, e.Pending())
		if err == unix.EAGAIN {
			e.Writable = false
			break
		}
		if err != nil {
			e.Writable = false
			p.Failed(e, err)
			break
		}
		p.Wrote(e, n)
		if n < total {
			e.Writable = false
			break
		}
	}
	if e.ShouldClose() {
		l.close(e)
		return
	}
	for e.Readable && !e.Connecting {
		sp := e.Space()
		if len(sp) == 0 {
			p.Paused(e)
			break
		}
		n, err := unix.Read(e.FD, sp)
		if err == unix.EAGAIN {
			e.Readable = false
			break
		}
		if err != nil {
			e.Readable = false
			p.Failed(e, err)
			break
		}
		if n == 0 {
			e.Readable = false
			p.EOF(e)
			break
		}
		p.Received(e, n)
		if n < len(sp) && !e.HUP {
			e.Readable = false
			break
		}
	}
	if e.ShouldClose() {
		l.close(e)
	}
}

// writev writes bs with one writev(2), without allocating.
func (l *epLoop) writev(fd int, bs [][]byte) (int, error) {
	k := 0
	for _, b := range bs {
		if len(b) == 0 {
			continue
		}
		l.iov[k].Base = &b[0]
		l.iov[k].SetLen(len(b))
		k++
	}
	if k == 0 {
		return 0, nil
	}
	n, _, errno := unix.Syscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&l.iov[0])), uintptr(k))
	l.iov = [2]unix.Iovec{}
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

func (l *epLoop) setup(fd int) {
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	if l.sock > 0 {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, l.sock)
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, l.sock)
	}
}

func (l *epLoop) register(fd int, e *End) error {
	for fd >= len(l.ends) {
		l.ends = append(l.ends, make([]*End, len(l.ends)+64)...)
	}
	l.ends[fd] = e
	e.FD = fd
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(fd)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		l.ends[fd] = nil
		e.FD = -1
		return err
	}
	return nil
}

func (l *epLoop) accept() {
	for {
		fd, sa, err := unix.Accept4(l.lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err != nil {
			return // EAGAIN, or EMFILE and the like: the next event retries
		}
		var ip netip.Addr
		if sa4, ok := sa.(*unix.SockaddrInet4); ok {
			ip = netip.AddrFrom4(sa4.Addr)
		}
		l.setup(fd)
		s := l.p.Accept(ip)
		if err := l.register(fd, s.End()); err != nil {
			_ = unix.Close(fd)
			l.p.Closed(s.End())
			continue
		}
	}
}

// Dial implements Dialer with a non-blocking connect.
func (l *epLoop) Dial(e *End, target int) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("evloop: socket: %w", err)
	}
	l.setup(fd)
	err = unix.Connect(fd, &l.sas[target])
	switch {
	case err == nil:
		e.Writable = true
	case errors.Is(err, unix.EINPROGRESS):
		e.Connecting = true
	default:
		_ = unix.Close(fd)
		return fmt.Errorf("evloop: connect: %w", err)
	}
	if err := l.register(fd, e); err != nil {
		_ = unix.Close(fd)
		return fmt.Errorf("evloop: epoll_ctl: %w", err)
	}
	return nil
}

func (l *epLoop) close(e *End) {
	fd := e.FD
	if fd >= 0 {
		l.ends[fd] = nil
		_ = unix.Close(fd)
		e.FD = -1
	}
	l.p.Closed(e)
}

// shutdown closes every connection and the loop's descriptors.
func (l *epLoop) shutdown() {
	for _, e := range l.ends {
		if e != nil {
			l.close(e)
		}
	}
	l.queueDrain()
	l.closeFDs()
}

func (l *epLoop) queueDrain() {
	for e := l.p.Next(); e != nil; e = l.p.Next() {
		if !e.closed && e.FD >= 0 {
			l.close(e)
		}
	}
}
