package message

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// postfixSource is Postfix's smtp-source, the oracle of this package.
const postfixSource = "/usr/sbin/smtp-source"

// transaction is what a client sent in one mail transaction.
type transaction struct {
	rcpts []string
	data  string // between the 354 reply and the final ".\r\n"
}

// recorder is a minimal SMTP server on loopback that accepts everything
// and records each transaction, in the order they end.
type recorder struct {
	ln   net.Listener
	mu   sync.Mutex
	txns []transaction
	wg   sync.WaitGroup
}

// startRecorder listens on a free loopback port until the test ends.
func startRecorder(t *testing.T) *recorder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{ln: ln}
	r.wg.Add(1)
	go r.accept()
	t.Cleanup(func() {
		ln.Close()
		r.wg.Wait()
	})
	return r
}

func (r *recorder) accept() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			r.serve(bufio.NewReader(c), c)
		}()
	}
}

// serve runs one SMTP session; it ends at QUIT or on any error.
func (r *recorder) serve(br *bufio.Reader, w net.Conn) {
	reply := func(s string) bool {
		_, err := w.Write([]byte(s + "\r\n"))
		return err == nil
	}
	var txn transaction
	if !reply("220 recorder ESMTP") {
		return
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		verb := strings.ToUpper(strings.TrimRight(line, "\r\n"))
		switch {
		case strings.HasPrefix(verb, "RCPT TO:<"):
			addr := strings.TrimRight(line, "\r\n")[len("RCPT TO:<"):]
			txn.rcpts = append(txn.rcpts, strings.TrimSuffix(addr, ">"))
			reply("250 2.1.5 ok")
		case verb == "DATA":
			reply("354 go ahead")
			data, ok := readData(br)
			if !ok {
				return
			}
			txn.data = data
			r.mu.Lock()
			r.txns = append(r.txns, txn)
			r.mu.Unlock()
			txn = transaction{}
			reply("250 2.0.0 queued")
		case verb == "QUIT":
			reply("221 2.0.0 bye")
			return
		default:
			reply("250 ok")
		}
	}
}

// readData reads message content up to the line ".\r\n", which it drops.
func readData(br *bufio.Reader) (string, bool) {
	var b strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return "", false
		}
		if line == ".\r\n" {
			return b.String(), true
		}
		b.WriteString(line)
	}
}

// transactions returns what was recorded so far.
func (r *recorder) transactions() []transaction {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]transaction(nil), r.txns...)
}

var (
	dateLine = regexp.MustCompile(`\r\nDate: ([^\r\n]*)\r\n`)
	idLine   = regexp.MustCompile(`\r\nMessage-Id: <[0-9a-f]{4,}\.` +
		`[0-9a-f]{4,}\.[0-9a-f]{4,}@test\.example>\r\n`)
)

// normaliseID replaces a well-formed Message-Id by a fixed one; the
// values differ by design (see the package doc).
func normaliseID(content string) string {
	return idLine.ReplaceAllString(content,
		"\r\nMessage-Id: <ID@test.example>\r\n")
}

// Postfix's smtp-source is run against a recording server for several
// option sets; our Generator must produce the same recipients and the
// same content, apart from the Message-Id values.
func TestMatchesPostfixSmtpSource(t *testing.T) {
	if _, err := os.Stat(postfixSource); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI needs %s (Debian package postfix): %v",
				postfixSource, err)
		}
		t.Skipf("no %s: %v", postfixSource, err)
	}

	dir := t.TempDir()
	fileRaw := "Subject: t\n\n.leading dot\nline2\r\n..two\nnoeol"
	msgFile := filepath.Join(dir, "msg.eml")
	if err := os.WriteFile(msgFile, []byte(fileRaw), 0o644); err != nil {
		t.Fatal(err)
	}

	// For LF-only files our default differs from smtp-source only by
	// its extra empty line before the final dot (cases C10 and C12).
	dotsFile, err := filepath.Abs("testdata/file/msg-dots.eml")
	if err != nil {
		t.Fatal(err)
	}
	dotsRaw, err := LoadFile(dotsFile)
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		args []string
		msgs int
		edit func(*Config)
	}{
		{"default", nil, 1, func(*Config) {}},
		{"subject", []string{"-S", "Hello there"}, 1, func(c *Config) {
			c.Subject, c.HasSubject = "Hello there", true
		}},
		{"l200", []string{"-l", "200"}, 1, func(c *Config) {
			c.Length = 200
		}},
		{"l1", []string{"-l", "1"}, 1, func(c *Config) { c.Length = 1 }},
		{"l160", []string{"-l", "160"}, 1, func(c *Config) {
			c.Length = 160
		}},
		{"old mode", []string{"-o", "-S", "x"}, 1, func(c *Config) {
			c.OldMode = true
			c.Subject, c.HasSubject = "x", true
		}},
		{"file", []string{"-F", msgFile, "-S", "x"}, 1, func(c *Config) {
			c.File, c.HasFile = []byte(fileRaw), true
			c.Subject, c.HasSubject = "x", true
			c.PostfixFileCompat = true
		}},
		{"null sender", []string{"-f", ""}, 1, func(c *Config) {
			c.Sender = ""
		}},
		{"r3", []string{"-r", "3"}, 2, func(c *Config) {
			c.RcptCount, c.RcptSet = 3, true
		}},
		{"N r2 m2", []string{"-N", "-r", "2"}, 2, func(c *Config) {
			c.RcptCount, c.RcptSet, c.Numbered = 2, true, true
		}},
		{"N m3", []string{"-N"}, 3, func(c *Config) {
			c.Numbered = true
		}},
		{"no at", []string{"-t", "postmaster", "-r", "2"}, 1,
			func(c *Config) {
				c.Recipient = "postmaster"
				c.RcptCount, c.RcptSet = 2, true
			}},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := runPostfix(t, tc.args, tc.msgs)

			cfg := Config{
				Hostname:  "test.example",
				Sender:    "sender@example.org",
				Recipient: "rcpt@example.net",
				RcptCount: 1,
			}
			tc.edit(&cfg)
			compareWithPostfix(t, cfg, got)
		})
	}

	t.Run("file fixed", func(t *testing.T) {
		got := runPostfix(t, []string{"-F", dotsFile}, 1)
		data, ok := strings.CutSuffix(got[0].data, "\r\n\r\n")
		if !ok {
			t.Fatalf("no extra empty line at the end of %q", got[0].data)
		}
		got[0].data = data + "\r\n"

		compareWithPostfix(t, Config{
			Hostname:  "test.example",
			Sender:    "sender@example.org",
			Recipient: "rcpt@example.net",
			RcptCount: 1,
			File:      dotsRaw,
			HasFile:   true,
		}, got)
	})
}

// runPostfix runs smtp-source for msgs messages, one session, against a
// recorder, with a zone that has a half-hour offset, and returns what it
// sent.
func runPostfix(t *testing.T, extra []string, msgs int) []transaction {
	t.Helper()
	rec := startRecorder(t)

	args := []string{"-M", "test.example", "-f", "sender@example.org",
		"-t", "rcpt@example.net", "-m", strconv.Itoa(msgs)}
	args = append(args, extra...)
	args = append(args, rec.ln.Addr().String())

	ctx, cancel := context.WithTimeout(context.Background(),
		20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, postfixSource, args...)
	cmd.Env = append(os.Environ(), "TZ=XST-5:30")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("smtp-source %q: %v\n%s", args, err, out)
	}

	txns := rec.transactions()
	if len(txns) != msgs {
		t.Fatalf("recorded %d transactions, want %d", len(txns), msgs)
	}
	return txns
}

// compareWithPostfix checks that the Generator for cfg makes the
// recorded transactions, message i being seq i.
func compareWithPostfix(t *testing.T, cfg Config, got []transaction) {
	t.Helper()

	// smtp-source formats the date once; take it from the first message
	// so that the Date lines must match byte for byte.
	if m := dateLine.FindStringSubmatch(got[0].data); m != nil {
		d, err := time.Parse(DateLayout, m[1])
		if err != nil {
			t.Fatalf("smtp-source Date %q: %v", m[1], err)
		}
		cfg.Date = d
	}
	g := mustNew(t, cfg)

	for i, txn := range got {
		var rcpts []string
		for j := 0; j < g.RcptCount(); j++ {
			rcpts = append(rcpts,
				string(g.AppendRecipient(nil, int64(i), j)))
		}
		if diff := cmp.Diff(txn.rcpts, rcpts); diff != "" {
			t.Errorf("message %d recipients (-postfix +ours):\n%s",
				i, diff)
		}

		ours := string(g.AppendContent(nil, int64(i), 1))
		if !cfg.OldMode && !cfg.HasFile && !idLine.MatchString(ours) {
			t.Errorf("message %d: our Message-Id is malformed: %q",
				i, ours)
		}
		diff := cmp.Diff(normaliseID(txn.data), normaliseID(ours))
		if diff != "" {
			t.Errorf("message %d content (-postfix +ours):\n%s", i, diff)
		}
	}
}
