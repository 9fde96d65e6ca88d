package rawio

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Blocking is a client connection on a blocking socket that the Go
// runtime's network poller never sees: a connect, read or write is one
// system call that sleeps in the kernel until it is done, as in a
// single-threaded C client.
//
// For a process with one session this is the cheapest way to talk.
// Through the poller, each wait for a reply is a read that fails with
// EAGAIN, a park, an epoll_pwait(2) by whichever thread polls and the
// read again, and a connection's socket, connect and close go through
// the runtime's system-call bookkeeping, which wakes its monitor
// thread from its deep sleep two or three times per message. Here the
// session's thread sleeps in read(2) and keeps its processor, and the
// monitor, which never sees every processor idle, settles into its
// slowest beat. It does not scale: every session in a call holds a
// thread. Use it for one session, Conn for more.
//
// Deadlines become SO_RCVTIMEO and SO_SNDTIMEO, set before a call when
// the time left has moved by more than a few milliseconds. The kernel's
// socket timers are coarse: a call can end up to about a tenth of its
// timeout late (measured: 2.4 s for 2 s, 21.7 s for 20 s).
// TODO: a poll(2) with a millisecond timeout before each wait would be
// exact, at a system call per wait; not measured yet. A deadline set while a call is
// in progress applies to the next call. Close from another goroutine
// shuts the socket down, which ends a call in progress at once, and the
// last call out closes the descriptor.
type Blocking struct {
	laddr, raddr net.Addr

	mu     sync.Mutex
	fd     int
	users  int  // calls in progress
	closed bool // Close was called; the descriptor may still be open
	rdl    time.Time
	wdl    time.Time

	// The timeouts in force on the socket, each used by one call at a
	// time (reads do not run alongside reads, nor writes alongside
	// writes).
	rto, wto time.Duration

	one [1][]byte
	iov iovecs
}

// timeoutSlack is how far past its deadline a call may end, rather
// than set the socket's timeout again before every call.
const timeoutSlack = 5 * time.Millisecond

// DialBlocking connects to addr, a *net.TCPAddr or *net.UnixAddr, on a
// blocking socket. setup, if not nil, sets socket options before the
// connect; TCP sockets also get TCP_NODELAY, as package net gives them.
// A positive timeout bounds the connect, and the end of ctx cuts it
// short. Errors are *net.OpError values shaped as net.Dialer's.
func DialBlocking(ctx context.Context, addr net.Addr,
	timeout time.Duration, setup func(fd int) error) (*Blocking, error) {

	fd, sa, network, err := openSocket(ctx, addr, 0)
	if err != nil {
		return nil, err
	}
	c := &Blocking{fd: fd, raddr: addr}
	if err := c.prepare(network, timeout, setup); err != nil {
		syscall.Close(fd)
		return nil, dialError(network, addr, err)
	}

	stop := context.AfterFunc(ctx, c.interrupt)
	err = connect(fd, sa, timeout)
	if !stop() {
		// ctx ended; the connection may have been shut down under us.
		err = ctx.Err()
	}
	if err != nil {
		c.mu.Lock()
		c.closed = true
		syscall.Close(fd)
		c.mu.Unlock()
		return nil, dialError(network, addr, err)
	}
	c.laddr = localAddr(fd, network)
	return c, nil
}

// prepare sets the socket's options before connect.
func (c *Blocking) prepare(network string, timeout time.Duration,
	setup func(fd int) error) error {

	if err := setOptions(c.fd, network, setup); err != nil {
		return err
	}
	if timeout > 0 {
		// Linux bounds a blocking connect by SO_SNDTIMEO.
		if err := setTimeout(c.fd, syscall.SO_SNDTIMEO, timeout); err != nil {
			return err
		}
		c.wto = timeout
	}
	return nil
}

// connect connects fd, waiting until the connection is made, refused or
// timed out. A signal can end a blocking connect(2) early with EINTR,
// while the kernel goes on connecting; then poll(2) waits for it.
func connect(fd int, sa syscall.Sockaddr, timeout time.Duration) error {
	start := time.Now()
	err := syscall.Connect(fd, sa)
	for err == syscall.EINTR {
		err = awaitConnect(fd, timeout-time.Since(start), timeout > 0)
	}
	switch err {
	case nil:
		return nil
	case syscall.EINPROGRESS:
		// What a blocking connect returns when SO_SNDTIMEO expires.
		return os.ErrDeadlineExceeded
	}
	if errno, ok := err.(syscall.Errno); ok {
		return os.NewSyscallError("connect", errno)
	}
	return err
}

// awaitConnect waits for a connect in progress and returns its outcome,
// EINTR when a signal cut the wait short, or EINPROGRESS when left ran
// out first.
func awaitConnect(fd int, left time.Duration, bounded bool) error {
	ms := -1
	if bounded {
		if left <= 0 {
			return syscall.EINPROGRESS
		}
		ms = int((left + time.Millisecond - 1) / time.Millisecond)
	}
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	n, err := unix.Poll(fds, ms)
	switch {
	case err != nil:
		return err
	case n == 0:
		return syscall.EINPROGRESS
	}
	soErr, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET,
		syscall.SO_ERROR)
	switch {
	case err != nil:
		return err
	case soErr != 0:
		return syscall.Errno(soErr)
	}
	return nil
}

// interrupt ends a connect in progress: shutdown(2) makes a blocking
// connect(2) return at once.
func (c *Blocking) interrupt() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		syscall.Shutdown(c.fd, syscall.SHUT_RDWR)
	}
}

// Read reads into b as net.Conn's Read does.
func (c *Blocking) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	fd, dl, err := c.acquire(true)
	if err != nil {
		return 0, c.opError("read", err)
	}
	defer c.release()

	for {
		if err := arm(fd, syscall.SO_RCVTIMEO, &c.rto, dl); err != nil {
			return 0, c.opError("read", err)
		}
		n, _, e := syscall.Syscall(syscall.SYS_READ, uintptr(fd),
			uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		switch {
		case e == 0 && n > 0:
			return int(n), nil
		case e == syscall.EINTR, e == syscall.EAGAIN:
			continue // arm tells a passed deadline from an early end
		case c.isClosed():
			return 0, c.opError("read", net.ErrClosed)
		case e != 0:
			return 0, c.opError("read", os.NewSyscallError("read", e))
		}
		return 0, io.EOF
	}
}

// Write writes all of b as net.Conn's Write does.
func (c *Blocking) Write(b []byte) (int, error) {
	c.one[0] = b
	n, err := c.writeGroup("write", c.one[:])
	c.one[0] = nil
	return n, err
}

// WriteBuffers writes all of bufs with writev(2), as Conn's does.
func (c *Blocking) WriteBuffers(bufs [][]byte) (int64, error) {
	return inGroups(bufs, c.writeGroup)
}

func (c *Blocking) writeGroup(op string, bufs [][]byte) (int, error) {
	fd, dl, err := c.acquire(false)
	if err != nil {
		return 0, c.opError(op, err)
	}
	defer c.release()
	c.iov.set(bufs)
	defer c.iov.clear()

	written := 0
	for !c.iov.done() {
		if err := arm(fd, syscall.SO_SNDTIMEO, &c.wto, dl); err != nil {
			return written, c.opError(op, err)
		}
		// A timeout that ends a writev(2) after some bytes returns
		// their count; EAGAIN means none went out.
		n, _, e := syscall.Syscall(syscall.SYS_WRITEV, uintptr(fd),
			uintptr(unsafe.Pointer(c.iov.first())), c.iov.count())
		switch {
		case e == syscall.EINTR, e == syscall.EAGAIN:
			continue
		case e != 0 && c.isClosed():
			return written, c.opError(op, net.ErrClosed)
		case e != 0:
			return written, c.opError(op, os.NewSyscallError(op, e))
		}
		written += int(n)
		c.iov.consume(int(n))
	}
	return written, nil
}

// arm makes the socket's timeout for the next call (opt, whose value in
// force is *cur) end the call at deadline dl, within timeoutSlack, and
// returns os.ErrDeadlineExceeded when dl has passed. A timeout in force
// that would end the call early is kept while it is at least half the
// time left: the call then ends with EAGAIN and is made again.
func arm(fd, opt int, cur *time.Duration, dl time.Time) error {
	var left time.Duration // none: no deadline
	if !dl.IsZero() {
		left = time.Until(dl)
		if left <= 0 {
			return os.ErrDeadlineExceeded
		}
	}
	switch {
	case left == 0 && *cur == 0:
		return nil
	case left > 0 && *cur > 0 && *cur <= left+timeoutSlack &&
		*cur >= left/2:
		return nil
	}
	if err := setTimeout(fd, opt, left); err != nil {
		return err
	}
	*cur = left
	return nil
}

// setTimeout sets SO_RCVTIMEO or SO_SNDTIMEO to d; zero is none.
func setTimeout(fd, opt int, d time.Duration) error {
	if d > 0 && d < time.Microsecond {
		d = time.Microsecond // a zero timeval would mean none
	}
	tv := syscall.NsecToTimeval(int64(d))
	err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, opt, &tv)
	if err != nil {
		name := "SO_SNDTIMEO"
		if opt == syscall.SO_RCVTIMEO {
			name = "SO_RCVTIMEO"
		}
		return os.NewSyscallError("setsockopt "+name, err)
	}
	return nil
}

// acquire counts a read or write in and returns the descriptor and the
// call's deadline, or net.ErrClosed.
func (c *Blocking) acquire(read bool) (int, time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return -1, time.Time{}, net.ErrClosed
	}
	c.users++
	if read {
		return c.fd, c.rdl, nil
	}
	return c.fd, c.wdl, nil
}

// release counts a call out; the last one out after Close closes the
// descriptor.
func (c *Blocking) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.users--
	if c.closed && c.users == 0 {
		syscall.Close(c.fd)
		c.fd = -1
	}
}

func (c *Blocking) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// Close closes the connection. A call in progress in another goroutine
// returns net.ErrClosed.
func (c *Blocking) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.opError("close", net.ErrClosed)
	}
	c.closed = true
	if c.users > 0 {
		// The call's thread sleeps in the kernel; shutdown wakes it.
		syscall.Shutdown(c.fd, syscall.SHUT_RDWR)
		return nil
	}
	err := syscall.Close(c.fd)
	c.fd = -1
	if err != nil {
		return c.opError("close", os.NewSyscallError("close", err))
	}
	return nil
}

// SyscallConn returns access to the descriptor, for socket options. Its
// Read and Write call f until it returns true: the descriptor blocks.
func (c *Blocking) SyscallConn() (syscall.RawConn, error) {
	return blockingRaw{c}, nil
}

type blockingRaw struct{ c *Blocking }

func (r blockingRaw) Control(f func(fd uintptr)) error {
	fd, _, err := r.c.acquire(true)
	if err != nil {
		return err
	}
	defer r.c.release()
	f(uintptr(fd))
	return nil
}

func (r blockingRaw) Read(f func(fd uintptr) bool) error {
	return r.Control(func(fd uintptr) {
		for !f(fd) {
		}
	})
}

func (r blockingRaw) Write(f func(fd uintptr) bool) error {
	return r.Read(f)
}

// LocalAddr returns the local address, as the kernel named it.
func (c *Blocking) LocalAddr() net.Addr { return c.laddr }

// RemoteAddr returns the address dialled.
func (c *Blocking) RemoteAddr() net.Addr { return c.raddr }

// SetDeadline sets the read and write deadlines.
func (c *Blocking) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rdl, c.wdl = t, t
	return nil
}

// SetReadDeadline sets the deadline for reads.
func (c *Blocking) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rdl = t
	return nil
}

// SetWriteDeadline sets the deadline for writes.
func (c *Blocking) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wdl = t
	return nil
}

func (c *Blocking) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: c.raddr.Network(), Source: c.laddr,
		Addr: c.raddr, Err: err}
}

// openSocket makes the socket that DialPolled and DialBlocking connect:
// of addr's family, SOCK_STREAM|SOCK_CLOEXEC with flags, unless ctx has
// ended. Its errors are dial errors, as dialError shapes them.
func openSocket(ctx context.Context, addr net.Addr,
	flags int) (int, syscall.Sockaddr, string, error) {

	sa, family, network, err := sockaddr(addr)
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return -1, nil, network, dialError(network, addr, err)
	}
	fd, err := syscall.Socket(family,
		syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC|flags, 0)
	if err != nil {
		return -1, nil, network, dialError(network, addr,
			os.NewSyscallError("socket", err))
	}
	return fd, sa, network, nil
}

func dialError(network string, addr net.Addr, err error) error {
	return &net.OpError{Op: "dial", Net: network, Addr: addr, Err: err}
}

// errAddr is returned for an address DialBlocking cannot connect to.
var errAddr = errors.New("not a TCP or UNIX-domain address")

// sockaddr returns the socket address, family and network for addr.
func sockaddr(addr net.Addr) (syscall.Sockaddr, int, string, error) {
	switch a := addr.(type) {
	case *net.TCPAddr:
		if ip4 := a.IP.To4(); ip4 != nil {
			sa := &syscall.SockaddrInet4{Port: a.Port}
			copy(sa.Addr[:], ip4)
			return sa, syscall.AF_INET, "tcp", nil
		}
		ip6 := a.IP.To16()
		if ip6 == nil {
			return nil, 0, "tcp", errAddr
		}
		sa := &syscall.SockaddrInet6{Port: a.Port, ZoneId: zoneID(a.Zone)}
		copy(sa.Addr[:], ip6)
		return sa, syscall.AF_INET6, "tcp", nil
	case *net.UnixAddr:
		return &syscall.SockaddrUnix{Name: a.Name}, syscall.AF_UNIX,
			"unix", nil
	}
	return nil, 0, "tcp", errAddr
}

// zoneID turns an IPv6 zone, an interface name or number, into the
// scope id of a socket address.
func zoneID(zone string) uint32 {
	if zone == "" {
		return 0
	}
	if ifi, err := net.InterfaceByName(zone); err == nil {
		return uint32(ifi.Index)
	}
	n, _ := strconv.ParseUint(zone, 10, 32)
	return uint32(n)
}

// localAddr asks the kernel for fd's local address.
func localAddr(fd int, network string) net.Addr {
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		sa = nil
	}
	switch sa := sa.(type) {
	case *syscall.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(sa.Addr[:]).To16(), Port: sa.Port}
	case *syscall.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(sa.Addr[:]), Port: sa.Port,
			Zone: zoneName(sa.ZoneId)}
	case *syscall.SockaddrUnix:
		return &net.UnixAddr{Name: sa.Name, Net: "unix"}
	}
	if network == "unix" {
		return &net.UnixAddr{Net: "unix"}
	}
	return &net.TCPAddr{}
}

func zoneName(id uint32) string {
	if id == 0 {
		return ""
	}
	if ifi, err := net.InterfaceByIndex(int(id)); err == nil {
		return ifi.Name
	}
	return strconv.FormatUint(uint64(id), 10)
}
