package rawio

import (
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// listen returns a Listener on a loopback port of network "tcp4" or
// "tcp6".
func listen(t *testing.T, network, addr string) *Listener {
	t.Helper()
	tl, err := net.Listen(network, addr)
	if err != nil {
		t.Skip(err)
	}
	l, err := Listen(tl.(*net.TCPListener))
	if err != nil {
		tl.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// TestListener accepts connections over IPv4 and IPv6 and checks their
// addresses, TCP_NODELAY and a round trip.
func TestListener(t *testing.T) {
	for _, tc := range []struct{ network, addr string }{
		{"tcp4", "127.0.0.1:0"}, {"tcp6", "[::1]:0"},
	} {
		t.Run(tc.network, func(t *testing.T) {
			l := listen(t, tc.network, tc.addr)
			c, err := net.Dial(tc.network, l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			sc, err := l.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer sc.Close()
			if _, ok := sc.(*Conn); !ok {
				t.Fatalf("Accept returned a %T", sc)
			}
			if got, want := sc.RemoteAddr().String(),
				c.LocalAddr().String(); got != want {
				t.Errorf("RemoteAddr %s, want %s", got, want)
			}
			if got, want := sc.LocalAddr().String(),
				c.RemoteAddr().String(); got != want {
				t.Errorf("LocalAddr %s, want %s", got, want)
			}
			if !noDelay(t, sc) {
				t.Error("accepted connection without TCP_NODELAY")
			}

			go c.Write([]byte("ping"))
			b := make([]byte, 4)
			if _, err := io.ReadFull(sc, b); err != nil ||
				string(b) != "ping" {
				t.Fatalf("read %q, %v", b, err)
			}
		})
	}
}

func noDelay(t *testing.T, c net.Conn) bool {
	rc, err := c.(*Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	rc.Control(func(fd uintptr) {
		v, err = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP,
			syscall.TCP_NODELAY)
	})
	if err != nil {
		t.Fatal(err)
	}
	return v != 0
}

// TestListenerClose checks that Close ends a waiting Accept, and later
// ones, with net.ErrClosed, and frees the port.
func TestListenerClose(t *testing.T) {
	l := listen(t, "tcp4", "127.0.0.1:0")
	errc := make(chan error, 1)
	go func() {
		_, err := l.Accept()
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		var oe *net.OpError
		if !errors.Is(err, net.ErrClosed) || !errors.As(err, &oe) ||
			oe.Op != "accept" {
			t.Errorf("waiting Accept: %v, want an accept error "+
				"for net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Accept still waiting after Close")
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v", err)
	}
	if err := l.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
	if c, err := net.Dial("tcp4", l.Addr().String()); err == nil {
		c.Close()
		t.Error("the port still takes connections after Close")
	}
}
