package sink

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/rawio"
)

// tcpPair returns the server's end of a loopback TCP connection, as the
// sink accepts it, and the client's.
func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := rawio.Listen(tl.(*net.TCPListener))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		srv.Close()
	})
	return srv, c
}

// closedSoon waits until conn is closed (a second Close says so).
func closedSoon(conn net.Conn, within time.Duration) bool {
	end := time.Now().Add(within)
	for {
		// Control fails once the descriptor is gone.
		rc, err := conn.(*rawio.Conn).SyscallConn()
		if err == nil && rc.Control(func(uintptr) {}) != nil {
			return true
		}
		if time.Now().After(end) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
}

// TestCloserEnd checks that an ended connection shows its end to the
// client at once, before it is closed, and is closed in a batch.
func TestCloserEnd(t *testing.T) {
	t.Run("at once", func(t *testing.T) {
		c := newCloser()
		c.every = time.Hour
		srv, client := tcpPair(t)
		srv.Write([]byte("221 Bye\r\n"))
		c.end(srv)
		client.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, err := io.ReadAll(client)
		if err != nil || string(b) != "221 Bye\r\n" {
			t.Fatalf("client read %q, %v", b, err)
		}
		if closedSoon(srv, 0) {
			t.Error("closed before its batch")
		}
		c.stop()
		if !closedSoon(srv, time.Millisecond) {
			t.Error("still open after stop")
		}
	})
	t.Run("in a batch", func(t *testing.T) {
		c := newCloser()
		defer c.stop()
		srv, _ := tcpPair(t)
		c.end(srv)
		if !closedSoon(srv, 100*closeEvery) {
			t.Error("still open")
		}
	})
}

// TestCloserStop checks that stop closes what is pending at once, and
// that later ends close at once.
func TestCloserStop(t *testing.T) {
	c := newCloser()
	a, _ := tcpPair(t)
	b, _ := tcpPair(t)
	c.end(a)
	c.stop()
	if !closedSoon(a, time.Millisecond) {
		t.Error("a pending connection is open after stop")
	}
	c.end(b)
	if !closedSoon(b, time.Millisecond) {
		t.Error("a connection ended after stop is open")
	}
	c.stop() // a second stop is harmless
}

// TestCloserNotRaw checks that a connection that cannot be shut down
// raw is closed at once.
func TestCloserNotRaw(t *testing.T) {
	c := newCloser()
	defer c.stop()
	a, b := net.Pipe()
	defer b.Close()
	c.end(a)
	if _, err := a.Write([]byte("x")); !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("write after end: %v, want io.ErrClosedPipe", err)
	}
}
