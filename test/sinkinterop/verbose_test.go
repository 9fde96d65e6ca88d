package sinkinterop_test

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/postfixtest"
)

// converse sends each segment after the replies to the one before have
// settled, and returns everything the server sent. Every segment must
// draw a reply or a close: the first byte may take 5 s on a busy
// machine, then 300 ms of quiet ends the wait.
func converse(t *testing.T, addr string, segments ...string) string {
	t.Helper()
	conn, err := net.DialTimeout("unix", strings.TrimPrefix(addr, "unix:"),
		5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var out strings.Builder
	read := func() {
		buf := make([]byte, 4096)
		wait := 5 * time.Second
		for {
			conn.SetReadDeadline(time.Now().Add(wait))
			n, err := conn.Read(buf)
			out.Write(buf[:n])
			if err != nil {
				return
			}
			wait = 300 * time.Millisecond
		}
	}
	read()
	for _, s := range segments {
		io.WriteString(conn, s)
		read()
	}
	return out.String()
}

// sinkLog is a sink's stderr without program names, Postfix's library
// debugging lines and our root warning.
func sinkLog(s string) string {
	var out []string
	for _, l := range strings.Split(postfixtest.NormalizeStderr(s), "\n") {
		if l == "" || strings.HasPrefix(l, "PROG: trying... ") ||
			strings.Contains(l, "running as root") {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// TestVerboseDifferential compares replies and the -v log of both
// sinks for raw dialogues, pipelined and hostile. The sinks listen on
// UNIX-domain sockets, which the harness sees listening without dialing
// (a dial would be one more session in the log).
func TestVerboseDifferential(t *testing.T) {
	long := "NOOP " + strings.Repeat("x", 3000) + "\r\n"
	cases := []struct {
		name     string
		sink     []string
		segments []string
	}{
		{"pipelined", nil, []string{"EHLO x\r\nMAIL FROM:<a>\r\n" +
			"RCPT TO:<b>\r\nDATA\r\n", "hi\r\n.\r\n.\r\n\r\nQUIT\r\n"}},
		{"-q rcpt", []string{"-q", "rcpt"}, []string{"HELO x\r\n" +
			"MAIL FROM:<a>\r\nRCPT TO:<b>\r\nNOOP\r\n"}},
		{"-Q mail", []string{"-Q", "mail"}, []string{"MAIL FROM:<a>\r\n"}},
		{"long line", nil, []string{long}},
		{"bare lf and nul", nil, []string{"NOOP a\nQUIT\r\n" +
			"HELO \x00x\r\nbogus\r\nQUIT\r\n"}},
		{"lmtp", []string{"-L"}, []string{"EHLO x\r\nLHLO x\r\n" +
			"MAIL FROM:<a>\r\nRCPT TO:<b>\r\nRCPT TO:<c>\r\nDATA\r\n",
			"x\r\n.\r\nQUIT\r\n"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var replies, logs [2]string
			var wg sync.WaitGroup
			for i, bin := range []string{postfixtest.SinkPath(t),
				postfixtest.SinkUnderTest(t)} {
				wg.Go(func() {
					s := postfixtest.StartSinkAt(t, bin,
						postfixtest.UnixSock, false,
						append([]string{"-v"}, c.sink...)...)
					replies[i] = converse(t, s.Addr, c.segments...)
					time.Sleep(100 * time.Millisecond)
					s.Stop()
					logs[i] = sinkLog(s.Stderr())
				})
			}
			wg.Wait()
			if replies[0] != replies[1] {
				t.Errorf("replies\n%q\nPostfix's\n%q", replies[1],
					replies[0])
			}
			if logs[0] != logs[1] {
				t.Errorf("-v log\n%s\nPostfix's\n%s", logs[1], logs[0])
			}
		})
	}
}
