package target

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/go-smtp-source/go-smtp-source/internal/rawio"
)

// Dialer connects to one resolved address with smtp-source's socket
// options. The zero value plus Addr behaves as smtp-source does
// without -T: SO_LINGER {on, 0}, so that closing a connection sends
// RST, and no connect timeout beyond the kernel's SYN retries.
//
// Dial does no retries: -C and the one-connect-at-a-time queue belong
// to the caller. TCP_NODELAY stays on (Go's default), which suits
// writing whole command batches at once.
type Dialer struct {
	// Addr is the address to connect to, from [Target.Resolve].
	Addr net.Addr

	// WindowSize, if positive, sets SO_SNDBUF and SO_RCVBUF before
	// connect (-T). Linux doubles the value and enforces a minimum.
	WindowSize int

	// GracefulClose leaves SO_LINGER alone, so that closing a
	// connection sends FIN rather than smtp-source's RST.
	GracefulClose bool

	// Timeout, if positive, bounds each connect. smtp-source has none.
	Timeout time.Duration

	// Blocking makes connections on blocking sockets that the Go
	// runtime's poller never sees (rawio.Blocking): the cheapest for a
	// process with one session, and a thread per session for more.
	// Without it, TCP connections are rawio.DialPolled's and UNIX-domain
	// ones package net's, both with raw reads and writes.
	Blocking bool
}

// errNoAddr is returned by Dial without an address to dial.
var errNoAddr = errors.New("no address to connect to")

// Dial opens one connection to d.Addr. A failed connect returns a
// *net.OpError shaped as package net's; [ErrnoText] renders it as
// smtp-source does.
func (d *Dialer) Dial(ctx context.Context) (net.Conn, error) {
	switch a := d.Addr.(type) {
	case *net.TCPAddr:
		// smtp-source's sane_connect(3) turns on SO_KEEPALIVE for
		// IPv4 only, with the kernel's timers.
		setup := d.setup(a.IP.To4() != nil)
		if d.Blocking {
			return blocking(rawio.DialBlocking(ctx, a, d.Timeout, setup))
		}
		c, err := rawio.DialPolled(ctx, a, d.Timeout, setup)
		if err != nil {
			return nil, err
		}
		return c, nil
	case *net.UnixAddr:
		if d.Blocking {
			ua := &net.UnixAddr{Name: sockName(a.Name), Net: "unix"}
			return blocking(rawio.DialBlocking(ctx, ua, d.Timeout,
				d.setup(false)))
		}
		nd := net.Dialer{Timeout: d.Timeout, Control: d.control}
		return raw(nd.DialContext(ctx, "unix", sockName(a.Name)))
	}
	return nil, errNoAddr
}

// raw gives a new connection reads and writes without the runtime's
// system-call bookkeeping (see package rawio).
func raw(c net.Conn, err error) (net.Conn, error) {
	if err != nil {
		return nil, err
	}
	return rawio.Wrap(c), nil
}

// blocking returns DialBlocking's connection as a net.Conn, and a nil
// one on failure.
func blocking(c *rawio.Blocking, err error) (net.Conn, error) {
	if err != nil {
		return nil, err
	}
	return c, nil
}

// setup returns what sets the socket options before connect:
// setOptions, then SO_KEEPALIVE if keepAlive.
func (d *Dialer) setup(keepAlive bool) func(fd int) error {
	return func(fd int) error {
		if err := d.setOptions(fd); err != nil || !keepAlive {
			return err
		}
		err := unix.SetsockoptInt(fd, unix.SOL_SOCKET,
			unix.SO_KEEPALIVE, 1)
		return os.NewSyscallError("setsockopt SO_KEEPALIVE", err)
	}
}

// control sets the socket options before connect (setOptions).
func (d *Dialer) control(_, _ string, c syscall.RawConn) error {
	var err error
	cerr := c.Control(func(fd uintptr) {
		err = d.setOptions(int(fd))
	})
	return errors.Join(cerr, err)
}

// setOptions sets the socket options in smtp-source's order: SO_LINGER,
// then SO_SNDBUF and SO_RCVBUF.
func (d *Dialer) setOptions(fd int) error {
	if !d.GracefulClose {
		if err := setLinger(fd); err != nil {
			return err
		}
	}
	if d.WindowSize > 0 {
		return setWindowSize(fd, d.WindowSize)
	}
	return nil
}

// setLinger makes close(2) abort the connection with RST.
func setLinger(fd int) error {
	l := unix.Linger{Onoff: 1, Linger: 0}
	err := unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &l)
	if err != nil {
		return os.NewSyscallError("setsockopt SO_LINGER", err)
	}
	return nil
}

// setWindowSize sets both socket buffers to size bytes (-T).
func setWindowSize(fd, size int) error {
	opts := []struct {
		name string
		opt  int
	}{
		{"SO_SNDBUF", unix.SO_SNDBUF},
		{"SO_RCVBUF", unix.SO_RCVBUF},
	}
	for _, o := range opts {
		err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, o.opt, size)
		if err != nil {
			return os.NewSyscallError("setsockopt "+o.name, err)
		}
	}
	return nil
}

// sockName is the name to give package net for a UNIX-domain path so
// that it reaches the same socket as Postfix's sockaddr_un. Go reads a
// leading "@" as the abstract namespace, where Postfix means a file;
// and Postfix turns an empty path into the abstract name of 107 NULs.
func sockName(path string) string {
	switch {
	case path == "":
		return "@" + strings.Repeat("\x00", maxUnixPath-1)
	case path[0] == '@':
		// TODO: "./" costs two bytes, so a 106- or 107-byte path
		// starting with "@" is refused although Postfix takes it.
		return "./" + path
	}
	return path
}

// ErrnoText renders err the way C's strerror(3) renders the errno
// behind it, as smtp-source prints it after "connect: ": "Connection
// refused", "Connection timed out", "No such file or directory". A
// timeout or cancellation from Go reads as ETIMEDOUT or ECANCELED.
// Other errors keep their own text.
func ErrnoText(err error) string {
	var errno syscall.Errno
	switch {
	case err == nil:
		return ""
	case errors.As(err, &errno):
		return strerror(errno)
	case errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, os.ErrDeadlineExceeded):
		return strerror(syscall.ETIMEDOUT)
	case errors.Is(err, context.Canceled):
		return strerror(syscall.ECANCELED)
	}
	return err.Error()
}

// strerror returns glibc's text for errno. Go's table holds glibc's
// strings with the first letter lowered, so raising it restores them.
func strerror(errno syscall.Errno) string {
	s := errno.Error()
	if s == "errno "+strconv.Itoa(int(errno)) {
		return fmt.Sprintf("Unknown error %d", int(errno))
	}
	if s != "" && 'a' <= s[0] && s[0] <= 'z' {
		s = string(s[0]-'a'+'A') + s[1:]
	}
	return s
}
