package load

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/go-smtp-source/go-smtp-source/internal/message"
	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
	"github.com/go-smtp-source/go-smtp-source/internal/scripttest"
	"github.com/go-smtp-source/go-smtp-source/internal/sink"
)

// writes records every Write on the connections a Dial made, apart, so
// that a test can tell one write from several.
type writes struct {
	mu   sync.Mutex
	list []string
}

type recConn struct {
	net.Conn
	w *writes
}

func (c *recConn) Write(b []byte) (int, error) {
	c.w.mu.Lock()
	c.w.list = append(c.w.list, string(b))
	c.w.mu.Unlock()
	return c.Conn.Write(b)
}

func (w *writes) get() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.list...)
}

// scripted is a run against a scripted server, with its writes and
// warnings recorded.
type scripted struct {
	srv      *scripttest.Server
	cfg      Config
	writes   *writes
	warnings *bytes.Buffer
}

func newScripted(t *testing.T, script string,
	opts ...scripttest.Option) *scripted {

	t.Helper()
	s, err := scripttest.Parse([]byte(script))
	if err != nil {
		t.Fatal(err)
	}
	sc := &scripted{srv: scripttest.Start(t, s, opts...),
		writes: &writes{}, warnings: &bytes.Buffer{}}
	gen, err := message.New(message.Config{
		Hostname: "vm", Sender: "foo@vm", Recipient: "rcpt@example.com",
		RcptCount: 1, Date: time.Unix(0, 0).UTC(), PID: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	var d net.Dialer
	sc.cfg = Config{
		Dial: func(ctx context.Context) (net.Conn, error) {
			nc, err := d.DialContext(ctx, "tcp", sc.srv.Addr)
			if err != nil {
				return nil, err
			}
			return &recConn{Conn: nc, w: sc.writes}, nil
		},
		Gen: gen, Messages: 1, Sessions: 1, Recipients: 1,
		Hostname: "vm", Pipelining: true,
		Log: slog.New(slog.NewTextHandler(sc.warnings,
			&slog.HandlerOptions{ReplaceAttr: onlyMsg})),
	}
	return sc
}

// onlyMsg keeps a log record's message alone on its line.
func onlyMsg(_ []string, a slog.Attr) slog.Attr {
	if a.Key != slog.MessageKey {
		return slog.Attr{}
	}
	return slog.String("", a.Value.String())
}

func (sc *scripted) warned() []string {
	var w []string
	for _, l := range strings.Split(strings.TrimSpace(
		sc.warnings.String()), "\n") {
		if l != "" {
			w = append(w, strings.Trim(l, `"= `))
		}
	}
	return w
}

// pipeServer advertises PIPELINING and SIZE and takes any number of
// transactions.
const pipeServer = `S 220 mx.example.com ESMTP
C EHLO vm
S 250-mx.example.com\r\n250-PIPELINING\r\n250 SIZE 10240000
LABEL txn
C MAIL FROM:<foo@vm> SIZE=\d+
LABEL rcpt
C RCPT TO:<.*>
BRANCH RCPT rcpt
C DATA
S 250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 go ahead
DATA
S 250 2.0.0 Ok: queued
BRANCH MAIL txn
C QUIT
S 221 2.0.0 Bye
EXPECT_EOF
`

// With -d, the first envelope and DATA go in one write; each next
// message's envelope goes in the write of the content before it (RFC
// 2920 section 3.1), so that there is one write per message. SIZE= is
// the content's size without the final dot.
func TestPipelinedWrites(t *testing.T) {
	sc := newScripted(t, pipeServer)
	sc.cfg.Messages, sc.cfg.Recipients, sc.cfg.KeepOpen = 3, 2, true
	res, err := Run(context.Background(), sc.cfg)
	if err != nil {
		t.Fatal(err)
	}
	sc.srv.Check(t)
	if res.Accepted != 3 || res.Sessions != 1 {
		t.Errorf("accepted %d over %d sessions, want 3 over 1",
			res.Accepted, res.Sessions)
	}

	w := sc.writes.get()
	if len(w) != 6 {
		t.Fatalf("%d writes, want EHLO, a group, 3 contents, QUIT: %q",
			len(w), w)
	}
	content := sc.cfg.Gen.(*message.Generator).AppendContent(nil, 0, 0)
	size := "SIZE=" + strconv.Itoa(len(content))
	group := "MAIL FROM:<foo@vm> " + size + "\r\n" +
		"RCPT TO:<rcpt@example.com>\r\nRCPT TO:<rcpt@example.com>\r\n" +
		"DATA\r\n"
	if w[1] != group {
		t.Errorf("first group %q, want %q", w[1], group)
	}
	for i := 2; i <= 3; i++ {
		if !strings.HasPrefix(w[i], "From: ") ||
			!strings.HasSuffix(w[i], "\r\n.\r\nMAIL FROM:<foo@vm> SIZE="+
				strconv.Itoa(len(content))+"\r\nRCPT TO:<rcpt@example.com>\r\n"+
				"RCPT TO:<rcpt@example.com>\r\nDATA\r\n") {
			t.Errorf("write %d: %q, want content then the next group",
				i, w[i])
		}
	}
	if !strings.HasSuffix(w[4], "La de da de da 4.\r\n.\r\n") ||
		w[5] != "QUIT\r\n" {
		t.Errorf("last writes %q, want content alone, then QUIT", w[4:])
	}
}

// Without PIPELINING advertised the client waits for every reply, even
// when asked to pipeline.
func TestPipeliningNotAdvertised(t *testing.T) {
	sc := newScripted(t, `S 220 mx.example.com ESMTP
C EHLO vm
S 250 mx.example.com
C MAIL FROM:<foo@vm>
ASSERT_SILENT 0.2
S 250 2.1.0 Ok
C RCPT TO:<rcpt@example.com>
ASSERT_SILENT 0.2
S 250 2.1.5 Ok
C DATA
ASSERT_SILENT 0.2
S 354 go ahead
DATA
S 250 2.0.0 Ok
C QUIT
S 221 Bye
EXPECT_EOF
`)
	if _, err := Run(context.Background(), sc.cfg); err != nil {
		t.Fatal(err)
	}
	sc.srv.Check(t)
}

// A refused MAIL in a group: the RCPTs and DATA get 503, and every one
// of those replies is read and warned about before RSET; the next group
// then lines up with its own replies.
func TestPipelinedMailRefused(t *testing.T) {
	sc := newScripted(t, `S 220 mx.example.com ESMTP
C EHLO vm
S 250-mx.example.com\r\n250 PIPELINING
C MAIL FROM:<foo@vm>
C RCPT TO:<rcpt@example.com>
C RCPT TO:<rcpt@example.com>
C DATA
S 550 5.7.1 sender refused\r\n503 5.5.1 Error: need MAIL command\r\n503 5.5.1 Error: need MAIL command\r\n503 5.5.1 Error: need RCPT command
C RSET
S 250 2.0.0 Ok
C MAIL FROM:<foo@vm>
C RCPT TO:<rcpt@example.com>
C RCPT TO:<rcpt@example.com>
C DATA
S 250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 go ahead
DATA
S 250 2.0.0 Ok: queued
C QUIT
S 221 Bye
EXPECT_EOF
`)
	sc.cfg.Messages, sc.cfg.Recipients = 2, 2
	sc.cfg.KeepOpen, sc.cfg.AllowReject = true, true
	res, err := Run(context.Background(), sc.cfg)
	if err != nil {
		t.Fatal(err)
	}
	sc.srv.Check(t)
	if res.Accepted != 1 || res.Failed != 1 {
		t.Errorf("accepted %d failed %d, want 1 1", res.Accepted,
			res.Failed)
	}
	want := []string{
		"sender rejected: 550 5.7.1 sender refused",
		"recipient rejected: 503 5.5.1 Error: need MAIL command",
		"recipient rejected: 503 5.5.1 Error: need MAIL command",
		"data rejected: 503 5.5.1 Error: need RCPT command",
	}
	if diff := cmp.Diff(want, sc.warned()); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

// Without -A the first refusal in a group is fatal, worded for its own
// command.
func TestPipelinedFatal(t *testing.T) {
	sc := newScripted(t, `S 220 mx.example.com ESMTP
C EHLO vm
S 250-mx.example.com\r\n250 PIPELINING
C MAIL FROM:<foo@vm>
C RCPT TO:<rcpt@example.com>
C DATA
S 250 2.1.0 Ok\r\n450 4.2.0 greylisted\r\n554 5.5.1 Error: no valid recipients
EXPECT_EOF
`)
	_, err := Run(context.Background(), sc.cfg)
	var f *Fatal
	if !errors.As(err, &f) ||
		f.Msg != "recipient rejected: 450 4.2.0 greylisted" {
		t.Fatalf("Run = %v, want the RCPT's fatal error", err)
	}
	sc.srv.Check(t)
}

// A 421 to the final dot loses the next message's envelope, which went
// out with the content: that message goes again, whole, on a new
// connection.
func TestPrimedEnvelopeLost(t *testing.T) {
	sc := newScripted(t, `S 220 mx.example.com ESMTP
C EHLO vm
S 250-mx.example.com\r\n250 PIPELINING
C MAIL FROM:<foo@vm>
C RCPT TO:<rcpt@example.com>
C DATA
S 250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go ahead
DATA
S 421 4.3.2 shutting down
CLOSE
`, scripttest.Conns(2))
	sc.cfg.Messages, sc.cfg.KeepOpen, sc.cfg.AllowReject = 2, true, true
	res, err := Run(context.Background(), sc.cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The script drops both connections the same way: each message is
	// refused once, the second one whole on the second connection.
	if res.Failed != 2 || res.Sessions != 2 {
		t.Errorf("failed %d over %d sessions, want 2 over 2", res.Failed,
			res.Sessions)
	}
	sc.srv.Check(t)
	first := string(sc.srv.Transcript(1))
	if !strings.HasSuffix(first, "\r\n.\r\nMAIL FROM:<foo@vm>\r\n"+
		"RCPT TO:<rcpt@example.com>\r\nDATA\r\n") {
		t.Errorf("first connection: %q, want the next envelope after "+
			"the content", first)
	}
	second := string(sc.srv.Transcript(2))
	if !strings.HasPrefix(second, "EHLO vm\r\nMAIL FROM:<foo@vm>\r\n"+
		"RCPT TO:<rcpt@example.com>\r\nDATA\r\n") {
		t.Errorf("second connection: %q, want the second message whole",
			second)
	}
	want := []string{
		"end of data rejected: 421 4.3.2 shutting down",
		"end of data rejected: 421 4.3.2 shutting down",
	}
	if diff := cmp.Diff(want, sc.warned()); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

// LMTP pipelines too: after the final dot one reply per accepted
// recipient, then the replies of the next message's group.
func TestPipelinedLMTP(t *testing.T) {
	fault, err := sink.ParseFault("rcpt:50%:550 5.1.1 no such user")
	if err != nil {
		t.Fatal(err)
	}
	addr, dir := startSink(t, sink.Config{LMTP: true, Seed: 7,
		Faults: []sink.Fault{fault}})
	w := &writes{}
	cfg := chunkConfig(t, addr, w)
	cfg.LMTP, cfg.Chunking, cfg.Pipelining = true, false, true
	cfg.Messages, cfg.Recipients, cfg.AllowReject = 20, 3, true
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(dumped(t, dir)); res.Accepted != int64(n) ||
		res.Accepted+res.Failed != 20 || res.Failed == 0 {
		t.Errorf("accepted %d failed %d, sink dumped %d: want 20 in "+
			"all, some refused, every accepted one dumped",
			res.Accepted, res.Failed, n)
	}
	// LHLO, one group, one write per message and QUIT; but a message
	// with no recipient accepted has its DATA refused and sends no
	// content, and RSET and a new group follow: one write more.
	rsets := 0
	for _, wr := range w.get() {
		if wr == "RSET\r\n" {
			rsets++
		}
	}
	if n := len(w.get()); n != 23+rsets {
		t.Errorf("%d writes with %d RSET, want %d", n, rsets, 23+rsets)
	}
}

// A refusal early in a pipelined group decides the message's outcome, as
// it would one command at a time: the 503 replies that follow from it,
// to RCPT after a refused MAIL and to DATA after every RCPT was refused,
// do not turn a temporary failure into a permanent one.
func TestPipelinedEarlyRefusalDecides(t *testing.T) {
	cases := []struct {
		name, replies string
		temp, perm    int64
	}{
		{"rcpt 450",
			`250 2.1.0 Ok\r\n450 4.2.0 try later\r\n` +
				`503 5.5.1 Error: need RCPT command`, 1, 0},
		{"mail 450",
			`450 4.3.2 not now\r\n503 5.5.1 Error: need MAIL ` +
				`command\r\n503 5.5.1 Error: need RCPT command`, 1, 0},
		{"mail 550",
			`550 5.7.1 no\r\n503 5.5.1 Error: need MAIL ` +
				`command\r\n503 5.5.1 Error: need RCPT command`, 0, 1},
		{"rcpt 550",
			`250 2.1.0 Ok\r\n550 5.1.1 no such user\r\n` +
				`503 5.5.1 Error: need RCPT command`, 0, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sc := newScripted(t, `S 220 mx.example.com ESMTP
C EHLO vm
S 250-mx.example.com\r\n250 PIPELINING
C MAIL FROM:<foo@vm>
C RCPT TO:<rcpt@example.com>
C DATA
S `+c.replies+`
C RSET
S 250 2.0.0 Ok
C QUIT
S 221 Bye
EXPECT_EOF
`)
			sc.cfg.AllowReject = true
			rec := metrics.New(time.Now())
			sc.cfg.Metrics = rec
			if _, err := Run(context.Background(), sc.cfg); err != nil {
				t.Fatal(err)
			}
			sc.srv.Check(t)
			rec.Tick(time.Now().Add(time.Second))
			m := rec.Result().Messages
			if m.TempFail != c.temp || m.PermFail != c.perm {
				t.Errorf("tempfail %d permfail %d, want %d %d",
					m.TempFail, m.PermFail, c.temp, c.perm)
			}
		})
	}
}
