package scripttest

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/scripttest/cases"
)

// client is a hand-written raw SMTP client that follows a dialogue.
type client struct {
	t  *testing.T
	nc net.Conn
	r  *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	return &client{t: t, nc: nc, r: bufio.NewReader(nc)}
}

// talk dials addr, runs the dialogue and closes the connection.
func talk(t *testing.T, addr string, steps ...string) {
	t.Helper()
	c := dial(t, addr)
	c.run(steps...)
	c.nc.Close()
}

// run follows a dialogue, one step a string:
//
//	"> text"  send text and CRLF
//	"= text"  send text as it is
//	"< 250"   read one reply, of one line or more, with that code
//	"TLS"     client side of a handshake, dropping buffered plaintext
//	"TLS!"    a handshake that must fail
//	"EOF"     the server must close without sending anything more
//	"~ 200ms" pause
func (c *client) run(steps ...string) {
	c.t.Helper()
	for _, s := range steps {
		switch {
		case strings.HasPrefix(s, "> "):
			c.send(s[2:] + "\r\n")
		case strings.HasPrefix(s, "= "):
			c.send(s[2:])
		case strings.HasPrefix(s, "< "):
			if got := c.reply(); !strings.HasPrefix(got, s[2:]+" ") &&
				got != s[2:] {
				c.t.Fatalf("want reply %s, got %q", s[2:], got)
			}
		case s == "TLS" || s == "TLS!":
			c.handshake(s == "TLS")
		case strings.HasPrefix(s, "~ "):
			d, err := time.ParseDuration(s[2:])
			if err != nil {
				c.t.Fatal(err)
			}
			time.Sleep(d)
		case s == "EOF":
			if b, err := c.r.ReadByte(); !isEOF(err) {
				c.t.Fatalf("want EOF, got %q, %v", b, err)
			}
		default:
			c.t.Fatalf("bad dialogue step %q", s)
		}
	}
}

func (c *client) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.nc, s); err != nil {
		c.t.Fatal(err)
	}
}

// reply reads a reply and returns its last line without CRLF.
func (c *client) reply() string {
	c.t.Helper()
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("reading reply: %q, %v", line, err)
		}
		line = strings.TrimSuffix(line, "\r\n")
		if len(line) < 4 || line[3] != '-' {
			return line
		}
	}
}

func (c *client) handshake(ok bool) {
	c.t.Helper()
	tc := tls.Client(c.nc, &tls.Config{InsecureSkipVerify: true})
	err := tc.Handshake()
	if ok && err != nil {
		c.t.Fatalf("handshake: %v", err)
	}
	if !ok && err == nil {
		c.t.Fatal("handshake succeeded, want failure")
	}
	c.nc, c.r = tc, bufio.NewReader(tc) // drop buffered plaintext
}

// Pieces of dialogues.
var (
	hello = []string{"< 220", "> EHLO c.example.com", "< 250"}
	quit  = []string{"> QUIT", "< 221", "EOF"}
)

func txn(rcpts ...string) []string {
	d := []string{"> MAIL FROM:<sender@example.com>", "< 250"}
	for _, r := range rcpts {
		d = append(d, "> RCPT TO:<"+r+">", "< 250")
	}
	return append(d, "> DATA", "< 354", "= Subject: t\r\n\r\nhi\r\n.\r\n",
		"< 250")
}

func join(parts ...[]string) []string {
	var d []string
	for _, p := range parts {
		d = append(d, p...)
	}
	return d
}

// correct holds, for every case script, what a correct client says on
// each connection the script serves.
var correct = map[string][][]string{
	"accept": {join(hello, txn("a@example.com", "b@example.com"),
		txn("c@example.com"), []string{"> QUIT", "< 221"})},
	"c01-multiline-split": {join(hello, txn("rcpt@example.com"), quit)},
	"c02a-multiline-550": {join(hello,
		[]string{"> MAIL FROM:<sender@example.com>", "< 250",
			"> RCPT TO:<rcpt@example.com>", "< 550", "> RSET", "< 250"},
		txn("rcpt@example.com"), quit)},
	"c02b-mixed-codes": {{"< 521"}},
	"c04-421-after-2-msgs": {
		join(hello, txn("a@example.com"), txn("a@example.com"),
			[]string{"> MAIL FROM:<sender@example.com>", "< 421",
				"> QUIT", "EOF"}),
		join(hello, txn("a@example.com"), quit),
	},
	"c06a-no-pipelining": {join(hello, txn("a@example.com"), quit)},
	"c06b-pipelined-group": {join(hello, []string{
		"= MAIL FROM:<s@example.com>\r\nRCPT TO:<rcpt0@example.com>\r\n" +
			"RCPT TO:<rcpt1@example.com>\r\nDATA\r\n",
		"< 250", "< 550", "< 550", "< 554", "> RSET", "< 250",
		"= MAIL FROM:<s@example.com>\r\nRCPT TO:<rcpt0@example.com>\r\n" +
			"RCPT TO:<rcpt1@example.com>\r\nDATA\r\n",
		"< 250", "< 250", "< 250", "< 354", "= x\r\n.\r\n", "< 250"}, quit)},
	"c06c-data-354-no-rcpt": {join(hello, []string{
		"= MAIL FROM:<s@example.com>\r\nRCPT TO:<r@example.com>\r\nDATA\r\n",
		"< 250", "< 550", "< 354", "= .\r\n", "< 554", "> RSET", "< 250",
		"EOF"})},
	"c07-partial-rcpt": {join(hello, []string{
		"> MAIL FROM:<s@example.com>", "< 250",
		"> RCPT TO:<rcpt0@example.com>", "< 250",
		"> RCPT TO:<rcpt1@example.com>", "< 550",
		"> RCPT TO:<rcpt2@example.com>", "< 451",
		"> DATA", "< 354", "= x\r\n.\r\n", "< 250"}, quit)},
	"c08-quit-close": {join(hello, txn("a@example.com"),
		[]string{"> QUIT", "EOF"})},
	"c15-starttls-injection": {join(hello,
		[]string{"> STARTTLS", "< 220", "TLS", "> EHLO c.example.com",
			"< 250"}, txn("a@example.com"), quit)},
	"c16a-starttls-not-advertised": {
		join(hello, txn("a@example.com"), quit), // opportunistic
		join(hello, quit),                       // required
	},
	"c16b-handshake-garbage": {join(hello,
		[]string{"> STARTTLS", "< 220", "TLS!"})},
	"c16c-starttls-454": {
		join(hello, []string{"> STARTTLS", "< 454"}, txn("a@example.com"),
			quit),
		join(hello, []string{"> STARTTLS", "< 454"}, quit),
	},
	"c16d-tls-ok": {join(hello,
		[]string{"> STARTTLS", "< 220", "TLS", "> EHLO c.example.com",
			"< 250"}, txn("a@example.com"), quit)},
	"c18a-lmtp-partial": {{"< 220", "> LHLO c.example.com", "< 250",
		"> MAIL FROM:<s@example.com>", "< 250",
		"> RCPT TO:<rcpt0@example.com>", "< 250",
		"> RCPT TO:<rcpt1@example.com>", "< 550",
		"> RCPT TO:<rcpt2@example.com>", "< 250",
		"> DATA", "< 354", "= x\r\n.\r\n", "< 250", "< 452",
		"> QUIT", "< 221", "EOF"}},
	"c18b-lmtp-reuse": {join(
		[]string{"< 220", "> LHLO c.example.com", "< 250"},
		txn("a@example.com", "b@example.com"), []string{"< 250"},
		txn("a@example.com", "b@example.com"), []string{"< 250"},
		quit)},
}

// TestCasesCorrectClient checks that every case script, driven by a
// correct client, reports no deviation.
func TestCasesCorrectClient(t *testing.T) {
	t.Parallel()
	for _, name := range cases.Names() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			conns, ok := correct[name]
			if !ok {
				t.Fatal("no correct dialogue for this case")
			}
			srv := StartCase(t, name, Conns(len(conns)))
			for _, d := range conns {
				talk(t, srv.Addr, d...)
			}
			srv.Check(t)
		})
	}
}

// expect checks that devs holds exactly one deviation, of kind k at
// the given script line, whose message contains msg.
func expect(t *testing.T, devs []Deviation, k Kind, line int, msg string) {
	t.Helper()
	if len(devs) != 1 {
		t.Fatalf("want 1 deviation, got %d: %v", len(devs), devs)
	}
	d := devs[0]
	if d.Kind != k || d.Conn != 1 || d.Line != line ||
		!strings.Contains(d.Msg, msg) {
		t.Errorf("want conn 1 line %d %s %q, got %v", line, k, msg, d)
	}
}

func TestOffScript(t *testing.T) {
	t.Parallel()
	srv := StartCase(t, "c01-multiline-split")
	talk(t, srv.Addr, join(hello, []string{"> RSET", "EOF"})...)

	devs := srv.Wait()
	expect(t, devs, KindOffScript, 11, "expected command matching "+
		"`MAIL FROM:<sender@example.com>.*`, got `RSET`")
	want := "conn 1 line 11: OFF-SCRIPT: expected command matching " +
		"`MAIL FROM:<sender@example.com>.*`, got `RSET`"
	if got := devs[0].String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestEarlyTalker(t *testing.T) {
	t.Parallel()
	srv := StartCase(t, "c06a-no-pipelining")
	talk(t, srv.Addr, join(hello, []string{
		"= MAIL FROM:<s@example.com>\r\nRCPT TO:<r@example.com>\r\nDATA\r\n",
		"< 250", "< 250", "< 354", "= x\r\n.\r\n", "< 250"}, quit)...)

	// Talking early at MAIL and RCPT; by DATA it has nothing left to say.
	devs := srv.Wait()
	if len(devs) != 2 {
		t.Fatalf("want 2 deviations, got %v", devs)
	}
	for i, line := range []int{6, 9} {
		if d := devs[i]; d.Kind != KindEarlyTalker || d.Line != line {
			t.Errorf("deviation %d: want EARLY-TALKER at line %d, got %v",
				i, line, d)
		}
	}
	if !strings.Contains(devs[0].Msg, "`RCPT TO:<r@example.com>\\r\\nDATA`") {
		t.Errorf("deviation does not show the early bytes: %v", devs[0])
	}
}

// TestEarlyTalkerLate checks talk that arrives during ASSERT_SILENT, not
// before it.
func TestEarlyTalkerLate(t *testing.T) {
	t.Parallel()
	srv := StartCase(t, "c06a-no-pipelining")
	talk(t, srv.Addr, join(hello, []string{
		"> MAIL FROM:<s@example.com>", "~ 200ms", "> RCPT TO:<r@example.com>",
		"< 250", "< 250", "> DATA", "< 354", "= x\r\n.\r\n", "< 250"},
		quit)...)

	expect(t, srv.Wait(), KindEarlyTalker, 6,
		"client sent `RCPT TO:<r@example.com>` while the server still "+
			"owed a reply")
}

func TestPlaintextPipelinedAfterSTARTTLS(t *testing.T) {
	t.Parallel()
	srv := StartCase(t, "c16d-tls-ok")
	talk(t, srv.Addr, join(hello, []string{
		"= STARTTLS\r\nMAIL FROM:<evil@example.com>\r\n", "< 220", "TLS",
		"> EHLO c.example.com", "< 250"}, txn("a@example.com"), quit)...)

	expect(t, srv.Wait(), KindPlaintext, 8,
		"`MAIL FROM:<evil@example.com>` in plaintext")
}

func TestPlaintextInsteadOfHandshake(t *testing.T) {
	t.Parallel()
	srv := StartCase(t, "c16d-tls-ok")
	talk(t, srv.Addr, join(hello,
		[]string{"> STARTTLS", "< 220", "> EHLO c.example.com"})...)

	expect(t, srv.Wait(), KindPlaintext, 8,
		"expected a TLS handshake, got `EHLO `")
}

func TestForbiddenAfter421(t *testing.T) {
	t.Parallel()
	srv := StartCase(t, "c04-421-after-2-msgs")
	talk(t, srv.Addr, join(hello, txn("a@example.com"), txn("a@example.com"),
		[]string{"> MAIL FROM:<s@example.com>", "< 421", "> RSET", "EOF"})...)

	expect(t, srv.Wait(), KindForbidden, 28,
		"client sent `RSET` (matches `(MAIL|RSET|RCPT|DATA)`)")
}

func TestUnexpectedEOF(t *testing.T) {
	t.Parallel()
	srv := StartCase(t, "c07-partial-rcpt")
	talk(t, srv.Addr, join(hello, []string{"= MAIL FROM:<s@exa"})...)

	expect(t, srv.Wait(), KindEOF, 5, "expected command matching "+
		"`MAIL FROM:.*`, got `MAIL FROM:<s@exa` and then EOF")
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	srv := StartCase(t, "accept", Timeout(200*time.Millisecond))
	talk(t, srv.Addr, "< 220", "EOF")

	expect(t, srv.Wait(), KindTimeout, 4, "got nothing within 200ms")
}

func TestBareNewlineInData(t *testing.T) {
	t.Parallel()
	srv := StartCase(t, "accept", Capture)
	talk(t, srv.Addr, join(hello, []string{
		"> MAIL FROM:<s@example.com>", "< 250", "> RCPT TO:<r@example.com>",
		"< 250", "> DATA", "< 354",
		// The dot after the bare LF must not end the content.
		"= a\n.\r\nb\r\n.\r\n", "< 250", "> QUIT", "< 221"})...)

	expect(t, srv.Wait(), KindBareNewline, 15, "bare CR or LF in `a\\n`")
	if got := srv.RawBodies(); len(got) != 1 ||
		string(got[0]) != "a\n.\r\nb\r\n" {
		t.Errorf("raw bodies = %q", got)
	}
}

func TestNotServed(t *testing.T) {
	t.Parallel()
	srv := StartCase(t, "c02b-mixed-codes", Conns(2),
		WaitLimit(300*time.Millisecond))
	devs := srv.Wait()
	if len(devs) != 1 || devs[0].Kind != KindNotServed ||
		devs[0].String() != "server: NOT-SERVED: 0 of 2 connections "+
			"served within 300ms" {
		t.Errorf("got %v", devs)
	}
}

// TestBodies checks both forms of captured content against the fixtures.
func TestBodies(t *testing.T) {
	t.Parallel()
	wire := cases.File("expected/msg-dots.wire")
	srv := StartCase(t, "accept", Capture)
	talk(t, srv.Addr, join(hello, []string{
		"> MAIL FROM:<s@example.com>", "< 250", "> RCPT TO:<r@example.com>",
		"< 250", "> DATA", "< 354", "= " + string(wire) + ".\r\n", "< 250",
		"> MAIL FROM:<s@example.com>", "< 250", "> RCPT TO:<r@example.com>",
		"< 250", "> DATA", "< 354", "= .\r\n", "< 250",
		"> QUIT", "< 221"})...)
	srv.Check(t)

	eml := cases.File("msg-dots.eml")
	want := [][]byte{bytes.ReplaceAll(eml, []byte("\n"), []byte("\r\n")), {}}
	if got := srv.Bodies(); len(got) != 2 || !bytes.Equal(got[0], want[0]) ||
		len(got[1]) != 0 {
		t.Errorf("bodies = %q, want %q", got, want)
	}
	if got := srv.RawBodies(); len(got) != 2 || !bytes.Equal(got[0], wire) {
		t.Errorf("raw bodies = %q, want %q first", got, wire)
	}
}

func TestNoCaptureNoBodies(t *testing.T) {
	t.Parallel()
	srv := StartCase(t, "accept")
	talk(t, srv.Addr, join(hello, txn("a@example.com"),
		[]string{"> QUIT", "< 221"})...)
	srv.Check(t)
	if got := srv.Bodies(); got != nil {
		t.Errorf("bodies = %q without Capture", got)
	}
}

// TestRawSplits checks that each R step is its own write: the client
// holds the first part of the banner while the server still sleeps.
func TestRawSplits(t *testing.T) {
	t.Parallel()
	srv := StartCase(t, "c01-multiline-split")
	c := dial(t, srv.Addr)
	start := time.Now()

	buf := make([]byte, 100)
	n, err := c.nc.Read(buf)
	first := time.Since(start)
	if got := string(buf[:n]); err != nil ||
		got != "220-mx.example.com ESMTP test\r\n220-This server" {
		t.Fatalf("first read = %q, %v", got, err)
	}
	n, err = c.nc.Read(buf)
	second := time.Since(start)
	if got := string(buf[:n]); err != nil || got != " forbids bulk mail\r\n" {
		t.Fatalf("second read = %q, %v", got, err)
	}
	if first > 200*time.Millisecond || second-first < 200*time.Millisecond {
		t.Errorf("parts came at %v and %v, want < 0.2 s and 0.3 s apart",
			first, second)
	}

	c.run("< 220", "> EHLO c.example.com", "< 250")
	c.nc.Close()
	expect(t, srv.Wait(), KindEOF, 11, "got EOF")
}

func TestTranscript(t *testing.T) {
	t.Parallel()
	srv := StartCase(t, "c16d-tls-ok")
	talk(t, srv.Addr, correct["c16d-tls-ok"][0]...)
	srv.Check(t)

	got := string(srv.Transcript(1))
	want := "EHLO c.example.com\r\nSTARTTLS\r\nEHLO c.example.com\r\n" +
		"MAIL FROM:<sender@example.com>\r\n"
	if !strings.HasPrefix(got, want) || !strings.HasSuffix(got, "QUIT\r\n") {
		t.Errorf("transcript = %q", got)
	}
	if srv.Transcript(2) != nil {
		t.Error("transcript of a connection that never was")
	}
}

// TestConcurrent checks that Concurrent serves every connection at once:
// all banners arrive before any session ends.
func TestConcurrent(t *testing.T) {
	t.Parallel()
	srv := StartCase(t, "accept", Conns(3), Concurrent)
	var cs []*client
	for range 3 {
		c := dial(t, srv.Addr)
		c.nc.SetDeadline(time.Now().Add(2 * time.Second))
		c.run("< 220")
		cs = append(cs, c)
	}
	for _, c := range cs {
		c.run(join(hello[1:], txn("a@example.com"),
			[]string{"> QUIT", "< 221"})...)
		c.nc.Close()
	}
	srv.Check(t)
}

func TestCert(t *testing.T) {
	t.Parallel()
	srv := StartCase(t, "c16d-tls-ok")
	block, _ := pem.Decode(srv.CertPEM())
	if block == nil {
		t.Fatal("no PEM block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != CertName || len(cert.IPAddresses) != 0 {
		t.Errorf("subject %v, IP SANs %v", cert.Subject, cert.IPAddresses)
	}

	pool := x509.NewCertPool()
	pool.AddCert(cert)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool,
		DNSName: CertName}); err != nil {
		t.Errorf("verify as %s: %v", CertName, err)
	}
	_, err = cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "127.0.0.1"})
	var he x509.HostnameError
	if !errors.As(err, &he) {
		t.Errorf("verify as 127.0.0.1: %v, want a hostname error", err)
	}
}

func TestParse(t *testing.T) {
	s, err := Parse([]byte("# c\n\nR a\\tb\\\\c\\r\\n\\d\r\nS  two\n" +
		"LABEL x\nASSERT_NOT 0.5 MAIL|RSET\nBRANCH RCPT TO x\nGOTO x\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(s.steps[0].text); got != "a\tb\\c\r\n\\d" {
		t.Errorf("R text = %q", got)
	}
	if got := string(s.steps[1].text); got != " two\r\n" {
		t.Errorf("S text = %q", got)
	}
	not := s.steps[2]
	if not.d != 500*time.Millisecond || !not.re.MatchString("RSET") ||
		not.re.MatchString("XMAIL") {
		t.Errorf("ASSERT_NOT = %v %v", not.d, not.re)
	}
	br := s.steps[3]
	if br.to != 2 || !br.re.MatchString("RCPT TO:<a@b>") || br.pat != "RCPT TO" {
		t.Errorf("BRANCH = %d %q", br.to, br.pat)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ script, want string }{
		{"", "empty script"},
		{"S x\nHELLO\n", "line 2: unknown step \"HELLO\""},
		{"C (\n", "line 1: bad regex"},
		{"C\n", "line 1: missing regex"},
		{"SLEEP x\n", "line 1: bad seconds \"x\""},
		{"CLOSE now\n", "line 1: CLOSE takes no argument"},
		{"GOTO nowhere\n", "line 1: no label \"nowhere\""},
		{"LABEL a\nLABEL a\nS x\n", "line 2: bad or repeated label"},
		{"BRANCH x\n", "line 1: BRANCH needs a regex and a label"},
	} {
		_, err := Parse([]byte(tc.script))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want %q", tc.script, err, tc.want)
		}
	}
}

func TestEveryCaseParses(t *testing.T) {
	for _, name := range cases.Names() {
		if _, err := Parse(cases.Script(name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if cases.Script("nope") != nil || cases.File("nope.eml") != nil {
		t.Error("unknown fixtures are not nil")
	}
}
