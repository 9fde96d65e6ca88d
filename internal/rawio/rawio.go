// Package rawio is a TCP or UNIX-domain connection whose reads and
// writes skip the Go runtime's system-call bookkeeping.
//
// A load generator's session spends its life in short read(2) and
// write(2) calls on a non-blocking socket, each followed by a wait in
// the network poller. Package net wraps every such call in the
// runtime's entersyscall and exitsyscall, so that a call that blocks
// does not hold a P. Non-blocking socket calls never block, and the
// bookkeeping costs more than the call: at one message in flight, the
// runtime's monitor thread wakes to watch these calls about twice per
// message, which shows as nanosleep(2) calls and context switches that
// Postfix's smtp-source does not make. Conn makes the same calls raw
// (writes as writev(2), so that one path serves one buffer and many),
// and waits for readiness through the poller as package net does, so
// deadlines and Close keep working.
package rawio

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// Conn is a stream connection with raw reads and writes. It embeds the
// connection it was made from for everything else (addresses,
// deadlines, Close). Reads may run alongside writes, but not alongside
// other reads, nor writes alongside writes.
type Conn struct {
	net.Conn
	rc syscall.RawConn

	// The state of the read and write in progress: the callbacks are
	// method values made once, so that a call allocates nothing.
	rbuf  []byte
	rn    int
	rerr  syscall.Errno
	readF func(uintptr) bool

	one [1][]byte // Write's buffer, as a group of one

	vec   []syscall.Iovec
	vlens []int // the bytes left in each of vec
	vi    int   // the first of vec not written whole
	vn    int
	verr  syscall.Errno
	vecF  func(uintptr) bool
}

// rawConner is what *net.TCPConn and *net.UnixConn have.
type rawConner interface {
	SyscallConn() (syscall.RawConn, error)
}

// Wrap returns c with raw reads and writes when c is a *net.TCPConn or
// *net.UnixConn, and c itself otherwise.
func Wrap(c net.Conn) net.Conn {
	switch c.(type) {
	case *net.TCPConn, *net.UnixConn:
	default:
		return c
	}
	rc, err := c.(rawConner).SyscallConn()
	if err != nil {
		return c
	}
	w := &Conn{Conn: c, rc: rc}
	w.readF, w.vecF = w.read1, w.writev1
	return w
}

// SyscallConn returns the connection's raw descriptor access, as
// *net.TCPConn's does.
func (c *Conn) SyscallConn() (syscall.RawConn, error) { return c.rc, nil }

// Read reads into b as net.Conn's Read does.
func (c *Conn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	c.rbuf, c.rn, c.rerr = b, 0, 0
	err := c.rc.Read(c.readF)
	n, errno := c.rn, c.rerr
	c.rbuf = nil
	switch {
	case err != nil:
		return 0, c.opError("read", err)
	case errno != 0:
		return 0, c.opError("read", os.NewSyscallError("read", errno))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

func (c *Conn) read1(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd,
			uintptr(unsafe.Pointer(&c.rbuf[0])), uintptr(len(c.rbuf)))
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false // wait until readable
		case 0:
			c.rn = int(n)
		default:
			c.rerr = e
		}
		return true
	}
}

// Write writes all of b as net.Conn's Write does.
func (c *Conn) Write(b []byte) (int, error) {
	c.one[0] = b
	n, err := c.writeGroup("write", c.one[:])
	c.one[0] = nil
	return n, err
}

// maxIovecs bounds one writev(2) call, below Linux's IOV_MAX of 1024.
const maxIovecs = 1024

// WriteBuffers writes all of bufs with writev(2), as net.Buffers'
// WriteTo does on a *net.TCPConn, and returns the bytes written.
func (c *Conn) WriteBuffers(bufs [][]byte) (int64, error) {
	var total int64
	for len(bufs) > 0 {
		group := bufs[:min(len(bufs), maxIovecs)]
		bufs = bufs[len(group):]
		n, err := c.writeGroup("writev", group)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// writeGroup writes up to maxIovecs buffers with writev(2); errors name
// op, as package net names the call its method made.
func (c *Conn) writeGroup(op string, bufs [][]byte) (int, error) {
	c.vec, c.vlens = c.vec[:0], c.vlens[:0]
	for _, b := range bufs {
		if len(b) > 0 {
			v := syscall.Iovec{Base: &b[0]}
			v.SetLen(len(b))
			c.vec = append(c.vec, v)
			c.vlens = append(c.vlens, len(b))
		}
	}
	c.vi, c.vn, c.verr = 0, 0, 0
	var err error
	if len(c.vec) > 0 {
		err = c.rc.Write(c.vecF)
	}
	n, errno := c.vn, c.verr
	clear(c.vec) // drop the pointers into bufs
	switch {
	case err != nil:
		return n, c.opError(op, err)
	case errno != 0:
		return n, c.opError(op, os.NewSyscallError(op, errno))
	}
	return n, nil
}

// writev1 writes c.vec from c.vi on, advancing past what each call
// took.
func (c *Conn) writev1(fd uintptr) bool {
	for c.vi < len(c.vec) {
		v := c.vec[c.vi:]
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITEV, fd,
			uintptr(unsafe.Pointer(&v[0])), uintptr(len(v)))
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false // wait until writable
		case 0:
		default:
			c.verr = e
			return true
		}
		c.vn += int(n)
		c.consume(int(n))
	}
	return true
}

// consume moves past n written bytes of c.vec.
func (c *Conn) consume(n int) {
	for n > 0 && c.vi < len(c.vec) {
		l := c.vlens[c.vi]
		if n < l {
			v := &c.vec[c.vi]
			v.Base = (*byte)(unsafe.Add(unsafe.Pointer(v.Base), n))
			v.SetLen(l - n)
			c.vlens[c.vi] = l - n
			return
		}
		n -= l
		c.vi++
	}
}

// opError wraps err as package net does, so that callers that look for
// a *net.OpError, a timeout or an errno find them.
func (c *Conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: c.LocalAddr().Network(),
		Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
