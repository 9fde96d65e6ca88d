package target

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/go-smtp-source/go-smtp-source/internal/rawio"
)

// blockingDial is the Blocking of the Dialers that dialer makes: the
// dial tests run once with each (bothModes), one after the other.
var blockingDial bool

// bothModes runs test with the poller's sockets and with blocking ones.
func bothModes(t *testing.T, test func(t *testing.T)) {
	defer func() { blockingDial = false }()
	for _, b := range []bool{false, true} {
		name := "poller"
		if b {
			name = "blocking"
		}
		blockingDial = b
		t.Run(name, test)
	}
}

// dialer resolves endpoint and returns a Dialer for it.
func dialer(t *testing.T, endpoint string) *Dialer {
	t.Helper()
	tg, err := Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := tg.Resolve(context.Background(), AnyFamily)
	if err != nil {
		t.Fatal(err)
	}
	return &Dialer{Addr: addr, Blocking: blockingDial}
}

// sockopt reads an integer socket option of c.
func sockopt(t *testing.T, c syscall.Conn, level, opt int) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		v, gerr = unix.GetsockoptInt(int(fd), level, opt)
	}); err != nil {
		t.Fatal(err)
	}
	if gerr != nil {
		t.Fatal(gerr)
	}
	return v
}

// linger reads SO_LINGER of c.
func linger(t *testing.T, c syscall.Conn) unix.Linger {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var l *unix.Linger
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		l, gerr = unix.GetsockoptLinger(int(fd), unix.SOL_SOCKET,
			unix.SO_LINGER)
	}); err != nil || gerr != nil {
		t.Fatal(err, gerr)
	}
	return *l
}

// listenLoopback listens on a loopback address of network, skipping
// the test if the network is unavailable.
func listenLoopback(t *testing.T, network, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Skipf("no %s loopback: %v", network, err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// accept returns the next connection on ln, within a few seconds.
func accept(t *testing.T, ln net.Listener) net.Conn {
	t.Helper()
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		ch <- result{c, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatal(r.err)
		}
		t.Cleanup(func() { r.c.Close() })
		return r.c
	case <-time.After(5 * time.Second):
		t.Fatal("accept timed out")
	}
	return nil
}

// readErr returns the error of a read on c after the peer closed.
func readErr(t *testing.T, c net.Conn) error {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 1))
	return err
}

func TestDialTCP(t *testing.T) { bothModes(t, testDialTCP) }

func testDialTCP(t *testing.T) {
	cases := []struct{ name, network, listen, endpoint string }{
		{"IPv4", "tcp4", "127.0.0.1:0", "127.0.0.1:%d"},
		{"IPv6", "tcp6", "[::1]:0", "[::1]:%d"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ln := listenLoopback(t, c.network, c.listen)
			port := ln.Addr().(*net.TCPAddr).Port
			d := dialer(t, fmt.Sprintf(c.endpoint, port))
			d.WindowSize = 32768

			conn, err := d.Dial(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			peer := accept(t, ln)
			if _, ok := conn.(*rawio.Blocking); ok != d.Blocking {
				t.Errorf("Blocking %v made a %T", d.Blocking, conn)
			}

			// Linux doubles the buffer sizes it is given.
			sc := conn.(syscall.Conn)
			for _, opt := range []int{unix.SO_SNDBUF, unix.SO_RCVBUF} {
				got := sockopt(t, sc, unix.SOL_SOCKET, opt)
				if got != 2*d.WindowSize {
					t.Errorf("buffer option %d = %d, want %d", opt,
						got, 2*d.WindowSize)
				}
			}
			if l := linger(t, sc); l.Onoff == 0 || l.Linger != 0 {
				t.Errorf("SO_LINGER = %+v, want {1 0}", l)
			}

			// Linger 0 makes close send RST.
			conn.Close()
			if err := readErr(t, peer); !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("peer read after close: %v, want ECONNRESET", err)
			}
		})
	}
}

func TestDialGracefulClose(t *testing.T) { bothModes(t, testDialGracefulClose) }

func testDialGracefulClose(t *testing.T) {
	ln := listenLoopback(t, "tcp4", "127.0.0.1:0")
	d := dialer(t, ln.Addr().String())
	d.GracefulClose = true

	conn, err := d.Dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	peer := accept(t, ln)

	// Without -T the kernel's default buffers stay.
	if got := sockopt(t, conn.(syscall.Conn), unix.SOL_SOCKET,
		unix.SO_RCVBUF); got == 0 {
		t.Errorf("SO_RCVBUF = 0")
	}
	if l := linger(t, conn.(syscall.Conn)); l.Onoff != 0 {
		t.Errorf("SO_LINGER = %+v, want off", l)
	}
	conn.Close()
	if err := readErr(t, peer); err != io.EOF {
		t.Errorf("peer read after close: %v, want EOF", err)
	}
}

func TestDialKeepAlive(t *testing.T) { bothModes(t, testDialKeepAlive) }

func testDialKeepAlive(t *testing.T) {
	// smtp-source turns SO_KEEPALIVE on for IPv4 only.
	for _, c := range []struct {
		network, listen string
		want            int
	}{
		{"tcp4", "127.0.0.1:0", 1},
		{"tcp6", "[::1]:0", 0},
	} {
		ln := listenLoopback(t, c.network, c.listen)
		conn, err := dialer(t, ln.Addr().String()).Dial(
			context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got := sockopt(t, conn.(syscall.Conn), unix.SOL_SOCKET,
			unix.SO_KEEPALIVE)
		conn.Close()
		if got != c.want {
			t.Errorf("%s: SO_KEEPALIVE = %d, want %d", c.network, got,
				c.want)
		}
	}
}

func TestDialUnix(t *testing.T) { bothModes(t, testDialUnix) }

func testDialUnix(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	cases := []struct{ name, listen, endpoint string }{
		{"absolute", filepath.Join(dir, "smtpd"), ""},
		// A leading "@" names a file for Postfix, not Go's abstract
		// namespace.
		{"at-sign", "./@smtpd", "unix:@smtpd"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ln := listenLoopback(t, "unix", c.listen)
			if c.endpoint == "" {
				c.endpoint = "unix:" + c.listen
			}
			conn, err := dialer(t, c.endpoint).Dial(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			peer := accept(t, ln)
			if _, err := conn.Write([]byte("x")); err != nil {
				t.Fatal(err)
			}
			conn.Close()
			b := make([]byte, 1)
			if _, err := io.ReadFull(peer, b); err != nil || b[0] != 'x' {
				t.Errorf("peer read %q, %v", b, err)
			}
		})
	}
}

func TestDialErrors(t *testing.T) { bothModes(t, testDialErrors) }

func testDialErrors(t *testing.T) {
	closed := closedPort(t)
	cases := []struct{ endpoint, want string }{
		{fmt.Sprintf("127.0.0.1:%d", closed), "Connection refused"},
		{"unix:" + filepath.Join(t.TempDir(), "none"),
			"No such file or directory"},
		// Postfix connects to the abstract name of 107 NULs.
		{"unix:", "Connection refused"},
	}
	for _, c := range cases {
		conn, err := dialer(t, c.endpoint).Dial(context.Background())
		if err == nil {
			conn.Close()
			t.Errorf("Dial(%q) succeeded", c.endpoint)
			continue
		}
		if got := ErrnoText(err); got != c.want {
			t.Errorf("Dial(%q): %q, want %q", c.endpoint, got, c.want)
		}
	}
}

func TestDialExpiredContext(t *testing.T) { bothModes(t, testDialExpiredContext) }

func testDialExpiredContext(t *testing.T) {
	ln := listenLoopback(t, "tcp4", "127.0.0.1:0")
	ctx, cancel := context.WithDeadline(context.Background(),
		time.Now().Add(-time.Second))
	defer cancel()

	conn, err := dialer(t, ln.Addr().String()).Dial(ctx)
	if err == nil {
		conn.Close()
		t.Fatal("Dial with an expired context succeeded")
	}
	if got, want := ErrnoText(err), "Connection timed out"; got != want {
		t.Errorf("ErrnoText(%v) = %q, want %q", err, got, want)
	}
}

// TestDialTimeout fills a listener's backlog of 1 so that the kernel
// drops further SYNs, and checks that Timeout ends the next connect.
// It also shows that Listen honours its backlog argument: Go's own
// default would queue thousands.
func TestDialTimeout(t *testing.T) { bothModes(t, testDialTimeout) }

func testDialTimeout(t *testing.T) {
	tg, err := ParseListen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listen(context.Background(), tg, AnyFamily, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	d := dialer(t, ln.Addr().String())
	d.Timeout = 300 * time.Millisecond

	for i := 0; i < 4; i++ {
		start := time.Now()
		conn, err := d.Dial(context.Background())
		if err == nil {
			defer conn.Close()
			continue
		}
		if got, want := ErrnoText(err), "Connection timed out"; got != want {
			t.Fatalf("connect %d: %q (%v), want %q", i, got, err, want)
		}
		if el := time.Since(start); el > 3*time.Second {
			t.Errorf("connect %d took %v with a 300ms timeout", i, el)
		}
		if i < 2 {
			t.Errorf("connect %d timed out, want 2 queued first", i)
		}
		return
	}
	t.Fatal("every connect succeeded: the backlog is not 1")
}

func TestDialNoAddr(t *testing.T) {
	var d Dialer
	if conn, err := d.Dial(context.Background()); err == nil {
		conn.Close()
		t.Error("Dial without Addr succeeded")
	}
}

// closedPort returns a loopback TCP port that was free a moment ago.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

func TestErrnoText(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp",
		Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	cases := []struct {
		err  error
		want string
	}{
		{refused, "Connection refused"},
		{fmt.Errorf("wrapped: %w", refused), "Connection refused"},
		{syscall.ETIMEDOUT, "Connection timed out"},
		{syscall.ENETUNREACH, "Network is unreachable"},
		{syscall.EHOSTUNREACH, "No route to host"},
		{syscall.ENOENT, "No such file or directory"},
		{syscall.EADDRINUSE, "Address already in use"},
		{syscall.EADDRNOTAVAIL, "Cannot assign requested address"},
		{syscall.ECONNRESET, "Connection reset by peer"},
		{syscall.EAGAIN, "Resource temporarily unavailable"},
		{syscall.Errno(4000), "Unknown error 4000"},
		{context.DeadlineExceeded, "Connection timed out"},
		{os.ErrDeadlineExceeded, "Connection timed out"},
		{context.Canceled, "Operation canceled"},
		{errors.New("something else"), "something else"},
		{nil, ""},
	}
	for _, c := range cases {
		if got := ErrnoText(c.err); got != c.want {
			t.Errorf("ErrnoText(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
