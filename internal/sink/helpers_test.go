package sink

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer is a goroutine-safe log buffer.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// testServer is an in-process sink on a loopback port.
type testServer struct {
	*Server
	addr string
	logs *syncBuffer
	done chan error
}

// startServer runs a Server with cfg on 127.0.0.1 and stops it at the
// end of the test.
func startServer(t testing.TB, cfg Config) *testServer {
	t.Helper()
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs,
		&slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := New(cfg, log)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: srv, addr: ln.Addr().String(), logs: logs,
		done: make(chan error, 1)}
	go func() { ts.done <- srv.Serve(context.Background(), ln) }()
	t.Cleanup(func() { srv.Close() })
	return ts
}

// client is a raw SMTP client for transcripts.
type client struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

func dial(t testing.TB, addr string) *client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &client{t: t, conn: conn, r: bufio.NewReader(conn)}
}

// send writes raw bytes.
func (c *client) send(s string) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Fatalf("send %q: %v", s, err)
	}
}

// line reads one reply line without CR LF.
func (c *client) line() string {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	l, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read reply: %v (got %q)", err, l)
	}
	if !strings.HasSuffix(l, "\r\n") {
		c.t.Fatalf("reply %q does not end in CR LF", l)
	}
	return strings.TrimSuffix(l, "\r\n")
}

// expect reads len(want) reply lines and compares them.
func (c *client) expect(want ...string) {
	c.t.Helper()
	for _, w := range want {
		if got := c.line(); got != w {
			c.t.Fatalf("reply %q, want %q", got, w)
		}
	}
}

// reply reads one whole reply, multi-line included, and returns its
// lines.
func (c *client) reply() []string {
	c.t.Helper()
	var lines []string
	for {
		l := c.line()
		lines = append(lines, l)
		if len(l) < 4 || l[3] != '-' {
			return lines
		}
	}
}

// eof checks that the server closes the connection with nothing more
// to say, within limit.
func (c *client) eof(limit time.Duration) {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(limit))
	rest, err := io.ReadAll(c.r)
	if err != nil {
		c.t.Fatalf("want EOF, got %v after %q", err, rest)
	}
	if len(rest) > 0 {
		c.t.Fatalf("want EOF, got %q", rest)
	}
}

// closed checks that the server hangs up, with a FIN or a reset, with
// nothing more to say.
func (c *client) closed(limit time.Duration) {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(limit))
	rest, err := io.ReadAll(c.r)
	if len(rest) > 0 {
		c.t.Fatalf("want a close, got %q", rest)
	}
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		c.t.Fatalf("want a close, got %v", err)
	}
}

// quiet checks that no reply comes within d.
func (c *client) quiet(d time.Duration) {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(d))
	b, err := c.r.ReadByte()
	if err == nil {
		rest, _ := c.r.Peek(c.r.Buffered())
		c.t.Fatalf("unexpected reply %q", append([]byte{b}, rest...))
	}
	if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		c.t.Fatalf("want silence, got %v", err)
	}
}

// greet reads the banner and does EHLO.
func (c *client) greet() {
	c.t.Helper()
	c.expect("220 smtp-sink ESMTP")
	c.send("EHLO client.example\r\n")
	c.reply()
}

// fakeConn is a net.Conn over a reader and a writer, for fuzzing and
// benchmarks without sockets.
type fakeConn struct {
	r io.Reader
	w io.Writer
}

func (f *fakeConn) Read(p []byte) (int, error)  { return f.r.Read(p) }
func (f *fakeConn) Write(p []byte) (int, error) { return f.w.Write(p) }
func (f *fakeConn) Close() error                { return nil }
func (f *fakeConn) LocalAddr() net.Addr         { return fakeAddr }
func (f *fakeConn) RemoteAddr() net.Addr        { return fakeAddr }
func (f *fakeConn) SetDeadline(time.Time) error { return nil }
func (f *fakeConn) SetReadDeadline(time.Time) error {
	return nil
}
func (f *fakeConn) SetWriteDeadline(time.Time) error {
	return nil
}

var fakeAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 25}

// runSession runs one session of srv over conn to its end.
func runSession(srv *Server, conn net.Conn) {
	sess := srv.pool.Get().(*session)
	sess.reset(srv, conn)
	srv.active.Add(1)
	sess.serve()
	sess.release()
	srv.pool.Put(sess)
}

// startTLS turns the client connection into a TLS client connection.
func (c *client) startTLS() {
	c.t.Helper()
	tc := tls.Client(c.conn, &tls.Config{InsecureSkipVerify: true})
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("TLS handshake: %v", err)
	}
	c.conn = tc
	c.r = bufio.NewReader(tc)
}
