// Package rawio is a TCP or UNIX-domain connection whose reads and
// writes skip the Go runtime's system-call bookkeeping (Conn, made by
// Wrap from package net's or by DialPolled), or, for a process with a
// single session, the runtime's network poller altogether (Blocking).
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

	iov  iovecs
	vn   int
	verr syscall.Errno
	vecF func(uintptr) bool

	// A write staged for the next Read (WriteOnRead): what is left to
	// send, and how much of the last one went out.
	staged  [][]byte
	more    bool // more than one writev(2) takes
	sending bool
	sent    int
	sendF   func(uintptr) bool

	// closedErr, if set, turns the error of a call that Close cut
	// short into net.ErrClosed, where the descriptor's own words differ.
	closedErr func(error) error
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
	return newConn(c, rc)
}

// newConn returns c, whose descriptor rc reaches, with raw reads and
// writes.
func newConn(c net.Conn, rc syscall.RawConn) *Conn {
	w := &Conn{Conn: c, rc: rc}
	w.readF, w.vecF, w.sendF = w.read1, w.writev1, w.sendRead1
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
	if c.staged != nil {
		if err := c.send(b); err != nil {
			return 0, err
		}
	} else {
		c.rbuf, c.rn, c.rerr = b, 0, 0
		if err := c.rc.Read(c.readF); err != nil {
			c.rbuf = nil
			return 0, c.opError("read", err)
		}
	}
	n, errno := c.rn, c.rerr
	c.rbuf = nil
	switch {
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

// WriteOnRead stages bufs to be written by the next Read, which sends
// them and then waits in the poller for the answer before it reads: the
// answer to a command cannot be there before the command is sent, so
// the read(2) that would find nothing is not made. Read returns an
// error with Op "write" when bufs could not be sent; Sent then says how
// much of them went out. The caller must keep bufs intact until then,
// and call Read next.
//
// It is for a peer that sends nothing unasked, as an SMTP server: bytes
// that came in since the last read may not end the wait (the poller's
// word for them can be spent already), so Read waits until the peer
// sends more, which a server does when it answers. A server, whose
// clients may pipeline commands, must not use it.
func (c *Conn) WriteOnRead(bufs [][]byte) {
	c.staged, c.sent = bufs, 0
}

// Sent returns how many bytes of the last staged write went out.
func (c *Conn) Sent() int { return c.sent }

// send writes the staged buffers and reads into b, leaving the read's
// outcome in c.rn and c.rerr; it returns the error of a write or wait
// that failed.
func (c *Conn) send(b []byte) error {
	bufs := c.staged
	c.staged = nil
	group := bufs[:min(len(bufs), maxIovecs)]
	c.iov.set(group)
	c.more = len(group) < len(bufs)
	c.vn, c.verr, c.sending = 0, 0, !c.iov.done() || c.more
	c.rbuf, c.rn, c.rerr = b, 0, 0
	err := c.rc.Read(c.sendF)
	unsent := c.sending
	c.sending = false
	if err == nil && c.verr == 0 && (!c.iov.done() || c.more) {
		// The socket's buffer was full, or there is more than one
		// writev(2) can take: the rest goes out as a plain write, and
		// the read waits its turn after it.
		err = c.finishSend(bufs[len(group):])
		unsent = err != nil
		if err == nil {
			err = c.rc.Read(c.readF)
		}
	}
	c.sent = c.vn
	c.iov.clear()
	switch {
	case c.verr != 0:
		err = os.NewSyscallError("writev", c.verr)
	case err == nil:
		return nil
	case !unsent:
		c.rbuf = nil
		return c.opError("read", err)
	}
	c.rbuf = nil
	return c.opError("write", err)
}

// finishSend writes what send's first writev(2) left of the group in
// c.iov, then rest, adding to c.vn; a failed writev(2) leaves its errno
// in c.verr.
func (c *Conn) finishSend(rest [][]byte) error {
	if !c.iov.done() {
		if err := c.rc.Write(c.vecF); err != nil || c.verr != 0 {
			return err
		}
	}
	for len(rest) > 0 {
		group := rest[:min(len(rest), maxIovecs)]
		rest = rest[len(group):]
		c.iov.set(group)
		if err := c.rc.Write(c.vecF); err != nil || c.verr != 0 {
			return err
		}
	}
	return nil
}

// sendRead1 is send's step: the first call writes, and waits for the
// answer when all went out; later calls read.
func (c *Conn) sendRead1(fd uintptr) bool {
	if c.sending {
		c.sending = false
		if !c.writev1(fd) || c.verr != 0 || c.more {
			return true // not all sent: send finishes it
		}
		return false // sent: wait for the answer
	}
	return c.read1(fd)
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
	return inGroups(bufs, c.writeGroup)
}

// inGroups writes bufs with write, at most maxIovecs buffers at a time,
// and returns the bytes written.
func inGroups(bufs [][]byte,
	write func(op string, group [][]byte) (int, error)) (int64, error) {

	var total int64
	for len(bufs) > 0 {
		group := bufs[:min(len(bufs), maxIovecs)]
		bufs = bufs[len(group):]
		n, err := write("writev", group)
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
	c.iov.set(bufs)
	c.vn, c.verr = 0, 0
	var err error
	if !c.iov.done() {
		err = c.rc.Write(c.vecF)
	}
	n, errno := c.vn, c.verr
	c.iov.clear()
	switch {
	case err != nil:
		return n, c.opError(op, err)
	case errno != 0:
		return n, c.opError(op, os.NewSyscallError(op, errno))
	}
	return n, nil
}

// writev1 writes what is left of c.iov, advancing past what each call
// took.
func (c *Conn) writev1(fd uintptr) bool {
	for !c.iov.done() {
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITEV, fd,
			uintptr(unsafe.Pointer(c.iov.first())), c.iov.count())
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
		c.iov.consume(int(n))
	}
	return true
}

// iovecs is a group of buffers on their way out through writev(2):
// what is left of each, from the first not yet written whole.
type iovecs struct {
	vec  []syscall.Iovec
	lens []int // the bytes left in each of vec
	i    int   // the first of vec not written whole
}

// set makes bufs, less the empty ones, the group to write.
func (v *iovecs) set(bufs [][]byte) {
	v.vec, v.lens, v.i = v.vec[:0], v.lens[:0], 0
	for _, b := range bufs {
		if len(b) > 0 {
			iv := syscall.Iovec{Base: &b[0]}
			iv.SetLen(len(b))
			v.vec = append(v.vec, iv)
			v.lens = append(v.lens, len(b))
		}
	}
}

// done says whether the whole group has been written.
func (v *iovecs) done() bool { return v.i >= len(v.vec) }

// first and count are writev(2)'s arguments for what is left.
func (v *iovecs) first() *syscall.Iovec { return &v.vec[v.i] }

func (v *iovecs) count() uintptr { return uintptr(len(v.vec) - v.i) }

// consume moves past n written bytes.
func (v *iovecs) consume(n int) {
	for n > 0 && v.i < len(v.vec) {
		l := v.lens[v.i]
		if n < l {
			iv := &v.vec[v.i]
			iv.Base = (*byte)(unsafe.Add(unsafe.Pointer(iv.Base), n))
			iv.SetLen(l - n)
			v.lens[v.i] = l - n
			return
		}
		n -= l
		v.i++
	}
}

// clear drops the group's pointers into the caller's buffers.
func (v *iovecs) clear() { clear(v.vec) }

// opError wraps err as package net does, so that callers that look for
// a *net.OpError, a timeout or an errno find them.
func (c *Conn) opError(op string, err error) error {
	if c.closedErr != nil {
		err = c.closedErr(err)
	}
	return &net.OpError{Op: op, Net: c.LocalAddr().Network(),
		Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
