package smtp

import (
	"bufio"
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/rawio"
)

// rawPair returns a Conn over a rawio connection, which sends each
// command as it reads the reply, and the server's end.
func rawPair(t *testing.T) (*Conn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	srv := <-accepted
	if srv == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() {
		nc.Close()
		srv.Close()
	})
	c := NewConn(rawio.Wrap(nc), &Options{ReplyTimeout: 5 * time.Second})
	if _, ok := c.nc.(sender); !ok {
		t.Fatalf("%T cannot send as it reads", c.nc)
	}
	return c, srv.(*net.TCPConn)
}

// TestSendAsRead runs commands and a message's content over a
// connection that sends them as it reads their replies, and checks what
// the server got and the bytes counted.
func TestSendAsRead(t *testing.T) {
	c, srv := rawPair(t)
	got := make(chan string, 1)
	go func() {
		var b strings.Builder
		r := bufio.NewReader(srv)
		data := false
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				got <- b.String()
				return
			}
			b.WriteString(line)
			switch {
			case data && line != ".\r\n":
				continue
			case data:
				data = false
				srv.Write([]byte("250 2.0.0 queued\r\n"))
			case line == "DATA\r\n":
				data = true
				srv.Write([]byte("354 go on\r\n"))
			default:
				srv.Write([]byte("250-first\r\n250 ok\r\n"))
			}
		}
	}()

	if r, err := c.Hello("HELO", "c.example"); err != nil || r.Code != 250 {
		t.Fatalf("HELO: %v, %v", r, err)
	}
	if r, err := c.MailWith([]byte("s@example"), nil); err != nil ||
		r.Code != 250 {
		t.Fatalf("MAIL: %v, %v", r, err)
	}
	if r, err := c.Data(); err != nil || r.Code != 354 {
		t.Fatalf("DATA: %v, %v", r, err)
	}
	p := NewPipeline(c)
	p.Content([]byte("Subject: x\r\n\r\n"), []byte("body\r\n"))
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	if r, err := p.Reply(PhaseEndOfData); err != nil || r.Code != 250 {
		t.Fatalf("end of data: %v, %v", r, err)
	}
	out, in := c.TakeBytes()
	c.Close()

	want := "HELO c.example\r\nMAIL FROM:<s@example>\r\nDATA\r\n" +
		"Subject: x\r\n\r\nbody\r\n.\r\n"
	if s := <-got; s != want {
		t.Errorf("server got %q, want %q", s, want)
	}
	if out != int64(len(want)) {
		t.Errorf("%d bytes out counted, want %d", out, len(want))
	}
	if wantIn := 2*len("250-first\r\n250 ok\r\n") + len("354 go on\r\n") +
		len("250 2.0.0 queued\r\n"); in != int64(wantIn) {
		t.Errorf("%d bytes in counted, want %d", in, wantIn)
	}
}

// A command that cannot be sent fails as a write, not as a read of its
// reply: for the final dot that tells a message lost before it was
// whole from one whose fate is unknown.
func TestSendAsReadErrors(t *testing.T) {
	t.Run("send", func(t *testing.T) {
		c, srv := rawPair(t)
		srv.SetLinger(0)
		srv.Close()
		time.Sleep(10 * time.Millisecond) // the reset arrives
		p := NewPipeline(c)
		p.Content(nil, []byte("body\r\n"))
		if err := p.Flush(); err != nil {
			t.Fatalf("Flush = %v; the send is the reply's", err)
		}
		_, err := p.Reply(PhaseEndOfData)
		var ioe *IOError
		if !errors.As(err, &ioe) || ioe.Read ||
			ioe.Phase != PhaseEndOfData ||
			!(errors.Is(err, syscall.ECONNRESET) ||
				errors.Is(err, syscall.EPIPE)) {
			t.Errorf("reply after a reset: %v, want a write "+
				"IOError in eod", err)
		}
	})
	t.Run("reply", func(t *testing.T) {
		c, srv := rawPair(t)
		go func() {
			bufio.NewReader(srv).ReadString('\n')
			srv.Close()
		}()
		_, err := c.Rset()
		var ioe *IOError
		if !errors.As(err, &ioe) || !ioe.Read || ioe.Phase != PhaseRset {
			t.Errorf("server gone after RSET: %v, want a read "+
				"IOError in rset", err)
		}
		if out, _ := c.TakeBytes(); out != int64(len("RSET\r\n")) {
			t.Errorf("%d bytes out counted, want 6", out)
		}
	})
}
