package rawio

import (
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// Listener accepts TCP connections with raw accept4(2) calls, waiting
// for them in the runtime's poller, and returns them as Conns whose
// socket the poller watches, as DialPolled's.
//
// Package net's Accept makes accept4(2), including the one that finds
// the queue empty, and the setsockopt(2) for TCP_NODELAY through the
// runtime's system-call bookkeeping. When every processor has been idle
// the runtime's monitor thread sleeps soundly, and the first such call
// wakes it to poll every 20 us for a while; with a connection per
// message it woke thousands of times per 10,000 messages and preempted
// the client on its core. Here only close(2), which the poller must
// make, goes through the bookkeeping.
type Listener struct {
	ln   *net.TCPListener // owns the socket; Close closes it
	f    *os.File         // a duplicate of the socket, in the poller
	rc   syscall.RawConn
	addr net.Addr

	closed atomic.Bool
}

// Listen returns a Listener on ln, which it takes over: closing the
// Listener closes ln. It fails when ln's socket cannot be duplicated.
func Listen(ln *net.TCPListener) (*Listener, error) {
	// The duplicate shares the socket (and its O_NONBLOCK) with ln;
	// as an *os.File it can wait for readiness, which a TCPListener's
	// raw access refuses (its Read returns EINVAL).
	f, err := ln.File()
	if err != nil {
		return nil, err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Listener{ln: ln, f: f, rc: rc, addr: ln.Addr()}, nil
}

// Accept waits for the next connection and returns it as a *Conn.
func (l *Listener) Accept() (net.Conn, error) {
	var fd int
	var rsa syscall.RawSockaddrAny
	var errno syscall.Errno
	err := l.rc.Read(func(s uintptr) bool {
		for {
			n := uint32(syscall.SizeofSockaddrAny)
			r, _, e := syscall.RawSyscall6(syscall.SYS_ACCEPT4, s,
				uintptr(unsafe.Pointer(&rsa)),
				uintptr(unsafe.Pointer(&n)),
				syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0, 0)
			switch e {
			case syscall.EINTR, syscall.ECONNABORTED:
				continue // gone before it was accepted
			case syscall.EAGAIN:
				return false
			}
			fd, errno = int(r), e
			return true
		}
	})
	switch {
	case err != nil && l.closed.Load():
		// The File says "use of closed file".
		return nil, l.opError(net.ErrClosed)
	case err != nil:
		return nil, l.opError(err)
	case errno != 0:
		return nil, l.opError(os.NewSyscallError("accept4", errno))
	}
	return l.conn(fd, &rsa)
}

// conn makes an accepted socket a *Conn, with TCP_NODELAY as package
// net sets it.
func (l *Listener) conn(fd int, rsa *syscall.RawSockaddrAny) (net.Conn,
	error) {

	one := int32(1)
	_, _, e := syscall.RawSyscall6(syscall.SYS_SETSOCKOPT, uintptr(fd),
		syscall.IPPROTO_TCP, syscall.TCP_NODELAY,
		uintptr(unsafe.Pointer(&one)), 4, 0)
	if e != 0 {
		syscall.Close(fd)
		return nil, l.opError(os.NewSyscallError("setsockopt", e))
	}
	s := &socket{f: os.NewFile(uintptr(fd), "tcp"),
		laddr: localAddr(fd, "tcp"), raddr: peerAddr(rsa)}
	rc, err := s.f.SyscallConn()
	if err != nil {
		s.f.Close()
		return nil, l.opError(err)
	}
	c := newConn(s, rc)
	c.closedErr = s.closedErr
	return c, nil
}

// peerAddr decodes accept4(2)'s address of the peer.
func peerAddr(rsa *syscall.RawSockaddrAny) net.Addr {
	switch rsa.Addr.Family {
	case syscall.AF_INET:
		p := (*syscall.RawSockaddrInet4)(unsafe.Pointer(rsa))
		return &net.TCPAddr{IP: net.IP(p.Addr[:]).To16(),
			Port: netPort(&p.Port)}
	case syscall.AF_INET6:
		p := (*syscall.RawSockaddrInet6)(unsafe.Pointer(rsa))
		return &net.TCPAddr{IP: append(net.IP(nil), p.Addr[:]...),
			Port: netPort(&p.Port), Zone: zoneName(p.Scope_id)}
	}
	return &net.TCPAddr{}
}

// netPort reads a port in network byte order.
func netPort(p *uint16) int {
	b := (*[2]byte)(unsafe.Pointer(p))
	return int(b[0])<<8 | int(b[1])
}

// Close closes the listener; a waiting Accept returns net.ErrClosed.
func (l *Listener) Close() error {
	if l.closed.Swap(true) {
		return l.opError(net.ErrClosed)
	}
	ferr := l.f.Close()
	if err := l.ln.Close(); err != nil {
		return err
	}
	return ferr
}

// Addr returns the listener's address.
func (l *Listener) Addr() net.Addr { return l.addr }

func (l *Listener) opError(err error) error {
	return &net.OpError{Op: "accept", Net: "tcp", Addr: l.addr, Err: err}
}
