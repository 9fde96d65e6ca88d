package sink

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

// The accounts of the AUTH tests. alice's password has a space and a
// colon, which the user file keeps.
const (
	alicePass = "s3cret: pass"
	bobPass   = "hunter2"
)

var testUsers = Users{"alice": alicePass, "bob": bobPass}

func b64(s string) string {
	return base64.StdEncoding.EncodeToString([]byte(s))
}

// authConfig is a sink with real AUTH.
func authConfig() Config {
	return Config{Users: testUsers}
}

// step is one client line and the one reply line it draws.
type step struct{ send, want string }

// run plays the steps in order.
func (c *client) run(steps []step) {
	c.t.Helper()
	for _, s := range steps {
		c.send(s.send + "\r\n")
		c.expect(s.want)
	}
}

const (
	rAuthOK  = "235 2.7.0 Authentication successful"
	rAuthBad = "535 5.7.8 Authentication credentials invalid"
	rCancel  = "501 5.7.0 Authentication cancelled"
	rBase64  = "501 5.5.2 Cannot decode response"
)

// TestAuthExchanges runs PLAIN and LOGIN with good and bad
// credentials, cancelled and malformed.
func TestAuthExchanges(t *testing.T) {
	plainAlice := b64("\x00alice\x00" + alicePass)
	cases := []struct {
		name     string
		steps    []step
		ok, fail int64 // the counts it leaves
	}{
		{"plain initial", []step{{"AUTH PLAIN " + plainAlice, rAuthOK}},
			1, 0},
		{"plain lower case", []step{{"auth plain " + plainAlice, rAuthOK}},
			1, 0},
		{"plain after 334", []step{{"AUTH PLAIN", "334 "},
			{plainAlice, rAuthOK}}, 1, 0},
		{"plain own authzid", []step{{"AUTH PLAIN " +
			b64("bob\x00bob\x00"+bobPass), rAuthOK}}, 1, 0},
		{"plain other authzid", []step{{"AUTH PLAIN " +
			b64("bob\x00alice\x00"+alicePass), rAuthBad}}, 0, 1},
		{"plain wrong password", []step{{"AUTH PLAIN " +
			b64("\x00alice\x00"+bobPass), rAuthBad}}, 0, 1},
		{"plain password prefix", []step{{"AUTH PLAIN " +
			b64("\x00alice\x00s3cret"), rAuthBad}}, 0, 1},
		{"plain unknown user", []step{{"AUTH PLAIN " +
			b64("\x00carol\x00"+bobPass), rAuthBad}}, 0, 1},
		{"plain no NUL", []step{{"AUTH PLAIN " + b64("alice"), rAuthBad}},
			0, 1},
		{"plain empty initial", []step{{"AUTH PLAIN =", rAuthBad}}, 0, 1},
		{"plain bad base64", []step{{"AUTH PLAIN %%%", rBase64}}, 0, 1},
		{"plain cancel", []step{{"AUTH PLAIN", "334 "}, {"*", rCancel}},
			0, 1},
		{"plain bad base64 after 334", []step{{"AUTH PLAIN", "334 "},
			{"AGFsaWNl!", rBase64}}, 0, 1},
		{"login", []step{{"AUTH LOGIN", "334 VXNlcm5hbWU6"},
			{b64("bob"), "334 UGFzc3dvcmQ6"}, {b64(bobPass), rAuthOK}},
			1, 0},
		{"login initial user", []step{{"AUTH LOGIN " + b64("alice"),
			"334 UGFzc3dvcmQ6"}, {b64(alicePass), rAuthOK}}, 1, 0},
		{"login wrong password", []step{{"AUTH LOGIN " + b64("alice"),
			"334 UGFzc3dvcmQ6"}, {b64(bobPass), rAuthBad}}, 0, 1},
		{"login cancel", []step{{"AUTH LOGIN", "334 VXNlcm5hbWU6"},
			{b64("bob"), "334 UGFzc3dvcmQ6"}, {"*", rCancel}}, 0, 1},
		{"login empty user", []step{{"AUTH LOGIN =",
			"334 UGFzc3dvcmQ6"}, {"", rAuthBad}}, 0, 1},
		{"no mechanism", []step{{"AUTH", "501 5.5.4 Syntax: AUTH " +
			"mechanism [initial-response]"}}, 0, 0},
		{"too many words", []step{{"AUTH PLAIN a b", "501 5.5.4 " +
			"Syntax: AUTH mechanism [initial-response]"}}, 0, 0},
		{"unknown mechanism", []step{{"AUTH DIGEST-MD5",
			"504 5.5.4 Unrecognized authentication type"}}, 0, 0},
		{"cram-md5 initial", []step{{"AUTH CRAM-MD5 " + b64("x"),
			"501 5.5.4 Error: CRAM-MD5 takes no initial response"}},
			0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, authConfig())
			c := dial(t, ts.addr)
			c.greet()
			c.run(tc.steps)
			// The session goes on after any of them.
			c.run([]step{{"NOOP", "250 2.0.0 Ok"}})
			st := ts.Stats()
			if st.Auths != tc.ok || st.AuthFailures != tc.fail {
				t.Errorf("counts auth=%d failed=%d, want %d and %d",
					st.Auths, st.AuthFailures, tc.ok, tc.fail)
			}
		})
	}
}

// cramResponse answers a CRAM-MD5 challenge line ("334 base64").
func cramResponse(t *testing.T, line, user, pass string) string {
	t.Helper()
	chal, err := base64.StdEncoding.DecodeString(
		strings.TrimPrefix(line, "334 "))
	if err != nil || !strings.HasPrefix(line, "334 ") {
		t.Fatalf("challenge %q: %v", line, err)
	}
	mac := hmac.New(md5.New, []byte(pass))
	mac.Write(chal)
	return b64(user + " " + hex.EncodeToString(mac.Sum(nil)))
}

func TestAuthCRAMMD5(t *testing.T) {
	ts := startServer(t, authConfig())
	challenges := map[string]bool{}
	try := func(pass, want string) {
		t.Helper()
		c := dial(t, ts.addr)
		c.greet()
		c.send("AUTH CRAM-MD5\r\n")
		line := c.line()
		chal, _ := base64.StdEncoding.DecodeString(line[4:])
		if !strings.HasPrefix(string(chal), "<") ||
			!strings.HasSuffix(string(chal), "@smtp-sink>") {
			t.Errorf("challenge %q is not RFC 2195's <...@host>", chal)
		}
		if challenges[string(chal)] {
			t.Errorf("challenge %q came twice", chal)
		}
		challenges[string(chal)] = true
		c.run([]step{{cramResponse(t, line, "alice", pass), want}})
	}
	try(alicePass, rAuthOK)
	try(bobPass, rAuthBad)
	try("", rAuthBad)

	// Upper-case hex is the same digest.
	c := dial(t, ts.addr)
	c.greet()
	c.send("AUTH CRAM-MD5\r\n")
	resp, _ := base64.StdEncoding.DecodeString(
		cramResponse(t, c.line(), "bob", bobPass))
	c.run([]step{{b64("bob " + strings.ToUpper(string(resp[4:]))), rAuthOK}})

	// No space, a cancel.
	c = dial(t, ts.addr)
	c.greet()
	c.send("AUTH CRAM-MD5\r\n")
	c.line()
	c.run([]step{{b64("alice"), rAuthBad}})
	c.send("AUTH CRAM-MD5\r\n")
	c.line()
	c.run([]step{{"*", rCancel}})

	if st := ts.Stats(); st.Auths != 2 || st.AuthFailures != 4 {
		t.Errorf("counts %+v, want 2 auths and 4 failures", st)
	}
}

// TestAuthSession checks AUTH's place in the session: once only, not
// in a transaction, kept through RSET and EHLO, needed for MAIL with
// AuthRequired.
func TestAuthSession(t *testing.T) {
	cfg := authConfig()
	cfg.AuthRequired = true
	ts := startServer(t, cfg)
	c := dial(t, ts.addr)
	c.expect("220 smtp-sink ESMTP")
	c.send("EHLO x\r\n")
	if r := c.reply(); !slices.Contains(r,
		"250-AUTH PLAIN LOGIN CRAM-MD5") {
		t.Errorf("EHLO reply %q lacks the real AUTH keyword", r)
	}
	plain := "AUTH PLAIN " + b64("\x00bob\x00"+bobPass)
	c.run([]step{
		{"MAIL FROM:<a>", "530 5.7.0 Authentication required"},
		{"RCPT TO:<b>", "503 5.5.1 Error: need MAIL command"},
		{"AUTH PLAIN " + b64("\x00bob\x00x"), rAuthBad},
		{"MAIL FROM:<a>", "530 5.7.0 Authentication required"},
		{plain, rAuthOK},
		{plain, "503 5.5.1 Error: already authenticated"},
		{"AUTH LOGIN", "503 5.5.1 Error: already authenticated"},
		{"RSET", "250 2.1.0 Ok"},
		{"MAIL FROM:<a>", "250 2.1.0 Ok"},
		{"RSET", "250 2.1.0 Ok"},
		{"HELO x", "250 smtp-sink"},
		{"MAIL FROM:<a>", "250 2.1.0 Ok"},
		{"RCPT TO:<b>", "250 2.1.5 Ok"},
	})

	// Not during a transaction, even on a fresh session.
	c2 := dial(t, ts.addr)
	c2.greet()
	c2.run([]step{{plain, rAuthOK}})
	c3 := dial(t, startServer(t, authConfig()).addr)
	c3.greet()
	c3.run([]step{{"MAIL FROM:<a>", "250 2.1.0 Ok"}, {plain,
		"503 5.5.1 Error: MAIL transaction in progress"}})
}

// TestAuthUnannounced checks that -a hides the real AUTH, which still
// works.
func TestAuthUnannounced(t *testing.T) {
	cfg := authConfig()
	cfg.NoAuth = true
	ts := startServer(t, cfg)
	c := dial(t, ts.addr)
	c.expect("220 smtp-sink ESMTP")
	c.send("EHLO x\r\n")
	if r := strings.Join(c.reply(), "\n"); strings.Contains(r, "AUTH") {
		t.Errorf("AUTH announced with NoAuth:\n%s", r)
	}
	c.run([]step{{"AUTH PLAIN " + b64("\x00bob\x00"+bobPass), rAuthOK}})
}

// TestAuthStartTLS checks that STARTTLS forgets AUTH, and that AUTH
// pipelined behind STARTTLS in plain text is thrown away (RFC 3207
// section 4.2, CVE-2011-0411).
func TestAuthStartTLS(t *testing.T) {
	tc, err := TLSConfig("", "", "smtp-sink")
	if err != nil {
		t.Fatal(err)
	}
	cfg := authConfig()
	cfg.StartTLS, cfg.TLS, cfg.AuthRequired = true, tc, true
	ts := startServer(t, cfg)
	plain := "AUTH PLAIN " + b64("\x00alice\x00"+alicePass)

	t.Run("forgotten", func(t *testing.T) {
		c := dial(t, ts.addr)
		c.greet()
		c.run([]step{{plain, rAuthOK}})
		c.run([]step{{"STARTTLS", "220 2.0.0 Ready to start TLS"}})
		c.startTLS()
		c.send("EHLO x\r\n")
		c.reply()
		c.run([]step{
			{"MAIL FROM:<a>", "530 5.7.0 Authentication required"},
			{plain, rAuthOK},
			{"MAIL FROM:<a>", "250 2.1.0 Ok"},
		})
	})
	t.Run("injected", func(t *testing.T) {
		c := dial(t, ts.addr)
		c.greet()
		c.send("STARTTLS\r\n" + plain + "\r\n")
		c.expect("220 2.0.0 Ready to start TLS")
		c.startTLS()
		c.send("EHLO x\r\n")
		c.reply()
		c.run([]step{
			{"MAIL FROM:<a>", "530 5.7.0 Authentication required"},
		})
	})
	if st := ts.Stats(); st.Auths != 2 {
		t.Errorf("%d auths, want 2 (the injected one must not run)",
			st.Auths)
	}
}

// TestAuthTLSOnly checks that AUTH is neither offered nor taken
// before TLS.
func TestAuthTLSOnly(t *testing.T) {
	tc, err := TLSConfig("", "", "smtp-sink")
	if err != nil {
		t.Fatal(err)
	}
	cfg := authConfig()
	cfg.StartTLS, cfg.TLS, cfg.AuthTLSOnly = true, tc, true
	ts := startServer(t, cfg)
	c := dial(t, ts.addr)
	c.expect("220 smtp-sink ESMTP")
	c.send("EHLO x\r\n")
	if r := strings.Join(c.reply(), "\n"); strings.Contains(r, "AUTH") {
		t.Errorf("AUTH offered in plain text:\n%s", r)
	}
	plain := "AUTH PLAIN " + b64("\x00alice\x00"+alicePass)
	c.run([]step{{plain, "538 5.7.11 Encryption required for " +
		"requested authentication mechanism"}})
	c.run([]step{{"STARTTLS", "220 2.0.0 Ready to start TLS"}})
	c.startTLS()
	c.send("EHLO x\r\n")
	if r := c.reply(); !slices.Contains(r,
		"250-AUTH PLAIN LOGIN CRAM-MD5") {
		t.Errorf("AUTH not offered under TLS: %q", r)
	}
	c.run([]step{{plain, rAuthOK}})
	if st := ts.Stats(); st.Auths != 1 || st.AuthFailures != 0 {
		t.Errorf("counts %+v, want 1 auth and no failure", st)
	}
}

// TestAuthLineLimit checks the bound on a SASL response line.
func TestAuthLineLimit(t *testing.T) {
	ts := startServer(t, authConfig())
	c := dial(t, ts.addr)
	c.greet()

	// The longest response taken, CR LF included, and valid base64
	// just under it.
	c.run([]step{{"AUTH PLAIN", "334 "},
		{strings.Repeat("A", maxAuthLine-2), rBase64}})
	c.run([]step{{"AUTH PLAIN", "334 "},
		{strings.Repeat("A", maxAuthLine-4), rAuthBad}})

	c.run([]step{{"AUTH PLAIN", "334 "}})
	c.send(strings.Repeat("A", maxAuthLine-1) + "\r\n")
	c.expect("500 5.5.6 Authentication Exchange line is too long")
	c.eof(2 * time.Second)
	if st := ts.Stats(); st.AuthFailures != 3 {
		t.Errorf("%d failures, want 3", st.AuthFailures)
	}

	// The AUTH line itself keeps smtp-sink's limit.
	c = dial(t, ts.addr)
	c.greet()
	c.send("AUTH PLAIN " + strings.Repeat("A", maxLineLength) + "\r\n")
	c.eof(2 * time.Second)
}

// TestAuthNeverLogged runs every mechanism with -v and -s, and a
// failed and a cancelled exchange, then looks for the passwords in
// every encoding the dialogue carried them.
func TestAuthNeverLogged(t *testing.T) {
	tc, err := TLSConfig("", "", "smtp-sink")
	if err != nil {
		t.Fatal(err)
	}
	sys := &syslogLines{}
	cfg := authConfig()
	cfg.Verbose, cfg.Syslog, cfg.StartTLS, cfg.TLS = true, sys, true, tc
	cfg.Actions[CmdAuth] = ActSyslog
	ts := startServer(t, cfg)

	plain := b64("\x00alice\x00" + alicePass)
	badPlain := b64("\x00alice\x00" + bobPass)
	c := dial(t, ts.addr)
	c.greet()
	c.run([]step{{"AUTH PLAIN " + badPlain, rAuthBad},
		{"AUTH LOGIN " + b64("bob"), "334 UGFzc3dvcmQ6"},
		{b64(alicePass), rAuthBad},
		{"AUTH PLAIN", "334 "}, {"*", rCancel},
		{"AUTH LOGIN", "334 VXNlcm5hbWU6"}, {b64("bob"),
			"334 UGFzc3dvcmQ6"}, {b64(bobPass), rAuthOK}})
	c.send("AUTH CRAM-MD5 x\r\n")
	c.line()

	c = dial(t, ts.addr)
	c.greet()
	c.send("AUTH CRAM-MD5\r\n")
	cram := cramResponse(t, c.line(), "alice", alicePass)
	c.run([]step{{cram, rAuthOK}})

	c = dial(t, ts.addr)
	c.greet()
	c.run([]step{{"STARTTLS", "220 2.0.0 Ready to start TLS"}})
	c.startTLS()
	c.send("EHLO x\r\n")
	c.reply()
	c.run([]step{{"AUTH PLAIN " + plain, rAuthOK}, {"QUIT", "221 Bye"}})
	c.eof(2 * time.Second)

	logs := ts.logs.String() + "\n" + sys.String()
	secrets := []string{alicePass, bobPass, plain, badPlain,
		b64(alicePass), b64(bobPass), cram, "s3cret", "hunter2"}
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("logs hold %q:\n%s", s, logs)
		}
	}
	for _, want := range []string{`msg="AUTH PLAIN [redacted]"`,
		`msg="AUTH LOGIN [redacted]"`, `msg="AUTH CRAM-MD5"`,
		`msg="AUTH CRAM-MD5 [redacted]"`, "msg=*\n",
		"msg=[redacted]\n"} {
		if !strings.Contains(ts.logs.String(), want) {
			t.Errorf("-v log lacks %q:\n%s", want, ts.logs)
		}
	}
	if !strings.HasPrefix(sys.String(), "AUTH PLAIN [redacted]\n") {
		t.Errorf("syslog lines:\n%s", sys)
	}
}

// TestFakeAuthNeverLogged checks that smtp-sink's AUTH, without a user
// file, keeps the initial response out of the logs too.
func TestFakeAuthNeverLogged(t *testing.T) {
	ts := startServer(t, Config{Verbose: true})
	c := dial(t, ts.addr)
	c.greet()
	secret := b64("\x00alice\x00" + alicePass)
	c.run([]step{{"AUTH PLAIN " + secret, "250 2.0.0 Ok"},
		{"AUTH " + b64("alice"), "250 2.0.0 Ok"},
		{"AUTH LOGIN", "250 2.0.0 Ok"}})
	logs := ts.logs.String()
	for _, s := range []string{secret, b64("alice")} {
		if strings.Contains(logs, s) {
			t.Errorf("logs hold %q:\n%s", s, logs)
		}
	}
	for _, want := range []string{"msg=\"AUTH PLAIN [redacted]\"",
		"msg=\"AUTH [redacted]\"", "msg=\"AUTH LOGIN\""} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	if st := ts.Stats(); st.RealAuth || st.Auths != 0 ||
		strings.Contains(st.String(), "auth") {
		t.Errorf("fake AUTH counted: %+v %q", st, st.String())
	}
}

func TestAuthSummary(t *testing.T) {
	st := Stats{RealAuth: true, Auths: 3, AuthFailures: 1}
	if s := st.String(); !strings.HasSuffix(s, " auth=3 auth-failed=1") {
		t.Errorf("summary %q lacks the AUTH counts", s)
	}
}

func TestAuthConfigErrors(t *testing.T) {
	tc, err := TLSConfig("", "", "smtp-sink")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		cfg Config
		ok  bool
	}{
		{Config{AuthRequired: true}, false},
		{Config{AuthTLSOnly: true, StartTLS: true, TLS: tc}, false},
		{Config{Users: testUsers, AuthTLSOnly: true}, false},
		{Config{Users: testUsers, AuthTLSOnly: true, StartTLS: true,
			TLS: tc}, true},
		{Config{Users: testUsers, AuthTLSOnly: true, ImplicitTLS: true,
			TLS: tc}, true},
		{Config{Users: testUsers, AuthRequired: true}, true},
	}
	for i, c := range cases {
		_, err := New(c.cfg, nil)
		if (err == nil) != c.ok {
			t.Errorf("case %d: New error %v, want ok=%v", i, err, c.ok)
		}
	}
}

func TestParseUsers(t *testing.T) {
	good := "# test accounts\r\nalice:s3cret: pass\r\n\n  # indented\n" +
		"bob:hunter2\nempty:\n"
	u, err := ParseUsers(strings.NewReader(good))
	want := Users{"alice": "s3cret: pass", "bob": "hunter2", "empty": ""}
	if err != nil || len(u) != len(want) {
		t.Fatalf("ParseUsers = %v, %v; want %v", u, err, want)
	}
	for k, v := range want {
		if u[k] != v {
			t.Errorf("user %q: password %q, want %q", k, u[k], v)
		}
	}

	bad := []struct{ in, err string }{
		{"alice\n", "line 1: no colon"},
		{"# x\n:pw\n", "line 2: empty user name"},
		{"a:1\nb:2\na:3\n", `line 3: user "a" again`},
		{"# nobody\n\n", "no users"},
	}
	for _, b := range bad {
		_, err := ParseUsers(strings.NewReader(b.in))
		if err == nil || err.Error() != b.err {
			t.Errorf("ParseUsers(%q) error %v, want %q", b.in, err,
				b.err)
		}
	}
	if _, err := LoadUsers(t.TempDir() + "/none"); err == nil ||
		!strings.HasPrefix(err.Error(), "auth users: ") {
		t.Errorf("LoadUsers of a missing file: %v", err)
	}
}

// TestAuthSteadyStateAllocs checks that an authenticated session's
// transactions cost no allocation, with the user list configured.
func TestAuthSteadyStateAllocs(t *testing.T) {
	cfg := authConfig()
	cfg.AuthRequired = true
	srv, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	head := "EHLO x\r\nAUTH PLAIN " + b64("\x00bob\x00"+bobPass) + "\r\n"
	allocs := func(n int) float64 {
		return testing.AllocsPerRun(5, func() {
			runSession(srv, &fakeConn{r: newRepeater(head, transaction,
				"QUIT\r\n", n), w: io.Discard})
		})
	}
	few, many := allocs(10), allocs(1010)
	if per := (many - few) / 1000; per > 0.01 {
		t.Errorf("%.3f allocations per transaction, want 0", per)
	}
	if st := srv.Stats(); st.Messages == 0 || st.Auths == 0 {
		t.Errorf("no authenticated transaction ran: %+v", st)
	}
}
