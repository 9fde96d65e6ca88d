package load

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/message"
	"github.com/go-smtp-source/go-smtp-source/internal/smtp"
)

// server is a minimal SMTP server for these tests: it answers every
// command from a reply table and counts what it saw.
type server struct {
	ln      net.Listener
	replies map[string]string // verb -> reply line(s), default 250 ok
	conns   atomic.Int64
	msgs    atomic.Int64
	rcpts   atomic.Int64
	mu      sync.Mutex
	log     []string // every command line, in arrival order
}

func newServer(t *testing.T, replies map[string]string) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{ln: ln, replies: replies}
	go s.serve()
	t.Cleanup(func() { ln.Close() })
	return s
}

func (s *server) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.conns.Add(1)
		go s.session(c)
	}
}

func (s *server) reply(verb, def string) string {
	if r, ok := s.replies[verb]; ok {
		return r
	}
	return def
}

func (s *server) session(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	fmt.Fprintf(c, "%s\r\n", s.reply("CONNECT", "220 test ESMTP"))
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		s.mu.Lock()
		s.log = append(s.log, line)
		s.mu.Unlock()
		verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0])
		if strings.HasPrefix(verb, "MAIL") || strings.HasPrefix(verb,
			"RCPT") {
			verb = verb[:4]
		}
		r := s.reply(verb, "250 ok")
		switch verb {
		case "RCPT":
			if strings.HasPrefix(r, "2") {
				s.rcpts.Add(1)
			}
		case "DATA":
			r = s.reply("DATA", "354 go ahead")
		case "QUIT":
			fmt.Fprintf(c, "221 bye\r\n")
			return
		}
		if r == "CLOSE" {
			return
		}
		fmt.Fprintf(c, "%s\r\n", r)
		if verb == "DATA" && strings.HasPrefix(r, "354") {
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
			}
			s.msgs.Add(1)
			fmt.Fprintf(c, "%s\r\n", s.reply(".", "250 queued"))
		}
	}
}

func (s *server) commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.log...)
}

// fakeGen is a fixed message: enough for testing the load logic.
type fakeGen struct{}

func (fakeGen) SenderAddr() string { return "s@example.com" }
func (fakeGen) AppendRecipient(dst []byte, seq int64, j int) []byte {
	return fmt.Appendf(dst, "r%d.%d@example.com", seq, j)
}
func (fakeGen) AppendHead(dst []byte, seq int64, session int) []byte {
	return fmt.Appendf(dst, "Subject: %d\r\n\r\n", seq)
}
func (fakeGen) Body(int64) []byte         { return []byte("body\r\n") }
func (fakeGen) RawBody(int64) []byte      { return []byte("body\r\n") }
func (fakeGen) Needs(int64) message.Needs { return 0 }

func config(s *server) Config {
	var d net.Dialer
	return Config{
		Dial: func(ctx context.Context) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", s.ln.Addr().String())
		},
		Gen:        fakeGen{},
		Messages:   1,
		Sessions:   1,
		Recipients: 1,
		Hostname:   "client.example.com",
		Conn:       smtp.Options{ReplyTimeout: 5 * time.Second},
	}
}

func TestRunCounts(t *testing.T) {
	cases := []struct {
		name      string
		m         int64
		s, r      int
		keepOpen  bool
		wantConns int64
	}{
		{"one", 1, 1, 1, false, 1},
		{"a connection per message", 50, 5, 1, false, 50},
		{"reuse", 50, 5, 2, true, 5},
		{"more sessions than messages", 3, 10, 1, true, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := newServer(t, nil)
			cfg := config(srv)
			cfg.Messages, cfg.Sessions, cfg.Recipients = c.m, c.s, c.r
			cfg.KeepOpen = c.keepOpen
			res, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Accepted != c.m || res.Failed != 0 {
				t.Errorf("accepted %d failed %d, want %d 0",
					res.Accepted, res.Failed, c.m)
			}
			if got := srv.msgs.Load(); got != c.m {
				t.Errorf("server got %d messages, want %d", got, c.m)
			}
			if got := srv.rcpts.Load(); got != c.m*int64(c.r) {
				t.Errorf("server got %d recipients", got)
			}
			if got := srv.conns.Load(); got != c.wantConns ||
				res.Sessions != c.wantConns {
				t.Errorf("connections: server %d, result %d, want %d",
					got, res.Sessions, c.wantConns)
			}
		})
	}
}

func TestFatalWording(t *testing.T) {
	cases := []struct {
		replies map[string]string
		want    string
	}{
		{map[string]string{"CONNECT": "554 go away"},
			"rejected at server banner: 554 go away"},
		{map[string]string{"HELO": "501 bad"}, "HELO rejected: 501 bad"},
		{map[string]string{"MAIL": "550 5.1.0 no"},
			"sender rejected: 550 5.1.0 no"},
		{map[string]string{"RCPT": "550-5.1.1 a\r\n550 5.1.1 b - gsmtp"},
			"recipient rejected: 550 5.1.1 a?5.1.1 b - gsmtp"},
		{map[string]string{"DATA": "250 but why"},
			"data rejected: 250 but why"},
		{map[string]string{".": "452 full"},
			"end of data rejected: 452 full"},
		{map[string]string{"MAIL": "CLOSE"},
			"lost connection while sending sender"},
		{map[string]string{"RCPT": "CLOSE"},
			"lost connection while sending recipient"},
	}
	for _, c := range cases {
		srv := newServer(t, c.replies)
		_, err := Run(context.Background(), config(srv))
		var f *Fatal
		if !errors.As(err, &f) || f.Msg != c.want {
			t.Errorf("got %v, want fatal %q", err, c.want)
		}
	}
}

// warnings collects -A warnings.
type warnings struct {
	mu    sync.Mutex
	lines []string
}

func (w *warnings) Enabled(context.Context, slog.Level) bool { return true }
func (w *warnings) Handle(_ context.Context, r slog.Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lines = append(w.lines, r.Message)
	return nil
}
func (w *warnings) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnings) WithGroup(string) slog.Handler      { return w }

func TestAllowReject(t *testing.T) {
	cases := []struct {
		name     string
		replies  map[string]string
		keepOpen bool
		warns    int
		want     []string // the server's command log, joined by |
	}{
		{"MAIL refused: RSET", map[string]string{"MAIL": "450 later"},
			true, 2, []string{"HELO client.example.com",
				"MAIL FROM:<s@example.com>", "RSET",
				"MAIL FROM:<s@example.com>", "RSET", "QUIT"}},
		{"RCPT refused: RSET", map[string]string{"RCPT": "550 no"},
			false, 2, []string{"HELO client.example.com",
				"MAIL FROM:<s@example.com>",
				"RCPT TO:<r0.0@example.com>", "RSET", "QUIT",
				"HELO client.example.com", "MAIL FROM:<s@example.com>",
				"RCPT TO:<r1.0@example.com>", "RSET", "QUIT"}},
		{"421 at MAIL: no more commands on that connection",
			map[string]string{"MAIL": "421 closing"}, true, 2,
			[]string{"HELO client.example.com",
				"MAIL FROM:<s@example.com>",
				"HELO client.example.com",
				"MAIL FROM:<s@example.com>"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := newServer(t, c.replies)
			cfg := config(srv)
			cfg.Messages, cfg.AllowReject, cfg.KeepOpen = 2, true,
				c.keepOpen
			w := &warnings{}
			cfg.Log = slog.New(w)
			res, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Failed != 2 || res.Accepted != 0 {
				t.Errorf("accepted %d failed %d", res.Accepted,
					res.Failed)
			}
			if len(w.lines) != c.warns {
				t.Errorf("warnings %q", w.lines)
			}
			got := strings.Join(srv.commands(), "|")
			if want := strings.Join(c.want, "|"); got != want {
				t.Errorf("commands\n got %s\nwant %s", got, want)
			}
		})
	}
}

// A server that accepts and never speaks must not hang the run.
func TestSilentServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	srv := &server{ln: ln}
	cfg := config(srv)
	cfg.Conn.BannerTimeout = 200 * time.Millisecond
	start := time.Now()
	_, err = Run(context.Background(), cfg)
	var f *Fatal
	if !errors.As(err, &f) ||
		f.Msg != "timeout while reading server greeting" {
		t.Errorf("got %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestConnectAttempts(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &server{ln: ln}
	ln.Close() // nothing listens: connection refused
	cfg := config(srv)
	cfg.ConnectAttempts = 3
	w := &warnings{}
	cfg.Log = slog.New(w)
	_, err = Run(context.Background(), cfg)
	var f *Fatal
	if !errors.As(err, &f) || f.Msg != "connect: Connection refused" {
		t.Errorf("got %v", err)
	}
	if len(w.lines) != 2 {
		t.Errorf("warnings %q, want 2", w.lines)
	}
}

func TestRandomDelayIsPerMessage(t *testing.T) {
	// The same seed gives message g the same pause whoever sends it.
	a, b := mix(7, 12345), mix(7, 12345)
	if a != b || mix(7, 1) == mix(7, 2) || mix(7, 1) == mix(8, 1) {
		t.Error("mix is not a deterministic spread of (seed, seq)")
	}
}

// TestConnectLimit: with ConnectLimit, no more connects are in progress
// at once than it allows, and every message still goes out; without
// it, sessions that start together connect together.
func TestConnectLimit(t *testing.T) {
	for _, c := range []struct {
		limit   int
		wantMax func(int64) bool
		want    string
	}{
		{1, func(n int64) bool { return n == 1 }, "1"},
		{3, func(n int64) bool { return n >= 2 && n <= 3 }, "2 or 3"},
		{0, func(n int64) bool { return n > 3 }, "more than 3"},
	} {
		srv := newServer(t, nil)
		cfg := config(srv)
		cfg.Messages, cfg.Sessions = 40, 8
		cfg.ConnectLimit = c.limit

		// Each connect stays in progress for a while, so that the
		// sessions' connects overlap unless they are made to wait.
		var now, most atomic.Int64
		dial := cfg.Dial
		cfg.Dial = func(ctx context.Context) (net.Conn, error) {
			n := now.Add(1)
			defer now.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); {
				m = most.Load()
			}
			time.Sleep(5 * time.Millisecond)
			return dial(ctx)
		}

		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if res.Accepted != 40 || srv.msgs.Load() != 40 {
			t.Errorf("limit %d: accepted %d, server got %d; want 40",
				c.limit, res.Accepted, srv.msgs.Load())
		}
		if got := most.Load(); !c.wantMax(got) {
			t.Errorf("limit %d: %d connects at once, want %s",
				c.limit, got, c.want)
		}
	}
}

// TestConnectLimitStop: a session waiting for its turn to connect
// leaves when the run is stopped, without counting a failed connect.
func TestConnectLimitStop(t *testing.T) {
	srv := newServer(t, nil)
	cfg := config(srv)
	cfg.Messages, cfg.Sessions, cfg.ConnectLimit = 2, 2, 1
	entered := make(chan struct{}, 2)
	cfg.Dial = func(ctx context.Context) (net.Conn, error) {
		entered <- struct{}{}
		<-ctx.Done() // a connect that never completes
		return nil, ctx.Err()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, cfg)
		done <- err
	}()
	<-entered
	select {
	case <-entered:
		t.Fatal("a second connect started past the limit of 1")
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the run did not end when stopped")
	}
}
