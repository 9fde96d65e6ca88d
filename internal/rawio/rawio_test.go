package rawio

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// client is what both kinds of connection offer.
type client interface {
	net.Conn
	WriteBuffers(bufs [][]byte) (int64, error)
}

// kinds are the ways to make a client connection: Wrap over one from
// package net, DialPolled (TCP only) and DialBlocking.
var kinds = []struct {
	name string
	dial func(t *testing.T, network, addr string) client
}{
	{"poller", func(t *testing.T, network, addr string) client {
		nc, err := net.Dial(network, addr)
		if err != nil {
			t.Fatal(err)
		}
		c, ok := Wrap(nc).(*Conn)
		if !ok {
			t.Fatalf("Wrap(%T) did not wrap", nc)
		}
		return c
	}},
	{"polled", func(t *testing.T, network, addr string) client {
		if network != "tcp" {
			t.Skip("DialPolled makes TCP connections only")
		}
		ta, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c, err := DialPolled(context.Background(), ta, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}},
	{"blocking", func(t *testing.T, network, addr string) client {
		var a net.Addr
		if network == "unix" {
			a = &net.UnixAddr{Name: addr, Net: "unix"}
		} else {
			ta, err := net.ResolveTCPAddr("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			a = ta
		}
		c, err := DialBlocking(context.Background(), a, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}},
}

// eachKind runs f as a subtest for each kind of connection.
func eachKind(t *testing.T, f func(t *testing.T, pair pairFunc)) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			f(t, func(t *testing.T, network string) (client, net.Conn) {
				return pair(t, network, k.dial)
			})
		})
	}
}

type pairFunc func(t *testing.T, network string) (client, net.Conn)

// pair returns a client connection made by dial and the server's end
// of it, on network "tcp" or "unix".
func pair(t *testing.T, network string,
	dial func(t *testing.T, network, addr string) client) (client, net.Conn) {

	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(t.TempDir(), "s")
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c := dial(t, network, ln.Addr().String())
	srv := <-accepted
	if srv == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() {
		c.Close()
		srv.Close()
	})
	return c, srv
}

// pattern returns n bytes that show where a byte came from.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// TestRoundTrip sends more than the socket buffers hold both ways, so
// that writes meet EAGAIN and wait, and reads come in pieces.
func TestRoundTrip(t *testing.T) {
	eachKind(t, testRoundTrip)
}

func testRoundTrip(t *testing.T, pair pairFunc) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			c, srv := pair(t, network)
			data := pattern(8 << 20)

			// The server echoes what it reads.
			go io.Copy(srv, srv)
			errc := make(chan error, 1)
			go func() {
				_, err := c.Write(data)
				errc <- err
			}()
			got := make([]byte, len(data))
			if _, err := io.ReadFull(c, got); err != nil {
				t.Fatal(err)
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Fatal("echoed bytes differ")
			}
		})
	}
}

// TestWriteBuffers writes many buffers, some empty, larger in all than
// the socket buffers, and more of them than one writev takes.
func TestWriteBuffers(t *testing.T) {
	eachKind(t, testWriteBuffers)
}

func testWriteBuffers(t *testing.T, pair pairFunc) {
	c, srv := pair(t, "tcp")
	data := pattern(6 << 20)
	var bufs [][]byte
	for at := 0; at < len(data); {
		n := min(len(data)-at, 1+at%3001)
		bufs = append(bufs, data[at:at+n], nil)
		at += n
	}
	if len(bufs) <= maxIovecs {
		t.Fatalf("only %d buffers", len(bufs))
	}

	done := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(srv)
		done <- b
	}()
	n, err := c.WriteBuffers(bufs)
	if err != nil || n != int64(len(data)) {
		t.Fatalf("WriteBuffers = %d, %v; want %d", n, err, len(data))
	}
	c.Close()
	if got := <-done; !bytes.Equal(got, data) {
		t.Fatalf("received %d bytes, not the %d written in order",
			len(got), len(data))
	}
}

// TestErrors checks that errors read as package net's: a deadline is
// a timeout, the peer's close is io.EOF, a reset is ECONNRESET, a
// closed connection is net.ErrClosed.
func TestErrors(t *testing.T) {
	eachKind(t, testErrors)
}

func testErrors(t *testing.T, pair pairFunc) {
	t.Run("deadline", func(t *testing.T) {
		c, _ := pair(t, "tcp")
		c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		_, err := c.Read(make([]byte, 10))
		var ne net.Error
		if !errors.Is(err, os.ErrDeadlineExceeded) ||
			!errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("read past the deadline: %v", err)
		}
	})
	t.Run("EOF", func(t *testing.T) {
		c, srv := pair(t, "tcp")
		srv.Write([]byte("x"))
		srv.Close()
		b, err := io.ReadAll(c)
		if err != nil || string(b) != "x" {
			t.Errorf("ReadAll = %q, %v", b, err)
		}
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("read after the peer's close: %v, want io.EOF",
				err)
		}
	})
	t.Run("reset", func(t *testing.T) {
		c, srv := pair(t, "tcp")
		srv.(*net.TCPConn).SetLinger(0)
		srv.Close()
		_, err := c.Read(make([]byte, 1))
		var op *net.OpError
		if !errors.Is(err, syscall.ECONNRESET) || !errors.As(err, &op) ||
			op.Op != "read" {
			t.Errorf("read after RST: %v", err)
		}
		want := "read tcp " + c.LocalAddr().String() + "->" +
			c.RemoteAddr().String() + ": read: connection reset by peer"
		if err == nil || err.Error() != want {
			t.Errorf("error %q, want %q", err, want)
		}
	})
	t.Run("write after reset", func(t *testing.T) {
		c, srv := pair(t, "tcp")
		srv.(*net.TCPConn).SetLinger(0)
		srv.Close()
		var err error
		for i := 0; i < 100 && err == nil; i++ {
			_, err = c.Write([]byte("x"))
			time.Sleep(time.Millisecond)
		}
		var op *net.OpError
		if !errors.As(err, &op) || op.Op != "write" ||
			!(errors.Is(err, syscall.ECONNRESET) ||
				errors.Is(err, syscall.EPIPE)) {
			t.Errorf("write after RST: %v", err)
		}
	})
	t.Run("closed", func(t *testing.T) {
		c, _ := pair(t, "tcp")
		errc := make(chan error, 1)
		go func() {
			_, err := c.Read(make([]byte, 1))
			errc <- err
		}()
		time.Sleep(20 * time.Millisecond)
		c.Close()
		if err := <-errc; !errors.Is(err, net.ErrClosed) {
			t.Errorf("read interrupted by Close: %v", err)
		}
		if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
			t.Errorf("write after Close: %v", err)
		}
		if err := c.Close(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("second Close: %v", err)
		}
	})
}

// TestWrapLeavesOthers checks that Wrap keeps what it cannot wrap.
func TestWrapLeavesOthers(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if Wrap(a) != a {
		t.Error("Wrap wrapped a net.Pipe end")
	}
}

// TestNoAllocations checks that reads and writes allocate nothing.
func TestNoAllocations(t *testing.T) {
	eachKind(t, testNoAllocations)
}

func testNoAllocations(t *testing.T, pair pairFunc) {
	c, srv := pair(t, "tcp")
	go io.Copy(srv, srv)
	msg, buf := []byte("250 ok\r\n"), make([]byte, 64)
	bufs := [][]byte{msg, msg}
	allocs := testing.AllocsPerRun(200, func() {
		c.Write(msg)
		c.WriteBuffers(bufs)
		io.ReadFull(c, buf[:3*len(msg)])
	})
	if allocs != 0 {
		t.Errorf("%v allocations per round trip, want 0", allocs)
	}
}
