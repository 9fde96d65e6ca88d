package sink

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var ehloDefault = []string{
	"250-smtp-sink",
	"250-PIPELINING",
	"250-8BITMIME",
	"250-AUTH PLAIN LOGIN",
	"250-XCLIENT NAME HELO",
	"250-XFORWARD NAME ADDR PROTO HELO",
	"250-ENHANCEDSTATUSCODES",
	"250-DSN",
	"250 ",
}

func TestDialogue(t *testing.T) {
	ts := startServer(t, Config{})
	c := dial(t, ts.addr)
	c.expect("220 smtp-sink ESMTP")
	c.send("EHLO client.example\r\n")
	c.expect(ehloDefault...)

	// Commands out of order, as smtp-sink answers them.
	c.send("RCPT TO:<b@example.com>\r\n")
	c.expect("503 5.5.1 Error: need MAIL command")
	c.send("DATA\r\n")
	c.expect("503 5.5.1 Error: need RCPT command")
	c.send("MAIL FROM:<a@example.com>\r\nMAIL FROM:<a@example.com>\r\n")
	c.expect("250 2.1.0 Ok", "503 5.5.1 Error: nested MAIL command")

	// A pipelined group gets all its replies.
	c.send("RCPT TO:<b@example.com>\r\nDATA\r\n")
	c.expect("250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>")
	c.send("Subject: x\r\n\r\n..dot\r\n.\r\n")
	c.expect("250 2.0.0 Ok")

	// Odd commands.
	c.send("\r\n \t\r\nCONNECT\r\nbdat 1\r\nSTARTTLS\r\n.\r\n")
	c.expect("500 5.5.2 Error: unknown command",
		"500 5.5.2 Error: unknown command",
		"500 5.5.1 Error: unknown command",
		"500 5.5.1 Error: unknown command",
		"500 5.5.1 Error: unknown command",
		"250 2.0.0 Ok")
	c.send("noop\r\nvrfy x\r\nAUTH LOGIN\r\nXCLIENT NAME=x\r\n" +
		"XFORWARD NAME=x\r\nRSET\r\nhelo x\r\nquit\r\n")
	c.expect("250 2.0.0 Ok", "250 2.0.0 Ok", "250 2.0.0 Ok",
		"250 2.0.0 Ok", "250 2.0.0 Ok", "250 2.1.0 Ok",
		"250 smtp-sink", "221 Bye")
	c.eof(2 * time.Second)

	st := ts.Stats()
	if st.Messages != 1 || st.Recipients != 1 || st.Quits != 1 {
		t.Errorf("stats %+v, want 1 message, 1 recipient, 1 quit", st)
	}
}

func TestBannerAndEhloOptions(t *testing.T) {
	cases := []struct {
		name   string
		cfg    Config
		banner string
		ehlo   []string // nil: EHLO is refused
	}{
		{"no esmtp", Config{NoESMTP: true}, "220 smtp-sink", nil},
		{"pix", Config{PIX: true}, "220 ********", nil},
		{"hostname", Config{Hostname: "mx.example", NoPipelining: true,
			No8BitMIME: true, NoAuth: true, NoXCLIENT: true,
			NoXFORWARD: true, NoEnhancedStatus: true, NoDSN: true},
			"220 mx.example ESMTP", []string{"250-mx.example", "250 "}},
		{"extensions", Config{NoDSN: true, Size: true, MaxSize: 1000,
			Chunking: true, SMTPUTF8: true},
			"220 smtp-sink ESMTP", append(append([]string{},
				ehloDefault[:7]...), "250-SIZE 1000", "250-CHUNKING",
				"250-SMTPUTF8", "250 ")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, tc.cfg)
			c := dial(t, ts.addr)
			c.expect(tc.banner)
			c.send("EHLO x\r\n")
			if tc.ehlo == nil {
				c.expect("500 5.5.1 Error: unknown command")
				return
			}
			c.expect(tc.ehlo...)
		})
	}
}

func TestDisabledCommands(t *testing.T) {
	ts := startServer(t, Config{NoXCLIENT: true, NoXFORWARD: true,
		NoAuth: true})
	c := dial(t, ts.addr)
	c.greet()
	c.send("XCLIENT NAME=x\r\nXFORWARD NAME=x\r\nAUTH PLAIN\r\n")
	c.expect("500 5.5.1 Error: unknown command",
		"500 5.5.1 Error: unknown command", "250 2.0.0 Ok")
}

// C18 (sink side): LMTP gives one reply per accepted recipient after
// the dot, also on a reused connection; HELO and EHLO get 5xx; a
// refused recipient means one reply fewer.
func TestLMTP(t *testing.T) {
	f, _ := ParseFault("rcpt:50%:550 5.1.1 No such user")
	ts := startServer(t, Config{LMTP: true, Faults: []Fault{f}, Seed: 3})
	c := dial(t, ts.addr)
	c.expect("220 smtp-sink ESMTP")
	c.send("HELO c\r\nEHLO c\r\nLHLO c\r\n")
	c.expect("500 5.5.1 Error: unknown command",
		"500 5.5.1 Error: unknown command")
	c.reply()

	refused := 0
	for msg := 0; msg < 3; msg++ {
		c.send("MAIL FROM:<s@example.com>\r\n")
		c.expect("250 2.1.0 Ok")
		accepted := 0
		for i := 0; i < 6; i++ {
			c.send("RCPT TO:<r@example.com>\r\n")
			switch r := c.line(); r {
			case "250 2.1.5 Ok":
				accepted++
			case "550 5.1.1 No such user":
				refused++
			default:
				t.Fatalf("RCPT reply %q", r)
			}
		}
		if accepted == 0 {
			c.send("RSET\r\n")
			c.expect("250 2.1.0 Ok")
			continue
		}
		c.send("DATA\r\n")
		c.expect("354 End data with <CR><LF>.<CR><LF>")
		c.send("x\r\n.\r\n")
		for i := 0; i < accepted; i++ {
			c.expect("250 2.2.0 Ok")
		}
		c.send("NOOP\r\n")
		c.expect("250 2.0.0 Ok") // and not one more 250 2.2.0
	}
	if refused == 0 || refused == 18 {
		t.Fatalf("%d of 18 recipients refused: the seed hits none or all",
			refused)
	}
}

// S02: only CR LF . CR LF ends the data, even when split across
// segments; the smuggling variants are message content.
func TestEndOfData(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, Config{Dump: DumpConfig{
		PerMessage: filepath.Join(dir, "m.")}})

	t.Run("split", func(t *testing.T) {
		c := dial(t, ts.addr)
		c.expect("220 smtp-sink ESMTP")
		c.send("HELO c\r\n")
		c.expect("250 smtp-sink")
		c.send("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n" +
			"DATA\r\n")
		c.expect("250 2.1.0 Ok", "250 2.1.5 Ok",
			"354 End data with <CR><LF>.<CR><LF>")
		c.send("Subject: s\r\n\r\nbody\r\n")
		c.quiet(50 * time.Millisecond)
		c.send(".")
		c.quiet(150 * time.Millisecond)
		c.send("\r")
		c.quiet(150 * time.Millisecond)
		c.send("\n")
		c.expect("250 2.0.0 Ok")
	})

	for _, v := range []string{"\n.\n", "\r\n.\n", "\n.\r\n", "\r.\r\n"} {
		t.Run(strings.NewReplacer("\r", "CR", "\n", "LF").Replace(v),
			func(t *testing.T) {
				before := ts.Stats().Messages
				c := dial(t, ts.addr)
				c.expect("220 smtp-sink ESMTP")
				c.send("HELO c\r\n")
				c.expect("250 smtp-sink")
				c.send("MAIL FROM:<a@example.com>\r\n" +
					"RCPT TO:<b@example.com>\r\nDATA\r\n")
				c.expect("250 2.1.0 Ok", "250 2.1.5 Ok",
					"354 End data with <CR><LF>.<CR><LF>")
				c.send("Subject: s\r\n\r\nline1" + v +
					"MAIL FROM:<x@example.com>\r\nRCPT TO:<y@example.com>" +
					"\r\nDATA\r\n\r\nline2\r\n.\r\n")
				c.expect("250 2.0.0 Ok")
				c.send("QUIT\r\n")
				c.expect("221 Bye")
				if n := ts.Stats().Messages - before; n != 1 {
					t.Fatalf("%d messages, want 1", n)
				}
			})
	}

	// Every message is stored with the smuggled lines as content.
	files, _ := filepath.Glob(filepath.Join(dir, "m.*"))
	if len(files) != 5 {
		t.Fatalf("%d dump files, want 5", len(files))
	}
	smuggled := 0
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if strings.Contains(string(b), "MAIL FROM:<x@example.com>\n") {
			smuggled++
		}
	}
	if smuggled != 4 {
		t.Errorf("%d dumps hold the smuggled commands, want 4", smuggled)
	}
}

// TestDumpFormat checks the -d file byte for byte.
func TestDumpFormat(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, Config{Hostname: "sink.example",
		Dump: DumpConfig{PerMessage: filepath.Join(dir, "%Y/m."),
			Prefix: "START\n"}})
	c := dial(t, ts.addr)
	c.expect("220 sink.example ESMTP")
	c.send("EHLO  \tclient\x01.example\r\n")
	c.reply()
	c.send("MAIL FROM: <a@example.com> SIZE=10\r\n" +
		"RCPT TO:<b@example.com>\r\nRCPT TO:<c@example.com> NOTIFY=NEVER" +
		"\r\nDATA\r\n")
	c.expect("250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.1.5 Ok",
		"354 End data with <CR><LF>.<CR><LF>")
	c.send(".first\r\n..second\r\nbare\rcr\r\nlf\n.\nend\r\n.\r\n")
	c.expect("250 2.0.0 Ok")

	// An aborted transaction leaves no file.
	c.send("MAIL FROM:<z@example.com>\r\nRSET\r\n")
	c.expect("250 2.1.0 Ok", "250 2.1.0 Ok")
	c.send("QUIT\r\n")
	c.expect("221 Bye")

	files, _ := filepath.Glob(filepath.Join(dir, "*", "m.*"))
	if len(files) != 1 {
		t.Fatalf("dump files %v, want one", files)
	}
	if !regexp.MustCompile(`/\d{4}/m\.[0-9a-f]{8}$`).MatchString(files[0]) {
		t.Errorf("dump file name %s", files[0])
	}
	b, _ := os.ReadFile(files[0])
	id := files[0][len(files[0])-8:]
	date := regexp.MustCompile(`\t([A-Z][a-z]{2}, [ 0-9]\d [A-Z][a-z]{2} ` +
		`\d{4} \d\d:\d\d:\d\d [-+]\d{4} \(.*\))\n`)
	m := date.FindStringSubmatch(string(b))
	if m == nil {
		t.Fatalf("no date line in\n%s", b)
	}
	want := "START\n" +
		"X-Client-Addr: 127.0.0.1\n" +
		"X-Client-Proto: ESMTP\n" +
		"X-Helo-Args: ?client?.example\n" +
		"X-Mail-Args: <a@example.com> SIZE=10\n" +
		"X-Rcpt-Args: <b@example.com>\n" +
		"X-Rcpt-Args: <c@example.com> NOTIFY=NEVER\n" +
		"Received: from ?client?.example ([127.0.0.1])\n" +
		"\tby sink.example (smtp-sink) with ESMTP id " + id + ";\n" +
		"\t" + m[1] + "\n" +
		"first\n.second\nbarecr\nlf\n.\nend\n\n"
	if string(b) != want {
		t.Errorf("dump\n%q\nwant\n%q", b, want)
	}
}

func TestSharedDump(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "dump")
	ts := startServer(t, Config{Dump: DumpConfig{Shared: path}})
	for i := 0; i < 3; i++ {
		c := dial(t, ts.addr)
		c.expect("220 smtp-sink ESMTP")
		c.send("MAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\n")
		c.expect("250 2.1.0 Ok", "250 2.1.5 Ok",
			"354 End data with <CR><LF>.<CR><LF>")
		c.send("m\r\n.\r\n")
		c.expect("250 2.0.0 Ok")
		c.send("MAIL FROM:<aborted>\r\n") // lost with the connection
		c.expect("250 2.1.0 Ok")
	}
	time.Sleep(100 * time.Millisecond)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "X-Client-Addr: 127.0.0.1\n"+
		"X-Client-Proto: SMTP\nX-Mail-Args: <a>\n"); n != 3 {
		t.Errorf("%d transactions in the dump, want 3:\n%s", n, b)
	}
	if strings.Contains(string(b), "aborted") {
		t.Errorf("aborted transaction in the dump:\n%s", b)
	}
	if !strings.Contains(string(b), "Received: from [127.0.0.1] "+
		"([127.0.0.1])\n") || !strings.HasSuffix(string(b), "\nm\n\n") {
		t.Errorf("dump:\n%s", b)
	}
}

func TestHostileInput(t *testing.T) {
	ts := startServer(t, Config{Timeout: time.Second})

	t.Run("line limit", func(t *testing.T) {
		c := dial(t, ts.addr)
		c.greet()
		c.send("NOOP " + strings.Repeat("x", maxLineLength-7) + "\r\n")
		c.expect("250 2.0.0 Ok")
		c.send("NOOP " + strings.Repeat("x", maxLineLength-6) + "\r\n")
		c.eof(2 * time.Second)
		if !strings.Contains(ts.logs.String(), "command line too long") {
			t.Errorf("no warning in %s", ts.logs)
		}
	})
	t.Run("endless line", func(t *testing.T) {
		c := dial(t, ts.addr)
		c.greet()
		c.send(strings.Repeat("y", maxLineLength+1))
		c.eof(2 * time.Second)
	})
	t.Run("bare LF and NUL", func(t *testing.T) {
		c := dial(t, ts.addr)
		c.greet()
		// One command: a bare LF does not end a line, and the text
		// after a NUL is dropped.
		c.send("NOOP a\nQUIT\r\nHELO x\x00QUIT\r\n")
		c.expect("250 2.0.0 Ok", "250 smtp-sink")
		c.send("\x00\r\n")
		c.expect("500 5.5.2 Error: unknown command")
	})
	t.Run("silent client", func(t *testing.T) {
		start := time.Now()
		c := dial(t, ts.addr)
		c.expect("220 smtp-sink ESMTP")
		c.eof(3 * time.Second)
		if d := time.Since(start); d < 800*time.Millisecond {
			t.Errorf("closed after %v, want about 1s", d)
		}
		if !strings.Contains(ts.logs.String(), "read timeout") {
			t.Errorf("no read timeout warning in %s", ts.logs)
		}
	})
	t.Run("client never reads", func(t *testing.T) {
		c := dial(t, ts.addr)
		noops := []byte(strings.Repeat("NOOP\r\n", 100000))
		c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		start := time.Now()
		for time.Since(start) < 8*time.Second {
			if _, err := c.conn.Write(noops); err != nil {
				break
			}
		}
		if d := time.Since(start); d > 8*time.Second {
			t.Fatalf("server still reading after %v", d)
		}
		if !strings.Contains(ts.logs.String(), "write timeout") {
			t.Errorf("no write timeout warning in %s", ts.logs)
		}
	})
	t.Run("still serving", func(t *testing.T) {
		c := dial(t, ts.addr)
		c.greet()
	})
}

// C15 (sink side): commands pipelined behind STARTTLS are dropped and
// the handshake forgets the session state.
func TestStartTLS(t *testing.T) {
	tc, err := TLSConfig("", "", "smtp-sink")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ts := startServer(t, Config{StartTLS: true, TLS: tc,
		Dump: DumpConfig{PerMessage: filepath.Join(dir, "m.")}})
	c := dial(t, ts.addr)
	c.expect("220 smtp-sink ESMTP")
	c.send("EHLO c.example.com\r\n")
	if r := c.reply(); r[len(r)-2] != "250-STARTTLS" {
		t.Fatalf("EHLO reply %q lacks STARTTLS", r)
	}
	c.send("STARTTLS\r\nMAIL FROM:<evil@example.com>\r\n")
	c.expect("220 2.0.0 Ready to start TLS")
	c.startTLS()
	c.send("EHLO c.example.com\r\n")
	r := c.reply()
	if strings.Contains(strings.Join(r, ","), "STARTTLS") {
		t.Errorf("STARTTLS offered under TLS: %q", r)
	}
	c.send("STARTTLS\r\n")
	c.expect("500 5.5.1 Error: unknown command")
	c.send("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n" +
		"DATA\r\n")
	c.expect("250 2.1.0 Ok", "250 2.1.5 Ok",
		"354 End data with <CR><LF>.<CR><LF>")
	c.send("x\r\n.\r\nQUIT\r\n")
	c.expect("250 2.0.0 Ok", "221 Bye")

	files, _ := filepath.Glob(filepath.Join(dir, "m.*"))
	if len(files) != 1 {
		t.Fatalf("dump files %v", files)
	}
	b, _ := os.ReadFile(files[0])
	if strings.Contains(string(b), "evil") ||
		!strings.Contains(string(b), "X-Client-Proto: ESMTPS\n") {
		t.Errorf("dump:\n%s", b)
	}
}

func TestImplicitTLS(t *testing.T) {
	tc, err := TLSConfig("", "", "smtp-sink")
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, Config{ImplicitTLS: true, TLS: tc})
	c := dial(t, ts.addr)
	c.startTLS()
	c.expect("220 smtp-sink ESMTP")
	c.send("EHLO x\r\n")
	c.expect(ehloDefault...)
}

func TestFaultOptions(t *testing.T) {
	var cfg Config
	cfg.Actions[CmdMail] = ActSoftReject
	cfg.Actions[CmdRcpt] = ActHardReject
	cfg.Actions[CmdRset] = ActClose
	cfg.SoftReply = "451 4.7.1 Later"
	ts := startServer(t, cfg)
	c := dial(t, ts.addr)
	c.greet()
	c.send("MAIL FROM:<a>\r\nRCPT TO:<b>\r\nRSET\r\nNOOP\r\n")
	c.expect("451 4.7.1 Later", "500 5.3.0 Error: command failed",
		"421 4.0.0 Server closing connection")
	c.eof(2 * time.Second)

	var cfg2 Config
	cfg2.Actions[CmdConnect] = ActDisconnect
	ts2 := startServer(t, cfg2)
	dial(t, ts2.addr).eof(2 * time.Second)

	var cfg3 Config
	cfg3.Actions[CmdConnect] = ActHardReject
	cfg3.Actions[CmdData] = ActDisconnect
	ts3 := startServer(t, cfg3)
	c3 := dial(t, ts3.addr)
	c3.expect("500 5.3.0 Error: command failed")
	c3.send("MAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\n")
	c3.expect("250 2.1.0 Ok", "250 2.1.5 Ok")
	c3.eof(2 * time.Second)
}

func TestDelays(t *testing.T) {
	var cfg Config
	cfg.Delays[CmdRcpt] = Delay{Delay: 300 * time.Millisecond}
	cfg.Abort, cfg.AbortWait = true, 200*time.Millisecond
	ts := startServer(t, cfg)
	c := dial(t, ts.addr)
	c.greet()
	c.send("MAIL FROM:<a>\r\n")
	c.expect("250 2.1.0 Ok")
	start := time.Now()
	c.send("RCPT TO:<b>\r\n")
	c.expect("250 2.1.5 Ok")
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("RCPT reply after %v, want 300ms", d)
	}
	c.send("DATA\r\n")
	c.expect("354 End data with <CR><LF>.<CR><LF>")
	start = time.Now()
	c.send("x\r\n.\r\n")
	c.expect("550 This violates SMTP")
	c.closed(2 * time.Second) // unread data: EOF or a reset
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("550 after %v, want 200ms", d)
	}
}

func TestPercentFaultsSeeded(t *testing.T) {
	f, err := ParseFault("rcpt:20%:450")
	if err != nil {
		t.Fatal(err)
	}
	run := func() string {
		ts := startServer(t, Config{Faults: []Fault{f}, Seed: 42})
		c := dial(t, ts.addr)
		c.greet()
		c.send("MAIL FROM:<a>\r\n")
		c.expect("250 2.1.0 Ok")
		var b strings.Builder
		for i := 0; i < 200; i++ {
			c.send("RCPT TO:<b>\r\n")
			switch r := c.line(); r {
			case "250 2.1.5 Ok":
				b.WriteByte('.')
			case "450 4.3.0 Error: command failed":
				b.WriteByte('x')
			default:
				t.Fatalf("reply %q", r)
			}
		}
		return b.String()
	}
	a, b := run(), run()
	if a != b {
		t.Errorf("same seed, different faults:\n%s\n%s", a, b)
	}
	if n := strings.Count(a, "x"); n < 20 || n > 65 {
		t.Errorf("%d of 200 replies hit, want about 40", n)
	}
}

func TestLimits(t *testing.T) {
	t.Run("-M", func(t *testing.T) {
		ts := startServer(t, Config{MaxMessages: 2})
		c := dial(t, ts.addr)
		c.greet()
		for i := 0; i < 2; i++ {
			c.send("MAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\n")
			c.expect("250 2.1.0 Ok", "250 2.1.5 Ok",
				"354 End data with <CR><LF>.<CR><LF>")
			c.send("x\r\n.\r\n")
			if i == 0 {
				c.expect("250 2.0.0 Ok")
			}
		}
		c.eof(2 * time.Second) // no reply to the last "."
		if err := waitDone(ts); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("-n", func(t *testing.T) {
		ts := startServer(t, Config{MaxQuits: 2})
		for i := 0; i < 2; i++ {
			c := dial(t, ts.addr)
			c.greet()
			c.send("QUIT\r\n")
			c.expect("221 Bye")
			c.eof(2 * time.Second)
		}
		if err := waitDone(ts); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("-m", func(t *testing.T) {
		ts := startServer(t, Config{MaxSessions: 1})
		c1 := dial(t, ts.addr)
		c1.greet()
		c2 := dial(t, ts.addr) // waits in the backlog
		c2.quiet(200 * time.Millisecond)
		c1.send("QUIT\r\n")
		c1.expect("221 Bye")
		c2.greet()
	})
}

func waitDone(ts *testServer) error {
	select {
	case err := <-ts.done:
		return err
	case <-time.After(3 * time.Second):
		return errTimeout
	}
}

var errTimeout = os.ErrDeadlineExceeded

// TestManySessions holds two thousand sessions open at once.
func TestManySessions(t *testing.T) {
	const n = 2000
	ts := startServer(t, Config{MaxSessions: n + 10})
	clients := make([]*client, 0, n)
	for i := 0; i < n; i++ {
		c := dial(t, ts.addr)
		c.expect("220 smtp-sink ESMTP")
		clients = append(clients, c)
	}
	if a := ts.Stats().Active; a != n {
		t.Errorf("%d active sessions, want %d", a, n)
	}
	for _, c := range clients {
		c.send("QUIT\r\n")
	}
	for _, c := range clients {
		c.expect("221 Bye")
	}
}

type syslogLines struct{ syncBuffer }

func (s *syslogLines) Info(m string) error {
	s.Write([]byte(m + "\n"))
	return nil
}

func TestSyslog(t *testing.T) {
	var lines syslogLines
	var cfg Config
	cfg.Syslog = &lines
	cfg.Actions[CmdConnect] = ActSyslog
	cfg.Actions[CmdMail] = ActSyslog | ActSoftReject
	ts := startServer(t, cfg)
	c := dial(t, ts.addr)
	c.greet()
	c.send("mail FROM:<a>\t" + strings.Repeat("x", 200) + "\r\n")
	c.expect(DefaultSoftReply)
	want := "connect \nmail FROM:<a>?" + strings.Repeat("x", 91) + "\n"
	if got := lines.String(); got != want {
		t.Errorf("syslog lines %q, want %q", got, want)
	}
}
