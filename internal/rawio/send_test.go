package rawio

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sendKinds are the connections that can send as they read: Wrap's and
// DialPolled's (Blocking cannot).
func sendKinds(t *testing.T, f func(t *testing.T, c *Conn, srv net.Conn)) {
	for _, k := range kinds[:2] {
		t.Run(k.name, func(t *testing.T) {
			c, srv := pair(t, "tcp", k.dial)
			f(t, c.(*Conn), srv)
		})
	}
}

// echoLines answers every line srv receives with the line, as a server
// answers a command.
func echoLines(srv net.Conn) {
	r := bufio.NewReader(srv)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return
		}
		if _, err := srv.Write(line); err != nil {
			return
		}
	}
}

// TestWriteOnRead sends commands as reads and reads their answers.
func TestWriteOnRead(t *testing.T) {
	sendKinds(t, func(t *testing.T, c *Conn, srv net.Conn) {
		go echoLines(srv)
		buf := make([]byte, 64)
		for i := range 100 {
			cmd := []byte("NOOP " + strconv.Itoa(i) + "\r\n")
			c.WriteOnRead([][]byte{cmd[:3], cmd[3:]})
			n, err := io.ReadAtLeast(c, buf, len(cmd))
			if err != nil {
				t.Fatalf("command %d: %v", i, err)
			}
			if !bytes.Equal(buf[:n], cmd) {
				t.Fatalf("answer %q to %q", buf[:n], cmd)
			}
			if c.Sent() != len(cmd) {
				t.Fatalf("Sent() = %d, want %d", c.Sent(), len(cmd))
			}
		}
	})
}

// TestWriteOnReadLarge stages more than the socket buffers hold, in
// more buffers than one writev(2) takes, so that the send meets EAGAIN
// and goes on as a plain write. The server answers once it has it all.
func TestWriteOnReadLarge(t *testing.T) {
	sendKinds(t, func(t *testing.T, c *Conn, srv net.Conn) {
		data := pattern(8 << 20)
		var bufs [][]byte
		for rest := data; len(rest) > 0; {
			n := min(len(rest), 1+len(bufs)%5000)
			bufs = append(bufs, rest[:n], nil)
			rest = rest[n:]
		}
		if len(bufs) <= maxIovecs {
			t.Fatalf("only %d buffers", len(bufs))
		}
		received := make(chan []byte, 1)
		go func() {
			got := make([]byte, len(data))
			io.ReadFull(srv, got)
			received <- got
			srv.Write([]byte("250 ok\r\n"))
		}()

		c.SetDeadline(time.Now().Add(time.Minute))
		c.WriteOnRead(bufs)
		buf := make([]byte, 64)
		n, err := c.Read(buf)
		if err != nil || string(buf[:n]) != "250 ok\r\n" {
			t.Fatalf("Read = %q, %v", buf[:n], err)
		}
		if !bytes.Equal(<-received, data) {
			t.Fatal("the server received other bytes")
		}
		if c.Sent() != len(data) {
			t.Errorf("Sent() = %d, want %d", c.Sent(), len(data))
		}
	})
}

// TestWriteOnReadErrors checks that a failed send is a write error, and
// a failed wait for the answer a read error.
func TestWriteOnReadErrors(t *testing.T) {
	sendKinds(t, func(t *testing.T, c *Conn, srv net.Conn) {
		c.SetDeadline(time.Now().Add(-time.Second))
		c.WriteOnRead([][]byte{[]byte("x")})
		_, err := c.Read(make([]byte, 1))
		wantOp(t, "deadline passed", err, "write", os.ErrDeadlineExceeded)
		if c.Sent() != 0 {
			t.Errorf("deadline passed: Sent() = %d", c.Sent())
		}

		// Sent, and no answer comes.
		c.SetDeadline(time.Now().Add(20 * time.Millisecond))
		c.WriteOnRead([][]byte{[]byte("x")})
		_, err = c.Read(make([]byte, 1))
		wantOp(t, "no answer", err, "read", os.ErrDeadlineExceeded)
		if c.Sent() != 1 {
			t.Errorf("no answer: Sent() = %d, want 1", c.Sent())
		}

		// The server does not read: the send cannot end.
		big := pattern(16 << 20)
		c.SetDeadline(time.Now().Add(100 * time.Millisecond))
		c.WriteOnRead([][]byte{big})
		_, err = c.Read(make([]byte, 1))
		wantOp(t, "server not reading", err, "write",
			os.ErrDeadlineExceeded)
		if n := c.Sent(); n < 1 || n >= 16<<20 {
			t.Errorf("server not reading: Sent() = %d", n)
		}

		// The server is gone: its reset is read, then a send fails.
		srv.(*net.TCPConn).SetLinger(0)
		srv.Close()
		c.SetDeadline(time.Time{})
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("read after RST succeeded")
		}
		c.WriteOnRead([][]byte{[]byte("x")})
		_, err = c.Read(make([]byte, 1))
		wantOp(t, "after RST", err, "write", syscall.EPIPE)
	})
}

func wantOp(t *testing.T, what string, err error, op string, cause error) {
	t.Helper()
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != op || !errors.Is(err, cause) {
		t.Errorf("%s: %v, want a %s error for %v", what, err, op, cause)
	}
}

// TestWriteOnReadSkipsRead checks the point of WriteOnRead: one read(2)
// per answer, where a write and then a Read make two (the first finds
// nothing yet). It counts this thread's read system calls.
func TestWriteOnReadSkipsRead(t *testing.T) {
	if _, err := threadReads(); err != nil {
		t.Skip("no per-thread I/O accounting:", err)
	}
	sendKinds(t, func(t *testing.T, c *Conn, srv net.Conn) {
		go echoLines(srv)
		const n = 200
		cmd, buf := []byte("NOOP\r\n"), make([]byte, 64)

		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		count := func(staged bool) int {
			before, _ := threadReads()
			for range n {
				if staged {
					c.WriteOnRead([][]byte{cmd})
				} else if _, err := c.Write(cmd); err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadFull(c, buf[:len(cmd)]); err != nil {
					t.Fatal(err)
				}
			}
			after, _ := threadReads()
			return after - before
		}
		plain, staged := count(false), count(true)
		t.Logf("read(2) calls for %d answers: %d after Write, %d "+
			"with WriteOnRead", n, plain, staged)
		if staged > n+n/10 {
			t.Errorf("%d read(2) calls for %d answers", staged, n)
		}
	})
}

// threadReads returns the read system calls this thread has made, from
// /proc/thread-self/io (the reading itself adds one or two).
func threadReads() (int, error) {
	b, err := os.ReadFile("/proc/thread-self/io")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "syscr: "); ok {
			return strconv.Atoi(v)
		}
	}
	return 0, errors.New("no syscr line")
}

// TestWriteOnReadNoAllocations checks that sending as a read allocates
// nothing.
func TestWriteOnReadNoAllocations(t *testing.T) {
	sendKinds(t, func(t *testing.T, c *Conn, srv net.Conn) {
		go io.Copy(srv, srv) // echoLines allocates
		cmd, buf := [][]byte{[]byte("NOOP\r\n")}, make([]byte, 64)
		allocs := testing.AllocsPerRun(200, func() {
			c.WriteOnRead(cmd)
			io.ReadFull(c, buf[:len(cmd[0])])
		})
		if allocs != 0 {
			t.Errorf("%v allocations per command, want 0", allocs)
		}
	})
}
