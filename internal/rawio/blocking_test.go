package rawio

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// fullListener returns the address of a listener that never accepts
// and whose queue is full, so that a further connect waits for SYN
// retries: the kernel drops its SYNs.
func fullListener(t *testing.T) *net.TCPAddr {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	sa := &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
	if err := syscall.Bind(fd, sa); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	got, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1),
		Port: got.(*syscall.SockaddrInet4).Port}

	// Fill the queue: connects that complete until one does not.
	for range 8 {
		c, err := net.DialTimeout("tcp", addr.String(),
			200*time.Millisecond)
		if err != nil {
			return addr
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Fatal("the listen queue never filled")
	return nil
}

// dialFunc is DialBlocking or DialPolled.
type dialFunc func(ctx context.Context, addr net.Addr, timeout time.Duration,
	setup func(int) error) (net.Conn, error)

// dials are the two ways to connect, for the tests of their errors.
var dials = []struct {
	name string
	dial dialFunc
}{
	{"polled", func(ctx context.Context, addr net.Addr,
		timeout time.Duration, setup func(int) error) (net.Conn, error) {
		ta, ok := addr.(*net.TCPAddr)
		if !ok {
			return nil, errors.New("not TCP")
		}
		return DialPolled(ctx, ta, timeout, setup)
	}},
	{"blocking", func(ctx context.Context, addr net.Addr,
		timeout time.Duration, setup func(int) error) (net.Conn, error) {
		return DialBlocking(ctx, addr, timeout, setup)
	}},
}

func TestDialErrors(t *testing.T) {
	for _, d := range dials {
		t.Run(d.name, func(t *testing.T) { testDialErrors(t, d.dial) })
	}
	t.Run("blocking/no such socket", func(t *testing.T) {
		a := &net.UnixAddr{Name: t.TempDir() + "/none", Net: "unix"}
		_, err := DialBlocking(context.Background(), a, 0, nil)
		if !errors.Is(err, syscall.ENOENT) {
			t.Errorf("connect to a missing socket: %v", err)
		}
	})
}

func testDialErrors(t *testing.T, dial dialFunc) {
	t.Run("refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().(*net.TCPAddr)
		ln.Close()
		_, err = dial(context.Background(), addr, 0, nil)
		var op *net.OpError
		var se *os.SyscallError
		if !errors.Is(err, syscall.ECONNREFUSED) ||
			!errors.As(err, &op) || op.Op != "dial" ||
			!errors.As(err, &se) || se.Syscall != "connect" {
			t.Errorf("connect to a closed port: %v", err)
		}
		want := "dial tcp " + addr.String() +
			": connect: connection refused"
		if err == nil || err.Error() != want {
			t.Errorf("error %q, want %q", err, want)
		}
	})
	t.Run("setup fails", func(t *testing.T) {
		addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}
		bad := errors.New("no such option")
		_, err := dial(context.Background(), addr, 0,
			func(int) error { return bad })
		if !errors.Is(err, bad) {
			t.Errorf("setup's error lost: %v", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		addr := fullListener(t)
		start := time.Now()
		_, err := dial(context.Background(), addr,
			100*time.Millisecond, nil)
		took := time.Since(start)
		var ne net.Error
		if !errors.Is(err, os.ErrDeadlineExceeded) ||
			!errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("connect past its timeout: %v", err)
		}
		if took < 90*time.Millisecond || took > 2*time.Second {
			t.Errorf("a 100ms connect timeout took %v", took)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		addr := fullListener(t)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		start := time.Now()
		_, err := dial(ctx, addr, 0, nil)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("connect cut short: %v", err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("a cancelled connect took %v", took)
		}
	})
	t.Run("ended context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}
		_, err := dial(ctx, addr, 0, nil)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("connect with an ended context: %v", err)
		}
	})
}

// TestBlockingDeadlines: a write that cannot finish ends at its
// deadline with what it wrote; a shorter read deadline than the one in
// force on the socket is honoured.
func TestBlockingDeadlines(t *testing.T) {
	c, srv := pair(t, "tcp", kinds[2].dial)

	t.Run("write", func(t *testing.T) {
		// The server reads nothing: the socket buffers fill.
		data := pattern(64 << 20)
		c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		n, err := c.Write(data)
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("write past its deadline: %d, %v", n, err)
		}
		if n <= 0 || n >= 64<<20 {
			t.Errorf("wrote %d bytes, want part of the buffer", n)
		}
		c.SetWriteDeadline(time.Time{})
	})

	t.Run("read", func(t *testing.T) {
		// A read under a long deadline leaves its timeout in force.
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		go srv.Write([]byte("x"))
		if _, err := c.Read(make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		start := time.Now()
		_, err := c.Read(make([]byte, 1))
		took := time.Since(start)
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("read past its deadline: %v", err)
		}
		if took > 2*time.Second {
			t.Errorf("a 50ms deadline took %v", took)
		}
	})
}

// TestBlockingCloseDuringRead: Close from another goroutine ends a read
// in progress, and the descriptor is closed once the read is out.
func TestBlockingCloseDuringRead(t *testing.T) {
	c, _ := pair(t, "tcp", kinds[2].dial)
	b := c.(*Blocking)
	errc := make(chan error, 1)
	go func() {
		_, err := b.Read(make([]byte, 1))
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("read ended by Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the read")
	}
	b.mu.Lock()
	fd := b.fd
	b.mu.Unlock()
	if fd != -1 {
		t.Errorf("descriptor %d still open after the last call", fd)
	}
	if err := b.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
}
