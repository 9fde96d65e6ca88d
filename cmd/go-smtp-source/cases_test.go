package main

// The client side of the hard cases (see internal/scripttest/cases): each
// runs the whole command against a scripted server and checks its exit
// status, diagnostics, summary and the server's view of the dialogue.

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/scripttest"
	"github.com/go-smtp-source/go-smtp-source/internal/scripttest/cases"
)

// A reply timeout short enough that a client that waits for a reply that
// never comes fails fast, and long enough never to fire on loopback.
const shortTimeout = "2s"

// TestC01MultilineSplit: multi-line replies, split across writes and in
// the middle of a line, are read whole; HELO goes out once, only after
// the last banner line.
func TestC01MultilineSplit(t *testing.T) {
	script := string(cases.Script("c01-multiline-split"))
	// The same script, but the client must not talk while the server is
	// between the writes of a reply.
	silent := strings.ReplaceAll(script, "SLEEP", "ASSERT_SILENT")
	bare := strings.Replace(silent, `250 SIZE 10240000`,
		`250-SIZE 10240000\r\n250`, 1)
	if bare == silent {
		t.Fatal("c01 script changed: cannot make the bare 250 variant")
	}

	tests := []struct {
		name   string
		script string
		extra  []string
	}{
		{"helo", silent, nil},
		// The command sends EHLO only with --starttls; opportunistic
		// goes on in plain text here, where STARTTLS is not offered.
		{"ehlo", silent, []string{"--starttls=opportunistic"}},
		{"bare-250", bare, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startScript(t, tt.script)
			args := append([]string{"-m", "1", "-s", "1",
				"-f", "sender@example.com", "-t", "rcpt@example.com",
				"--reply-timeout", shortTimeout}, tt.extra...)
			r := runCmd(t, append(args, srv.Addr)...)
			r.check(t, want{counts: counts{accepted: 1, sessions: 1}})
			checkServer(t, srv)

			cmds := commands(srv.Transcript(1))
			if n := countPrefix(cmds, "HELO ") +
				countPrefix(cmds, "EHLO "); n != 1 {
				t.Errorf("%d HELO/EHLO commands, want 1: %q", n, cmds)
			}
		})
	}
}

// TestC01Load: the split-reply script under load, 200 sessions over 20
// at once. The pauses between the writes are shortened to keep the
// test fast; the writes stay separate.
func TestC01Load(t *testing.T) {
	script := strings.ReplaceAll(
		string(cases.Script("c01-multiline-split")),
		"SLEEP 0.3", "SLEEP 0.02")
	srv := startScript(t, script, scripttest.Conns(200),
		scripttest.Concurrent)
	r := runCmd(t, "-s", "20", "-m", "200", "-f", "sender@example.com",
		"-t", "rcpt@example.com", "--reply-timeout", shortTimeout,
		srv.Addr)
	r.check(t, want{counts: counts{accepted: 200, sessions: 200}})
	checkServer(t, srv)
}

// c02aLines is the text of the four-line 550 of case C02.
var c02aLines = []string{
	"5.1.1 The email account that you tried to reach does not exist. " +
		"Please try",
	"5.1.1 double-checking the recipient's email address for typos or",
	"5.1.1 unnecessary spaces.",
	"5.1.1 https://support.example.com/answer/6596 - gsmtp",
}

// TestC02aMultiline550: every line of a multi-line error is read before
// the next command, and the diagnostic shows all of it.
func TestC02aMultiline550(t *testing.T) {
	reject := "recipient rejected: 550 " + postfixReply(c02aLines...)

	t.Run("-A", func(t *testing.T) {
		srv := startCase(t, "c02a-multiline-550")
		r := runCmd(t, "-A", "-d", "-m", "2",
			"--reply-timeout", shortTimeout, srv.Addr)
		r.check(t, want{
			warnings: []string{reject},
			counts:   counts{accepted: 1, failed: 1, sessions: 1},
		})
		checkServer(t, srv)
	})

	t.Run("abort", func(t *testing.T) {
		srv := startCase(t, "c02a-multiline-550")
		r := runCmd(t, "-d", "-m", "2", "--reply-timeout", shortTimeout,
			srv.Addr)
		r.check(t, want{code: 1, fatal: reject,
			counts: counts{failed: 1, sessions: 1}})
		checkServer(t, srv, scripttest.KindEOF)
		if cmds := commands(srv.Transcript(1)); countPrefix(cmds,
			"RSET") != 0 {
			t.Errorf("RSET sent after a fatal reply: %q", cmds)
		}
	})
}

// TestC02bMixedCodes: a reply ends at the first line with a space after
// its code, whatever the codes before it; a 521 banner ends the session
// at once, without HELO, long before the server closes.
func TestC02bMixedCodes(t *testing.T) {
	reject := "rejected at server banner: 521 " + postfixReply(
		"mx.example.com ESMTP",
		"5.7.1 Service unavailable; client [127.0.0.1] blocked")

	tests := []struct {
		name  string
		conns int
		args  []string
		want  want
	}{
		{"abort", 1, []string{"-m", "1"}, want{code: 1, fatal: reject,
			counts: counts{failed: 1, sessions: 1}}},
		{"-A", 3, []string{"-A", "-m", "3"}, want{
			warnings: []string{reject, reject, reject},
			counts:   counts{failed: 3, sessions: 3}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // the server holds each connection 3 s
			srv := startCase(t, "c02b-mixed-codes",
				scripttest.Conns(tt.conns), scripttest.Concurrent)
			args := append(tt.args, "--banner-timeout", shortTimeout,
				"--reply-timeout", shortTimeout, srv.Addr)
			r := runCmd(t, args...)
			r.check(t, tt.want)
			if limit := 500 * time.Millisecond; r.elapsed > limit {
				t.Errorf("run took %v, want under %v", r.elapsed, limit)
			}

			checkServer(t, srv)
			for n := 1; n <= tt.conns; n++ {
				if tr := srv.Transcript(n); len(tr) != 0 {
					t.Errorf("conn %d: client sent %q, want nothing",
						n, tr)
				}
			}
		})
	}
}

// TestC04MaxMessages421: a 421 in the middle of a reused session ends
// that connection (no command after it) and the run goes on with a new
// one; the message the 421 answered is used up.
func TestC04MaxMessages421(t *testing.T) {
	reject := "sender rejected: 421 4.7.0 mx.example.com Maximum " +
		"message count per session reached, closing transmission channel"

	t.Run("-A", func(t *testing.T) {
		srv := startCase(t, "c04-421-after-2-msgs",
			scripttest.Conns(2))
		r := runCmd(t, "-A", "-d", "-s", "1", "-m", "4",
			"--reply-timeout", shortTimeout, srv.Addr)
		r.check(t, want{warnings: []string{reject},
			counts: counts{accepted: 3, failed: 1, sessions: 2}})
		checkServer(t, srv)
	})

	t.Run("abort", func(t *testing.T) {
		srv := startCase(t, "c04-421-after-2-msgs")
		r := runCmd(t, "-d", "-s", "1", "-m", "4",
			"--reply-timeout", shortTimeout, srv.Addr)
		r.check(t, want{code: 1, fatal: reject,
			counts: counts{accepted: 2, failed: 1, sessions: 1}})
		checkServer(t, srv)
	})
}

// c04IdleScript takes one message, then, when the client stays idle for
// the step timeout, sends a 421 of its own and closes. A client that
// says QUIT instead gets the 421 as its answer.
const c04IdleScript = `S 220 mx.example.com ESMTP
C (EHLO|HELO) .*
S 250 mx.example.com
C MAIL FROM:.*
S 250 2.1.0 Ok
C RCPT TO:.*
S 250 2.1.5 Ok
C DATA
S 354 go ahead
DATA
S 250 2.0.0 Ok: queued as B1
C? QUIT
S 421 4.4.2 mx.example.com Error: timeout exceeded
CLOSE
`

// TestC04IdleTimeout is variant B: the server drops an idle reused
// session with a 421 of its own. The 421 is reported against the next
// message and the run goes on over a new connection. The case's -w 3
// and 1 s idle time are scaled down to -w 1 and 0.5 s.
func TestC04IdleTimeout(t *testing.T) {
	t.Parallel() // mostly waiting
	srv := startScript(t, c04IdleScript, scripttest.Conns(2),
		scripttest.Concurrent, scripttest.Timeout(500*time.Millisecond))
	r := runCmd(t, "-A", "-d", "-s", "1", "-m", "3", "-w", "1",
		"--reply-timeout", shortTimeout, srv.Addr)
	r.check(t, want{
		warnings: []string{"sender rejected: 421 4.4.2 mx.example.com " +
			"Error: timeout exceeded"},
		counts: counts{accepted: 2, failed: 1, sessions: 2},
	})
	checkServer(t, srv)
}

// TestC06aNoPipelining: without PIPELINING advertised, each command waits
// for the reply to the one before, even with --pipelining.
func TestC06aNoPipelining(t *testing.T) {
	// The script wants EHLO: --starttls=opportunistic sends it and goes
	// on in plain text, where STARTTLS is not offered; --pipelining
	// sends it and must not pipeline, where PIPELINING is not offered.
	for _, opt := range []string{"--starttls=opportunistic",
		"--pipelining"} {
		t.Run(opt, func(t *testing.T) {
			srv := startCase(t, "c06a-no-pipelining")
			r := runCmd(t, opt, "-m", "1", "--reply-timeout",
				shortTimeout, srv.Addr)
			r.check(t, want{counts: counts{accepted: 1, sessions: 1}})
			checkServer(t, srv)
		})
	}
}

// TestC06bPipelinedGroup: a group whose recipients are all refused gets
// every reply read, a warning for each refusal, and RSET before the
// next MAIL, which then goes through.
func TestC06bPipelinedGroup(t *testing.T) {
	srv := startCase(t, "c06b-pipelined-group")
	r := runCmd(t, "--pipelining", "-A", "-d", "-r", "2", "-m", "2",
		"-t", "rcpt@example.com", "--reply-timeout", shortTimeout,
		srv.Addr)
	r.check(t, want{
		warnings: []string{
			"recipient rejected: 550 5.1.1 <rcpt0@example.com>: " +
				"Recipient address rejected: User unknown",
			"recipient rejected: 550 5.1.1 <rcpt1@example.com>: " +
				"Recipient address rejected: User unknown",
			"data rejected: 554 5.5.1 Error: no valid recipients",
		},
		counts: counts{accepted: 1, failed: 1, sessions: 1},
	})
	checkServer(t, srv)

	cmds := commands(srv.Transcript(1))
	if countPrefix(cmds, "RSET") != 1 || countPrefix(cmds, "MAIL") != 2 {
		t.Errorf("commands %q: want one RSET between two MAILs", cmds)
	}
}

// TestC06cData354NoRcpt: DATA answered 354 although no recipient was
// accepted gets the final dot alone, no content; its 554 is counted as
// a refusal.
func TestC06cData354NoRcpt(t *testing.T) {
	srv := startCase(t, "c06c-data-354-no-rcpt", scripttest.Capture)
	r := runCmd(t, "--pipelining", "-A", "-m", "1",
		"--reply-timeout", shortTimeout, srv.Addr)
	r.check(t, want{
		warnings: []string{
			"recipient rejected: 550 5.1.1 User unknown",
			"end of data rejected: 554 5.5.1 Error: no valid recipients",
		},
		counts: counts{failed: 1, sessions: 1},
	})
	checkServer(t, srv)

	raws := srv.RawBodies()
	if len(raws) != 1 || len(raws[0]) != 0 {
		t.Errorf("captured DATA %q, want one of 0 bytes", raws)
	}
}

// c07AllRefused answers every RCPT with 550 and wants RSET after them.
const c07AllRefused = `S 220 mx.example.com ESMTP
C (EHLO|HELO) .*
S 250 mx.example.com
C MAIL FROM:.*
S 250 2.1.0 Ok
LABEL rcpt
C RCPT TO:.*
S 550 5.1.1 User unknown
BRANCH RCPT rcpt
C RSET
S 250 2.0.0 Ok
C QUIT
S 221 Bye
CLOSE
`

// TestC07PartialRcpt: with -A a transaction with one accepted recipient
// goes on to DATA; refusals are warned about, 5xx and 4xx alike.
func TestC07PartialRcpt(t *testing.T) {
	unknown := "recipient rejected: 550 5.1.1 <rcpt1@example.com>: " +
		"Recipient address rejected: User unknown"
	greylisted := "recipient rejected: 451 4.7.1 <rcpt2@example.com>: " +
		"Recipient address rejected: Greylisted, try again later"
	// The script numbers recipients rcpt0, rcpt1, ... as Postfix 3.9.
	args := []string{"-r", "3", "-m", "1", "-t", "rcpt@example.com",
		"--numbering", "3.9"}

	t.Run("-A", func(t *testing.T) {
		srv := startCase(t, "c07-partial-rcpt")
		r := runCmd(t, append(args, "-A", srv.Addr)...)
		r.check(t, want{warnings: []string{unknown, greylisted},
			counts: counts{accepted: 1, sessions: 1}})
		checkServer(t, srv)
	})

	t.Run("abort", func(t *testing.T) {
		srv := startCase(t, "c07-partial-rcpt")
		r := runCmd(t, append(args, srv.Addr)...)
		r.check(t, want{code: 1, fatal: unknown,
			counts: counts{failed: 1, sessions: 1}})
		checkServer(t, srv, scripttest.KindEOF)
		cmds := commands(srv.Transcript(1))
		if countPrefix(cmds, "RCPT") != 2 || countPrefix(cmds,
			"DATA") != 0 {
			t.Errorf("want 2 RCPT and no DATA, got %q", cmds)
		}
	})

	t.Run("all-refused", func(t *testing.T) {
		srv := startScript(t, c07AllRefused)
		r := runCmd(t, append(args, "-A", srv.Addr)...)
		refused := "recipient rejected: 550 5.1.1 User unknown"
		r.check(t, want{warnings: []string{refused, refused, refused},
			counts: counts{failed: 1, sessions: 1}})
		checkServer(t, srv)
	})
}

// c08TLSScript is case C08 inside STARTTLS: QUIT is answered by a close
// without a TLS close_notify.
const c08TLSScript = `S 220 mx.example.com ESMTP
C EHLO .*
S 250-mx.example.com\r\n250 STARTTLS
C STARTTLS
S 220 2.0.0 Ready to start TLS
TLS
C EHLO .*
S 250 mx.example.com
C MAIL FROM:.*
S 250 2.1.0 Ok
C RCPT TO:.*
S 250 2.1.5 Ok
C DATA
S 354 go ahead
DATA
S 250 2.0.0 Ok: queued as Q1
C QUIT
CLOSE
`

// TestC08QuitClose: a server that closes instead of answering QUIT has
// still accepted the message (our documented choice), and no session
// waits for the missing 221.
func TestC08QuitClose(t *testing.T) {
	tests := []struct {
		name     string
		script   string
		sessions string
		messages int64
		extra    []string
	}{
		{"plain", string(cases.Script("c08-quit-close")), "10", 100, nil},
		{"tls", c08TLSScript, "5", 20, []string{"--starttls"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startScript(t, tt.script,
				scripttest.Conns(int(tt.messages)),
				scripttest.Concurrent)
			args := append([]string{"-s", tt.sessions,
				"-m", strconv.FormatInt(tt.messages, 10),
				"--reply-timeout", "1s"}, tt.extra...)
			r := runCmd(t, append(args, srv.Addr)...)
			r.check(t, want{counts: counts{accepted: tt.messages,
				sessions: tt.messages}})
			// Waiting out the reply timeout at each QUIT would take
			// messages/sessions seconds.
			if limit := 3 * time.Second; r.elapsed > limit {
				t.Errorf("run took %v, want under %v", r.elapsed, limit)
			}
			checkServer(t, srv)
		})
	}
}

// TestFileBytes covers C10 (dot-stuffing of -F files) and C12 (their
// line endings): the bytes between 354 and the final dot equal the
// .wire fixture exactly.
func TestFileBytes(t *testing.T) {
	tests := []struct {
		file  string
		extra []string
		wire  []byte
	}{
		{"msg-dots.eml", nil, cases.File("expected/msg-dots.wire")},
		{"lf.eml", nil, cases.File("expected/lf.wire")},
		{"crlf.eml", nil, cases.File("expected/crlf.wire")},
		{"nofinal.eml", nil, cases.File("expected/nofinal.wire")},
		{"mixed.eml", nil, cases.File("expected/mixed.wire")},
		{"barecr.eml", nil, cases.File("expected/barecr.wire")},
		// Documented: --postfix-file-bytes keeps smtp-source's extra
		// empty line before the final dot.
		{"lf.eml", []string{"--postfix-file-bytes"},
			append(cases.File("expected/lf.wire"), "\r\n"...)},
	}
	for _, tt := range tests {
		t.Run(strings.Join(append([]string{tt.file}, tt.extra...), " "),
			func(t *testing.T) {
				path := writeFile(t, tt.file, cases.File(tt.file))
				srv := startCase(t, "accept",
					scripttest.Capture)
				args := append([]string{"-F", path, "-m", "1"},
					tt.extra...)
				r := runCmd(t, append(args, srv.Addr)...)
				r.check(t, want{counts: counts{accepted: 1,
					sessions: 1}})
				checkServer(t, srv)

				raws := srv.RawBodies()
				if len(raws) != 1 {
					t.Fatalf("%d messages captured, want 1", len(raws))
				}
				if !bytes.Equal(raws[0], tt.wire) {
					t.Errorf("wire bytes:\n got %q\nwant %q", raws[0],
						tt.wire)
				}
				// One reply read after the dot: QUIT comes next.
				tr := srv.Transcript(1)
				if !bytes.HasSuffix(tr, []byte("\r\n.\r\nQUIT\r\n")) {
					t.Errorf("transcript does not end with the dot "+
						"and QUIT: %q", tr)
				}
			})
	}
}

// TestC15StartTLSInjection: plaintext after the 220 to STARTTLS is never
// read as a reply. The command refuses it (documented) before the
// handshake and sends nothing more.
func TestC15StartTLSInjection(t *testing.T) {
	srv := startCase(t, "c15-starttls-injection")
	r := runCmd(t, "--starttls", "-v", "-m", "1",
		"--reply-timeout", shortTimeout, srv.Addr)
	if r.code != 1 {
		t.Errorf("exit status %d, want 1", r.code)
	}
	r.checkFatal(t, want{fatalRE: `^STARTTLS: unexpected data after ` +
		`220 reply`})
	// Neither read as a reply (-v shows replies as "<<< ") nor taken
	// as one in a diagnostic.
	for _, l := range r.lines() {
		asReply := strings.HasPrefix(l, prog+": <<< ") ||
			strings.HasPrefix(l, warnPrefix) ||
			strings.HasPrefix(l, fatalPrefix)
		if asReply && strings.Contains(l, "INJECTED") {
			t.Errorf("injected bytes taken as a reply: %q", l)
		}
	}
	if got := r.summary(t); got != (counts{failed: 1, sessions: 1}) {
		t.Errorf("summary %+v, want failed=1 sessions=1", got)
	}

	checkServer(t, srv, scripttest.KindTLS, scripttest.KindPlaintext)
	re := regexp.MustCompile(`^EHLO \S+\r\nSTARTTLS\r\n$`)
	if tr := srv.Transcript(1); !re.Match(tr) {
		t.Errorf("client sent %q, want EHLO and STARTTLS only", tr)
	}
}

// TestC16StartTLSFailures: each way STARTTLS can fail, in required and
// opportunistic modes.
func TestC16StartTLSFailures(t *testing.T) {
	const (
		required      = "--starttls"
		opportunistic = "--starttls=opportunistic"
	)
	delivered := want{counts: counts{accepted: 1, sessions: 1}}
	failed := counts{failed: 1, sessions: 1}

	tests := []struct {
		name   string
		script string
		mode   string
		want   want
		noTLS  bool // STARTTLS must never be sent
	}{
		{"a-required", "c16a-starttls-not-advertised", required,
			want{code: 1, fatal: "STARTTLS not advertised by server",
				counts: failed}, true},
		{"a-opportunistic", "c16a-starttls-not-advertised",
			opportunistic, delivered, true},
		{"c-required", "c16c-starttls-454", required,
			want{code: 1, fatal: "STARTTLS rejected: 454 4.7.0 TLS " +
				"not available due to local problem",
				counts: failed}, false},
		{"c-opportunistic", "c16c-starttls-454", opportunistic,
			delivered, false},
		{"d-required", "c16d-tls-ok", required, delivered, false},
		{"d-opportunistic", "c16d-tls-ok", opportunistic, delivered,
			false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startCase(t, tt.script)
			r := runCmd(t, tt.mode, "-m", "1",
				"--reply-timeout", shortTimeout, srv.Addr)
			r.check(t, tt.want)
			checkServer(t, srv)

			cmds := commands(srv.Transcript(1))
			if tt.noTLS && countPrefix(cmds, "STARTTLS") != 0 {
				t.Errorf("STARTTLS sent though not offered: %q", cmds)
			}
			if countPrefix(cmds, "AUTH") != 0 {
				t.Errorf("AUTH sent: %q", cmds)
			}
			if strings.HasPrefix(tt.script, "c16d") && countPrefix(cmds,
				"EHLO ") != 2 {
				t.Errorf("want EHLO before and after TLS, got %q", cmds)
			}
		})
	}
}

// TestC16bHandshakeGarbage: plaintext where the ServerHello is due fails
// the session at once with a TLS error, in either mode, and no command
// follows on that socket.
func TestC16bHandshakeGarbage(t *testing.T) {
	for _, mode := range []string{"--starttls", "--starttls=opportunistic"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel() // the server holds the connection 1.2 s
			srv := startCase(t, "c16b-handshake-garbage")
			r := runCmd(t, mode, "-m", "1", "--reply-timeout", "1s",
				srv.Addr)
			r.check(t, want{code: 1,
				fatalRE: `^TLS handshake failed: .*(record|version)`,
				counts:  counts{failed: 1, sessions: 1}})
			if limit := time.Second; r.elapsed > limit {
				t.Errorf("run took %v, want under %v", r.elapsed, limit)
			}
			checkServer(t, srv)

			tr := srv.Transcript(1)
			after, ok := bytes.CutPrefix(tr, []byte("EHLO "))
			_, after, ok2 := bytes.Cut(after, []byte("\r\nSTARTTLS\r\n"))
			if !ok || !ok2 {
				t.Fatalf("want EHLO then STARTTLS, got %q", tr)
			}
			cmd := regexp.MustCompile(
				`(?m)^(EHLO|HELO|MAIL|RCPT|DATA|RSET|QUIT)\b`)
			if cmd.Match(after) {
				t.Errorf("plaintext command after STARTTLS: %q", after)
			}
		})
	}
}

// TestC18LMTP: after the final dot an LMTP client reads one reply per
// accepted recipient, no more, on fresh and reused connections.
func TestC18LMTP(t *testing.T) {
	t.Run("a-partial", func(t *testing.T) {
		srv := startCase(t, "c18a-lmtp-partial")
		r := runCmd(t, "-L", "-A", "-r", "3", "-m", "1",
			"-t", "rcpt@example.com", "--numbering", "3.9",
			"--reply-timeout", shortTimeout, srv.Addr)
		r.check(t, want{
			warnings: []string{
				"recipient rejected: 550 5.1.1 <rcpt1@example.com> " +
					"unknown user",
				"end of data rejected: 452 4.2.2 <rcpt2@example.com> " +
					"mailbox full",
			},
			counts: counts{accepted: 1, sessions: 1},
		})
		if limit := time.Second; r.elapsed > limit {
			t.Errorf("run took %v, want under %v", r.elapsed, limit)
		}
		checkServer(t, srv)
	})

	t.Run("b-reuse", func(t *testing.T) {
		srv := startCase(t, "c18b-lmtp-reuse")
		r := runCmd(t, "-L", "-d", "-m", "2", "-r", "2",
			"--reply-timeout", shortTimeout, srv.Addr)
		r.check(t, want{counts: counts{accepted: 2, sessions: 1}})
		if limit := time.Second; r.elapsed > limit {
			t.Errorf("run took %v, want under %v", r.elapsed, limit)
		}
		checkServer(t, srv)
	})
}
