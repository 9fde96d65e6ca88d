package main

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
	"github.com/go-smtp-source/go-smtp-source/internal/scripttest"
	"github.com/go-smtp-source/go-smtp-source/internal/sink"
	"github.com/go-smtp-source/go-smtp-source/internal/sink/sinktest"
)

// TestC16dVerify: --tls-verify checks the server's certificate against
// the system's roots or --tls-ca, for the target's host or for
// --tls-server-name. The kit's certificate is self-signed, for
// mx.example.com only.
func TestC16dVerify(t *testing.T) {
	failed := counts{failed: 1, sessions: 1}
	const noIPSANs = `^TLS handshake failed: .*cannot validate ` +
		`certificate for 127\.0\.0\.1 because it doesn't contain any ` +
		`IP SANs$`
	tests := []struct {
		name string
		args []string // "CA" stands for the certificate's file
		want want
	}{
		{"verify", []string{"--tls-verify"}, want{code: 1,
			fatalRE: noIPSANs, counts: failed}},
		{"verify-servername", []string{"--tls-verify",
			"--tls-server-name", scripttest.CertName}, want{code: 1,
			fatalRE: `^TLS handshake failed: .*certificate signed by ` +
				`unknown authority$`, counts: failed}},
		{"verify-ca", []string{"--tls-verify", "--tls-ca", "CA"},
			want{code: 1, fatalRE: noIPSANs, counts: failed}},
		{"verify-ca-servername", []string{"--tls-verify", "--tls-ca",
			"CA", "--tls-server-name", scripttest.CertName},
			want{counts: counts{accepted: 1, sessions: 1}}},
		// Without --tls-verify any name will do.
		{"servername", []string{"--tls-server-name", "x.example.net"},
			want{counts: counts{accepted: 1, sessions: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startCase(t, "c16d-tls-ok")
			ca := writeFile(t, "ca.pem", srv.CertPEM())
			args := []string{"--starttls", "-m", "1",
				"--reply-timeout", shortTimeout}
			for _, a := range tt.args {
				args = append(args, strings.ReplaceAll(a, "CA", ca))
			}
			r := runCmd(t, append(args, srv.Addr)...)
			r.check(t, tt.want)

			// A refused certificate ends the handshake: the
			// server sees an alert, and no command follows.
			checkServer(t, srv, scripttest.KindTLS, scripttest.KindEOF)
			cmds := commands(srv.Transcript(1))
			if tt.want.code != 0 && len(cmds) != 2 {
				t.Errorf("commands %q, want EHLO and STARTTLS", cmds)
			}
		})
	}
}

// authTxn is what follows a successful AUTH in the scripts below: one
// message and QUIT.
const authTxn = `C MAIL FROM:.*
S 250 2.1.0 Ok
C RCPT TO:.*
S 250 2.1.5 Ok
C DATA
S 354 go ahead
DATA
S 250 2.0.0 Ok: queued
C QUIT
S 221 Bye
CLOSE
`

// authEHLO greets and offers three mechanisms.
const authEHLO = `S 220 mx.example.com ESMTP
C EHLO .*
S 250-mx.example.com\r\n250-AUTH PLAIN LOGIN CRAM-MD5\r\n250 8BITMIME
`

const (
	authUser  = "load@example.com"
	authPass  = "s3cret pässword"
	cramNonce = "<42.1764777600@mx.example.com>"
)

func b64(s string) string {
	return base64.StdEncoding.EncodeToString([]byte(s))
}

// cramResponse is the CRAM-MD5 answer to cramNonce (RFC 2195).
func cramResponse() string {
	h := hmac.New(md5.New, []byte(authPass))
	h.Write([]byte(cramNonce))
	return authUser + " " + hex.EncodeToString(h.Sum(nil))
}

// secrets are the forms of the password an exchange carries, none of
// which may show in -v output.
func secrets() []string {
	return []string{authPass, b64(authPass),
		b64("\x00" + authUser + "\x00" + authPass), b64(cramResponse())}
}

// TestAuthMechanisms: each mechanism, named or picked from the EHLO
// list, against a scripted server that checks every line; the -v
// transcript shows the exchange with the credentials redacted.
func TestAuthMechanisms(t *testing.T) {
	q := regexp.QuoteMeta
	plain := "C AUTH PLAIN " + q(b64("\x00"+authUser+"\x00"+authPass)) +
		"\nS 235 2.7.0 Authentication successful\n"
	tests := []struct {
		name, mech, script string
		trace              []string // -v lines, in order
	}{
		{"auto", "", plain, []string{"AUTH PLAIN [redacted]",
			"<<< 235 2.7.0 Authentication successful"}},
		{"plain", "plain", plain, []string{"AUTH PLAIN [redacted]"}},
		{"login", "LOGIN", "C AUTH LOGIN\nS 334 VXNlcm5hbWU6\nC " +
			q(b64(authUser)) + "\nS 334 UGFzc3dvcmQ6\nC " +
			q(b64(authPass)) + "\nS 235 2.7.0 ok\n",
			[]string{"AUTH LOGIN", "<<< 334 VXNlcm5hbWU6", "[redacted]",
				"<<< 334 UGFzc3dvcmQ6", "[redacted]", "<<< 235 2.7.0 ok"}},
		{"cram-md5", "cram-md5", "C AUTH CRAM-MD5\nS 334 " +
			b64(cramNonce) + "\nC " + q(b64(cramResponse())) +
			"\nS 235 2.7.0 ok\n", []string{"AUTH CRAM-MD5",
			"<<< 334 " + b64(cramNonce), "[redacted]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startScript(t, authEHLO+tt.script+authTxn)
			args := []string{"-v", "-m", "1", "--auth-user", authUser,
				"--auth-password", authPass}
			if tt.mech != "" {
				args = append(args, "--auth", tt.mech)
			}
			r := runCmd(t, append(args, srv.Addr)...)
			r.checkFatal(t, want{})
			if got := r.summary(t); got != (counts{accepted: 1,
				sessions: 1}) {
				t.Errorf("summary %+v, want one accepted", got)
			}
			checkServer(t, srv)
			checkTrace(t, r, tt.trace)
		})
	}
}

// checkTrace checks that the -v lines hold want in order, and no form
// of the password anywhere on stderr.
func checkTrace(t *testing.T, r result, want []string) {
	t.Helper()
	got := r.diagnostics(prog + ": ")
	i := 0
	for _, l := range got {
		if i < len(want) && l == want[i] {
			i++
		}
	}
	if i < len(want) {
		t.Errorf("-v output lacks %q (in order):\n%s", want[i:],
			strings.Join(got, "\n"))
	}
	for _, s := range secrets() {
		if strings.Contains(r.stderr, s) {
			t.Errorf("stderr shows %q:\n%s", s, r.stderr)
		}
	}
}

// TestAuthPasswordSources: the password comes from the command line,
// an environment variable or a file (its final newline is not part of
// it); all three send the same AUTH PLAIN.
func TestAuthPasswordSources(t *testing.T) {
	t.Setenv("GST_TEST_PASSWORD", authPass)
	file := writeFile(t, "password", []byte(authPass+"\n"))
	script := authEHLO + "C AUTH PLAIN " +
		regexp.QuoteMeta(b64("\x00"+authUser+"\x00"+authPass)) +
		"\nS 235 2.7.0 ok\n" + authTxn
	for _, src := range [][]string{
		{"--auth-password", authPass},
		{"--auth-password-env", "GST_TEST_PASSWORD"},
		{"--auth-password-file", file},
	} {
		t.Run(src[0], func(t *testing.T) {
			srv := startScript(t, script)
			args := append([]string{"-m", "1", "--auth-user",
				authUser}, src...)
			r := runCmd(t, append(args, srv.Addr)...)
			r.check(t, want{counts: counts{accepted: 1, sessions: 1}})
			checkServer(t, srv)
		})
	}
}

// TestAuthRejected: a refused AUTH is a negative reply as any other,
// fatal without -A; with -A a warning, and the message fails with its
// session, ended by QUIT.
func TestAuthRejected(t *testing.T) {
	const refusal = "535 5.7.8 Error: authentication failed: bad"
	refuse := authEHLO + "C AUTH PLAIN .*\nS " + refusal + "\n"
	args := []string{"--auth-user", authUser, "--auth-password",
		authPass, "--reply-timeout", shortTimeout}

	t.Run("fatal", func(t *testing.T) {
		srv := startScript(t, refuse+"EXPECT_EOF\n")
		r := runCmd(t, append(args, "-m", "1", srv.Addr)...)
		r.check(t, want{code: 1,
			fatal:  "authentication rejected: " + refusal,
			counts: counts{failed: 1, sessions: 1}})
		checkServer(t, srv)
	})
	t.Run("-A", func(t *testing.T) {
		srv := startScript(t, refuse+"C QUIT\nS 221 Bye\nCLOSE\n",
			scripttest.Conns(2))
		r := runCmd(t, append(args, "-A", "-m", "2", srv.Addr)...)
		r.check(t, want{
			warnings: []string{"authentication rejected: " + refusal,
				"authentication rejected: " + refusal},
			counts: counts{failed: 2, sessions: 2}})
		checkServer(t, srv)
	})
}

// TestAuthNotOffered: AUTH asked for but not advertised, or none of
// the mechanisms offered that we speak, or not the one asked for.
func TestAuthNotOffered(t *testing.T) {
	tests := []struct{ name, ehlo, mech, fatal string }{
		{"no AUTH", "250 mx.example.com", "",
			"AUTH not advertised by server"},
		{"unknown only", "250-mx.example.com\\r\\n250 AUTH GSSAPI", "",
			"no supported AUTH mechanism offered by server: GSSAPI"},
		{"not this one", "250-mx.example.com\\r\\n250 AUTH PLAIN",
			"cram-md5", "AUTH CRAM-MD5 not offered by server: PLAIN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startScript(t, "S 220 mx.example.com ESMTP\n"+
				"C EHLO .*\nS "+tt.ehlo+"\nC QUIT\nS 221 Bye\nCLOSE\n")
			args := []string{"-m", "1", "--auth-user", authUser,
				"--auth-password", authPass}
			if tt.mech != "" {
				args = append(args, "--auth", tt.mech)
			}
			r := runCmd(t, append(args, srv.Addr)...)
			r.check(t, want{code: 1, fatal: tt.fatal,
				counts: counts{failed: 1, sessions: 1}})
			checkServer(t, srv)
		})
	}
}

// TestAuthAfterStartTLS: with both asked for, AUTH comes after TLS and
// the second EHLO, chosen from what that EHLO offers.
func TestAuthAfterStartTLS(t *testing.T) {
	srv := startScript(t, `S 220 mx.example.com ESMTP
C EHLO .*
S 250-mx.example.com\r\n250 STARTTLS
C STARTTLS
S 220 2.0.0 Ready to start TLS
TLS
C EHLO .*
S 250-mx.example.com\r\n250 AUTH LOGIN
C AUTH LOGIN
S 334 VXNlcm5hbWU6
C .*
S 334 UGFzc3dvcmQ6
C .*
S 235 2.7.0 ok
`+authTxn)
	r := runCmd(t, "--starttls", "-m", "1", "--auth-user", authUser,
		"--auth-password", authPass, srv.Addr)
	r.check(t, want{counts: counts{accepted: 1, sessions: 1}})
	checkServer(t, srv)
}

// TestEHLOOption: --ehlo greets with EHLO where HELO is the default.
func TestEHLOOption(t *testing.T) {
	srv := startScript(t, "S 220 mx.example.com ESMTP\nC EHLO .*\n"+
		"S 250 mx.example.com\n"+authTxn)
	r := runCmd(t, "--ehlo", "-m", "1", srv.Addr)
	r.check(t, want{counts: counts{accepted: 1, sessions: 1}})
	checkServer(t, srv)
}

// startTLSSink runs go-smtp-sink in-process with STARTTLS offered, or
// with implicit TLS, and its self-signed certificate.
func startTLSSink(t *testing.T, implicit bool) string {
	t.Helper()
	return startSinkWith(t, sink.Config{StartTLS: !implicit,
		ImplicitTLS: implicit})
}

// startSinkWith runs go-smtp-sink in-process with cfg and a
// self-signed certificate.
func startSinkWith(t *testing.T, cfg sink.Config) string {
	t.Helper()
	tc, err := sink.TLSConfig("", "", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	cfg.TLS = tc
	_, addr := sinktest.Start(t, cfg)
	return addr
}

// TestAuthAgainstSink authenticates to go-smtp-sink's real AUTH, which
// takes it only under TLS and requires it before MAIL, with each
// mechanism over several sessions.
func TestAuthAgainstSink(t *testing.T) {
	addr := startSinkWith(t, sink.Config{StartTLS: true,
		Users: sink.Users{authUser: authPass}, AuthRequired: true,
		AuthTLSOnly: true})
	auth := []string{"--auth-user", authUser, "--auth-password",
		authPass}

	for _, mech := range []string{"plain", "login", "cram-md5", "auto"} {
		t.Run(mech, func(t *testing.T) {
			args := append([]string{"--starttls", "-s", "2", "-m", "10",
				"--auth", mech}, auth...)
			res := runForResult(t, append(args, addr)...)
			if res.Messages.Accepted != 10 ||
				res.Phase(metrics.Auth).Count != 10 ||
				res.Replies["AUTH 235"] != 10 {
				t.Errorf("accepted %d, auth phase %d, replies %v; "+
					"want 10 authenticated", res.Messages.Accepted,
					res.Phase(metrics.Auth).Count, res.Replies)
			}
		})
	}

	t.Run("wrong password", func(t *testing.T) {
		r := runCmd(t, "--starttls", "-m", "1", "--auth-user", authUser,
			"--auth-password", "wrong", addr)
		r.check(t, want{code: 1, fatal: "authentication rejected: " +
			"535 5.7.8 Authentication credentials invalid",
			counts: counts{failed: 1, sessions: 1}})
	})
	t.Run("no TLS", func(t *testing.T) {
		r := runCmd(t, append([]string{"-m", "1"},
			append(auth, addr)...)...)
		r.check(t, want{code: 1, fatal: "AUTH not advertised by server",
			counts: counts{failed: 1, sessions: 1}})
	})
}

// TestTLSResume: with --tls-resume every handshake resumes a TLS
// session but those made before the shared cache held one: at least the
// first, at most the first of each of the 2 -s slots. Without it none
// resumes. The result counts them.
func TestTLSResume(t *testing.T) {
	for _, mode := range []string{"--starttls", "--smtps"} {
		addr := startTLSSink(t, mode == "--smtps")
		for _, resume := range []bool{false, true} {
			name := fmt.Sprintf("%s resume=%v", mode, resume)
			t.Run(name, func(t *testing.T) {
				args := []string{mode, "-s", "2", "-m", "20", addr}
				if resume {
					args = append([]string{"--tls-resume"}, args...)
				}
				res := runForResult(t, args...)
				checkTLSCounts(t, res, 20)
				lo, hi := int64(0), int64(0)
				if resume {
					lo, hi = 18, 19
				}
				if got := res.TLS.Resumed; got < lo || got > hi {
					t.Errorf("%d resumed, want %d to %d", got, lo, hi)
				}
			})
		}
	}
}

// checkTLSCounts checks that every message had its TLS handshake.
func checkTLSCounts(t *testing.T, res *metrics.Result, n int64) {
	t.Helper()
	if res.Messages.Accepted != n {
		t.Errorf("accepted %d, want %d", res.Messages.Accepted, n)
	}
	if got := res.TLS.Handshakes(); got != n {
		t.Errorf("%d TLS handshakes, want %d: %+v", got, n, res.TLS)
	}
	if got := res.Phase(metrics.StartTLS).Count; got != n {
		t.Errorf("starttls phase count %d, want %d", got, n)
	}
}

// TestTLSVersionAndCiphers: the version and cipher options reach the
// handshake, and the result and summary count what was negotiated.
func TestTLSVersionAndCiphers(t *testing.T) {
	addr := startTLSSink(t, false)
	const suite = "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"
	res := runForResult(t, "--starttls", "--tls-max-version", "1.2",
		"--tls-ciphers", suite, "-m", "3", addr)
	checkTLSCounts(t, res, 3)
	if got := res.TLS.Versions["TLS 1.2"]; got != 3 {
		t.Errorf("versions %v, want TLS 1.2 3", res.TLS.Versions)
	}
	if got := res.TLS.Ciphers[suite]; got != 3 {
		t.Errorf("ciphers %v, want %s 3", res.TLS.Ciphers, suite)
	}

	r := runCmd(t, "--smtps", "--tls-min-version", "1.3", "-m", "2",
		startTLSSink(t, true))
	r.check(t, want{counts: counts{accepted: 2, sessions: 2}})
	for _, l := range []string{"  tls         2 handshakes, 0 resumed: " +
		"TLS 1.3 2\n", "  ciphers     TLS_"} {
		if !strings.Contains(r.stderr, l) {
			t.Errorf("summary lacks %q:\n%s", l, r.stderr)
		}
	}
}

// TestSecurityOptionErrors: bad TLS and AUTH options are one-line
// fatal errors before anything is sent.
func TestSecurityOptionErrors(t *testing.T) {
	empty := writeFile(t, "empty", []byte{})
	tests := []struct {
		name  string
		args  []string
		fatal string
	}{
		{"bad version", []string{"--starttls", "--tls-min-version",
			"1.4", "h"}, `bad --tls-min-version: "1.4" (want 1.0, ` +
			`1.1, 1.2 or 1.3)`},
		{"min above max", []string{"--smtps", "--tls-min-version",
			"1.3", "--tls-max-version", "1.2", "h"},
			"--tls-min-version 1.3 is above --tls-max-version 1.2"},
		{"unknown cipher", []string{"--starttls", "--tls-ciphers",
			"TLS_RSA_WITH_AES_128_GCM_SHA256,BOGUS", "h"},
			`bad --tls-ciphers: unknown cipher suite "BOGUS"`},
		{"TLS 1.3 cipher", []string{"--starttls", "--tls-ciphers",
			"TLS_AES_128_GCM_SHA256", "h"}, "bad --tls-ciphers: " +
			"TLS_AES_128_GCM_SHA256 is a TLS 1.3 suite; those cannot " +
			"be chosen"},
		{"tls option without tls", []string{"--tls-verify", "h"},
			"--tls-verify needs --starttls or --smtps"},
		{"ca without verify", []string{"--starttls", "--tls-ca", "x",
			"h"}, "--tls-ca needs --tls-verify"},
		{"cert without key", []string{"--starttls", "--tls-cert", "x",
			"h"}, "give both --tls-cert and --tls-key, or neither"},
		{"smtps and starttls", []string{"--smtps", "--starttls", "h"},
			"--smtps and --starttls cannot be used together"},
		{"-o and auth", []string{"-o", "--auth-user", "u",
			"--auth-password", "p", "h"}, "-o sends no HELO: it cannot " +
			"be used with --starttls, --ehlo or --auth-user"},
		{"password without user", []string{"--auth-password", "p", "h"},
			"AUTH options need --auth-user"},
		{"user without password", []string{"--auth-user", "u", "h"},
			"--auth-user needs a password: --auth-password, " +
				"--auth-password-env or --auth-password-file"},
		{"two passwords", []string{"--auth-user", "u", "--auth-password",
			"p", "--auth-password-env", "X", "h"}, "give only one of " +
			"--auth-password, --auth-password-env and " +
			"--auth-password-file"},
		{"bad mechanism", []string{"--auth-user", "u", "--auth-password",
			"p", "--auth", "digest-md5", "h"}, `bad --auth mechanism: ` +
			`"digest-md5" (want plain, login, cram-md5, xoauth2 or ` +
			`auto)`},
		{"unset env", []string{"--auth-user", "u", "--auth-password-env",
			"GST_TEST_NO_SUCH_VARIABLE", "h"}, "--auth-password-env: " +
			"GST_TEST_NO_SUCH_VARIABLE is not set or empty"},
		{"empty password file", []string{"--auth-user", "u",
			"--auth-password-file", empty, "h"},
			"--auth-password-file: " + empty + " is empty"},
		{"missing CA", []string{"--starttls", "--tls-verify", "--tls-ca",
			"/proc/nonexistent", "h"},
			"--tls-ca: open /proc/nonexistent: no such file or directory"},
		{"CA not PEM", []string{"--starttls", "--tls-verify", "--tls-ca",
			empty, "h"}, "--tls-ca: no PEM certificate in " + empty},
		{"verify unix", []string{"--starttls", "--tls-verify",
			"unix:/tmp/x"}, "--tls-verify needs --tls-server-name for " +
			"this target"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCmd(t, tt.args...)
			checkBadInput(t, r, tt.fatal, "", false)
		})
	}
}

// TestResultRedactsPassword: the result document keeps the command
// line, but not the password.
func TestResultRedactsPassword(t *testing.T) {
	srv := startScript(t, authEHLO+"C AUTH PLAIN .*\nS 235 2.7.0 ok\n"+
		authTxn)
	res := runForResult(t, "--auth-user", authUser,
		"--auth-password="+authPass, "-m", "1", srv.Addr)
	args := fmt.Sprint(res.Config["args"])
	if strings.Contains(args, authPass) ||
		!strings.Contains(args, "--auth-password=[redacted]") {
		t.Errorf("args in the result: %s", args)
	}
	got := redactArgs([]string{"--auth-password", "pw", "-m", "1"})
	if strings.Join(got, " ") != "--auth-password [redacted] -m 1" {
		t.Errorf("redactArgs = %q", got)
	}
}

// TestSMTPS: with --smtps the handshake comes first, then the banner
// and HELO (implicit TLS asks for no extension); a server that talks
// plain text instead fails the handshake.
func TestSMTPS(t *testing.T) {
	t.Run("ok", func(t *testing.T) {
		srv := startScript(t, "TLS\nS 220 mx.example.com ESMTP\n"+
			"C HELO .*\nS 250 mx.example.com\n"+authTxn)
		r := runCmd(t, "--smtps", "-m", "1", srv.Addr)
		r.check(t, want{counts: counts{accepted: 1, sessions: 1}})
		checkServer(t, srv)
	})
	t.Run("plaintext server", func(t *testing.T) {
		srv := startScript(t, "S 220 mx.example.com ESMTP\nCLOSE\n")
		r := runCmd(t, "--smtps", "-m", "1", "--reply-timeout",
			shortTimeout, srv.Addr)
		r.check(t, want{code: 1, fatalRE: `^TLS handshake failed: ` +
			`.*does not look like a TLS handshake$`,
			counts: counts{failed: 1, sessions: 1}})
		checkServer(t, srv)
	})
}

// TestOpportunistic421: opportunistic STARTTLS goes on in plain text
// after a refusal, but not after 421, which closes the session: that
// is a negative reply as any other.
func TestOpportunistic421(t *testing.T) {
	const script = `S 220 mx.example.com ESMTP
C EHLO .*
S 250-mx.example.com\r\n250 STARTTLS
C STARTTLS
S 421 4.3.2 Shutting down
CLOSE
`
	const refusal = "STARTTLS rejected: 421 4.3.2 Shutting down"
	failed := counts{failed: 1, sessions: 1}
	for _, tt := range []struct {
		name string
		args []string
		want want
	}{
		{"fatal", nil, want{code: 1, fatal: refusal, counts: failed}},
		{"-A", []string{"-A"}, want{warnings: []string{refusal},
			counts: failed}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := startScript(t, script)
			args := append(tt.args, "--starttls=opportunistic", "-m",
				"1", srv.Addr)
			r := runCmd(t, args...)
			r.check(t, tt.want)
			checkServer(t, srv, scripttest.KindEOF)
			if cmds := commands(srv.Transcript(1)); len(cmds) != 2 {
				t.Errorf("commands %q, want EHLO and STARTTLS only",
					cmds)
			}
		})
	}
}
