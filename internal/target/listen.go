package target

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// errListenSink rejects "sink:" as a listen endpoint.
var errListenSink = errors.New("cannot listen on the built-in sink")

// Listen opens a listener on t, a result of [ParseListen], the way
// smtp-sink does, and returns errors in smtp-sink's words
// ("bind 127.0.0.1 port 25: Address already in use").
//
// For TCP it resolves t once (restricted to f, first address only),
// sets SO_REUSEADDR, SO_REUSEPORT and, on IPv6, IPV6_V6ONLY, and if
// windowSize is positive sets SO_SNDBUF and SO_RCVBUF (-T), which
// accepted connections inherit. For Unix it first removes whatever is
// at the path, then binds and makes the socket mode 0666; f and
// windowSize do not apply, as in smtp-sink. A positive backlog is
// passed to listen(2); otherwise Go's default (somaxconn) stays.
//
// Unlike smtp-sink, closing a Unix listener removes its socket file.
func Listen(ctx context.Context, t Target, f Family,
	backlog, windowSize int) (net.Listener, error) {

	var ln net.Listener
	var err error
	switch t.Kind {
	case TCP:
		ln, err = listenTCP(ctx, t, f, windowSize)
	case Unix:
		ln, err = listenUnix(ctx, t.Path)
	case Sink:
		return nil, &endpointError{t.Raw, errListenSink}
	default:
		return nil, &endpointError{t.Raw, errUnknownKind}
	}
	if err != nil {
		return nil, err
	}

	if err := setBacklog(ln, backlog); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// listenTCP binds and listens on the first address of t.
func listenTCP(ctx context.Context, t Target, f Family,
	windowSize int) (net.Listener, error) {

	addr, err := t.Resolve(ctx, f)
	if err != nil {
		return nil, err
	}
	ta := addr.(*net.TCPAddr)

	// The network picks the socket's family, so that tcp6 gets
	// IPV6_V6ONLY as under Postfix. Go sets SO_REUSEADDR itself.
	network := "tcp6"
	if ta.IP.To4() != nil {
		network = "tcp4"
	}
	lc := net.ListenConfig{
		// Accepted connections keep the kernel's keep-alive
		// default (off), as under smtp-sink.
		KeepAlive: -1,
		Control: func(_, _ string, c syscall.RawConn) error {
			return controlListen(c, windowSize)
		},
	}
	// Go listens with Multipath TCP where the kernel has it; smtp-sink
	// listens with TCP. An MPTCP listener takes plain TCP clients too,
	// but every handshake and accept then goes through MPTCP's code.
	lc.SetMultipathTCP(false)
	ln, err := lc.Listen(ctx, network, ta.String())
	if err != nil {
		return nil, listenError(err,
			fmt.Sprintf("bind %s port %d", ta.IP, ta.Port))
	}
	return ln, nil
}

// controlListen sets SO_REUSEPORT, as Postfix 3.7's inet_listen(3)
// does, and the -T window size.
func controlListen(c syscall.RawConn, windowSize int) error {
	var err error
	cerr := c.Control(func(fd uintptr) {
		err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET,
			unix.SO_REUSEPORT, 1)
		if err != nil {
			err = os.NewSyscallError("setsockopt SO_REUSEPORT", err)
			return
		}
		if windowSize > 0 {
			err = setWindowSize(int(fd), windowSize)
		}
	})
	return errors.Join(cerr, err)
}

// listenUnix replaces whatever is at path with a listening socket
// that anyone may connect to.
func listenUnix(ctx context.Context, path string) (net.Listener, error) {
	// unlink(2), not os.Remove: Postfix does not remove directories.
	err := unix.Unlink(path)
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return nil, fmt.Errorf("remove %s: %s", path, ErrnoText(err))
	}

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "unix", sockName(path))
	if err != nil {
		return nil, listenError(err, "bind: "+path)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		ln.Close()
		return nil, fmt.Errorf("chmod socket %s: %s", path, ErrnoText(err))
	}
	return ln, nil
}

// setBacklog calls listen(2) again with the caller's backlog, which
// Linux takes as a change of backlog on a listening socket. Package
// net offers no other way to choose it.
func setBacklog(ln net.Listener, backlog int) error {
	sc, ok := ln.(syscall.Conn)
	if backlog <= 0 || !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}

	var lerr error
	err = rc.Control(func(fd uintptr) {
		lerr = unix.Listen(int(fd), backlog)
	})
	if err = errors.Join(err, lerr); err != nil {
		return fmt.Errorf("listen: %s", ErrnoText(err))
	}
	return nil
}

// listenError words a failure from package net's Listen as smtp-sink
// would, naming the failed step: bindText for bind(2), else the
// system call (socket, setsockopt ..., listen).
func listenError(err error, bindText string) error {
	var se *os.SyscallError
	if !errors.As(err, &se) {
		return err
	}
	step := se.Syscall
	if step == "bind" {
		step = bindText
	}
	return &listenFailure{step, err}
}

// listenFailure reads "STEP: ERRNO TEXT" and wraps the error from net.
type listenFailure struct {
	step string
	err  error
}

func (e *listenFailure) Error() string {
	return e.step + ": " + ErrnoText(e.err)
}

func (e *listenFailure) Unwrap() error { return e.err }
