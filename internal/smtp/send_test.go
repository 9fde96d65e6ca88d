package smtp

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/rawio"
	"github.com/google/go-cmp/cmp"
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
		go func() {
			bufio.NewReader(srv).ReadString('\n')
			srv.Write([]byte("250 ok\r\n"))
		}()
		if _, err := c.Hello("HELO", "c.example"); err != nil {
			t.Fatal(err)
		}
		// A deadline already past: the send fails at once. (Conn
		// keeps the deadline it set, which this one is earlier than.)
		c.nc.SetDeadline(time.Now().Add(-time.Second))
		p := NewPipeline(c)
		p.Content(nil, []byte("body\r\n"))
		if err := p.Flush(); err != nil {
			t.Fatalf("Flush = %v; the send is the reply's", err)
		}
		_, err := p.Reply(PhaseEndOfData)
		var ioe *IOError
		if !errors.As(err, &ioe) || ioe.Read || !ioe.Timeout ||
			ioe.Phase != PhaseEndOfData {
			t.Errorf("reply past the deadline: %v, want a write "+
				"timeout in eod", err)
		}
		if out, _ := c.TakeBytes(); out != int64(len("HELO c.example\r\n")) {
			t.Errorf("%d bytes out counted, want the HELO's", out)
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

// stagingConn is a fakeConn that can send as it reads, and says which
// writes went that way. Each Read returns one of chunks, as a server
// answers each command.
type stagingConn struct {
	fakeConn
	chunks []string
	staged [][]byte
	sent   int
	how    []string // "staged" or "plain", per command
}

func (s *stagingConn) WriteOnRead(bufs [][]byte) { s.staged = bufs }
func (s *stagingConn) Sent() int                 { return s.sent }

func (s *stagingConn) Read(b []byte) (int, error) {
	if s.staged != nil {
		s.how = append(s.how, "staged")
		s.sent, _ = s.fakeConn.Write(s.staged[0])
		s.staged = nil
	}
	if len(s.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(b, s.chunks[0])
	s.chunks = s.chunks[1:]
	return n, nil
}

func (s *stagingConn) Write(b []byte) (int, error) {
	s.how = append(s.how, "plain")
	return s.fakeConn.Write(b)
}

// A command sent soon after the last reply goes out as its reply's read
// starts; one sent after a pause goes out the plain way, so that what
// the server sent during the pause is read (see stageWithin). So does
// one sent while received bytes wait in the buffer.
func TestStageAfterPause(t *testing.T) {
	sc := &stagingConn{chunks: []string{"220 hi\r\n", "250 a\r\n",
		"250 b\r\n", "250 c\r\n250 x\r\n", "250 d\r\n", "550 no\r\n",
		"250 e\r\n"}}
	c := NewConn(sc, &Options{})
	if _, err := c.Banner(); err != nil {
		t.Fatal(err)
	}
	c.Hello("HELO", "x") // at once: staged
	time.Sleep(2 * stageWithin)
	c.Rset()           // after a pause: plain
	c.Rset()           // at once: staged; "250 x" stays in the buffer
	c.Rset()           // bytes in the buffer: plain (its reply is "250 x")
	r, err := c.Rset() // at once, the buffer empty: staged
	if err != nil || string(r.Text) != "d" {
		t.Fatalf("reply %q, %v; want 250 d", r.Text, err)
	}
	c.Rset()          // staged; the reply is negative
	r, err = c.Rset() // after a negative reply: plain
	if err != nil || string(r.Text) != "e" {
		t.Fatalf("last reply %q, %v; want 250 e", r.Text, err)
	}
	want := []string{"staged", "plain", "staged", "plain", "staged",
		"staged", "plain"}
	if diff := cmp.Diff(want, sc.how); diff != "" {
		t.Errorf("how commands went (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"HELO x\r\n", "RSET\r\n", "RSET\r\n",
		"RSET\r\n", "RSET\r\n", "RSET\r\n", "RSET\r\n"},
		sc.writes); diff != "" {
		t.Errorf("bytes sent (-want +got):\n%s", diff)
	}
}

// A server that answers with a 421, shuts its sending side and reads on
// (so that its reply is not lost to a reset) is found gone at the next
// command, not after --reply-timeout: the reply and the end of the
// stream come together, and a read that waited first would wait for an
// event already spent.
func TestHalfCloseAfterNegativeReply(t *testing.T) {
	c, srv := rawPair(t)
	go func() {
		r := bufio.NewReader(srv)
		r.ReadString('\n')
		srv.Write([]byte("421 4.3.2 going away\r\n"))
		srv.CloseWrite()
		io.Copy(io.Discard, r) // until the client closes
	}()
	r, err := c.Rset()
	if err != nil || r.Code != 421 {
		t.Fatalf("RSET: %v, %v; want 421", r, err)
	}
	start := time.Now()
	_, err = c.Quit()
	var ioe *IOError
	if !errors.As(err, &ioe) || !ioe.Read || !errors.Is(err, io.EOF) {
		t.Errorf("QUIT after the half-close: %v, want EOF", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("QUIT took %v to find the connection gone", d)
	}
}
