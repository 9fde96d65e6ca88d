package interop_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
	"github.com/go-smtp-source/go-smtp-source/internal/postfixtest"
)

// ourSource returns our go-smtp-source, skipping when the suite runs
// Postfix's smtp-source, which has no TLS or AUTH.
func ourSource(t *testing.T) string {
	t.Helper()
	bin := postfixtest.SourceUnderTest(t)
	if postfixtest.IsPostfix(bin) {
		t.Skip("Postfix's smtp-source has no TLS or AUTH options")
	}
	return bin
}

// smtpd logs one line per TLS handshake at smtpd_tls_loglevel = 1:
// "Anonymous TLS connection established from localhost[127.0.0.1]:
// TLSv1.3 with cipher ..." ("Untrusted" or "Trusted" with a client
// certificate).
var tlsLine = regexp.MustCompile(`(?m)/smtpd\[\d+\]: \w+ TLS connection ` +
	`established from [^ ]+\[127\.0\.0\.1\]: (TLSv[0-9.]+) with cipher`)

// logCount counts the matches of re in the MTA's log.
func logCount(t *testing.T, mta *postfixtest.MTA, re *regexp.Regexp) int {
	t.Helper()
	b, err := os.ReadFile(mta.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	return len(re.FindAllIndex(b, -1))
}

// waitLog polls logCount until it reaches want or 30 s pass; Postfix
// logs through postlogd, a little behind the dialogue.
func waitLog(t *testing.T, mta *postfixtest.MTA, re *regexp.Regexp,
	want int) int {

	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		n := logCount(t, mta, re)
		if n >= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// runResult runs our source with --out and returns the result.
func runResult(t *testing.T, bin string, args ...string) *metrics.Result {
	t.Helper()
	out := filepath.Join(t.TempDir(), "result.json")
	r := postfixtest.Run(t, 3*time.Minute, bin,
		append([]string{"--out", out}, args...)...)
	if r.ExitCode != 0 {
		t.Fatalf("exit %d\n%s", r.ExitCode, r.Stderr)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := metrics.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d messages in %v", res.Messages.Accepted,
		r.Elapsed.Round(time.Millisecond))
	return res
}

// TestTLSThroughPostfixMTA sends 1000 messages over 10 sessions to a
// real Postfix smtpd with STARTTLS, then 1000 through its smtps
// (wrapper mode) service with session resumption, and checks that
// Postfix queued every message and logged every TLS session, and that
// the result counts every handshake.
func TestTLSThroughPostfixMTA(t *testing.T) {
	ours := ourSource(t)
	mta := postfixtest.StartMTA(t)
	const msgs = 1000

	runs := []struct {
		name string
		args []string
	}{
		{"starttls", []string{"--starttls", mta.Addr}},
		{"smtps", []string{"--smtps", "--tls-resume", mta.SMTPSAddr}},
	}
	for i, run := range runs {
		res := runResult(t, ours, append([]string{"-s", "10", "-m",
			"1000", "-f", "sender@example.com", "-t",
			"rcpt@example.com"}, run.args...)...)
		if got := res.TLS.Handshakes(); got != msgs {
			t.Errorf("%s: %d TLS handshakes counted, want %d (%+v)",
				run.name, got, msgs, res.TLS)
		}
		checkResumed(t, run.name, res,
			slices.Contains(run.args, "--tls-resume"))

		want := (i + 1) * msgs // the log holds the earlier runs too
		if n := mta.WaitQueued(t, want, 30*time.Second); n != want {
			t.Errorf("%s: Postfix queued %d messages, want %d (log %s)",
				run.name, n, want, mta.LogPath)
		}
		if n := waitLog(t, mta, tlsLine, want); n != want {
			t.Errorf("%s: Postfix logged %d TLS sessions, want %d",
				run.name, n, want)
		}
	}
	time.Sleep(500 * time.Millisecond) // room for a surplus to show
	if n := mta.QueuedCount(t); n != 2*msgs {
		t.Errorf("Postfix queued %d messages in all, want %d", n, 2*msgs)
	}
}

// checkResumed: without --tls-resume no handshake resumes; with it,
// all do but the first of each of the 10 sessions, give or take a
// ticket that arrived too late for the next connection.
func checkResumed(t *testing.T, name string, res *metrics.Result,
	resume bool) {

	t.Helper()
	got := res.TLS.Resumed
	switch {
	case !resume && got != 0:
		t.Errorf("%s: %d handshakes resumed without --tls-resume", name,
			got)
	case resume && got < 950:
		t.Errorf("%s: %d of 1000 handshakes resumed, want at least 950",
			name, got)
	}
	t.Logf("%s: %d handshakes resumed", name, got)
}

// saslLine is smtpd's line for a message from an authenticated client.
var saslLine = regexp.MustCompile(`(?m)/smtpd\[\d+\]: [0-9A-Za-z]+: ` +
	`client=[^,]+, sasl_method=([A-Z0-9-]+), sasl_username=(\S+)$`)

// TestAuthThroughPostfixSASL authenticates to a real Postfix smtpd,
// whose SASL is a private Dovecot with a passwd-file, after STARTTLS,
// with each mechanism, and checks Postfix's log for each message's
// method and user. Postfix relays for authenticated clients only, so a
// message that went through was authenticated.
func TestAuthThroughPostfixSASL(t *testing.T) {
	ours := ourSource(t)
	const user, pass = "load@example.com", "s3cret pass"
	sasl := postfixtest.StartSASL(t, map[string]string{user: pass})
	mta := postfixtest.StartMTA(t, sasl.Settings()...)
	t.Setenv("GST_SASL_PASSWORD", pass)
	base := []string{"-f", "sender@example.com", "-t", "rcpt@example.com",
		"--starttls"}

	// Without AUTH the setup refuses the recipient.
	r := postfixtest.Run(t, time.Minute, ours,
		append(base, "-m", "1", mta.Addr)...)
	if r.ExitCode != 1 || !strings.Contains(r.Stderr,
		"fatal: recipient rejected: 554 5.7.1") {
		t.Fatalf("without AUTH: exit %d\n%s", r.ExitCode, r.Stderr)
	}

	const msgs = 50
	for i, mech := range []string{"PLAIN", "LOGIN", "CRAM-MD5"} {
		res := runResult(t, ours, append(base, "-s", "5", "-m", "50",
			"--auth", mech, "--auth-user", user,
			"--auth-password-env", "GST_SASL_PASSWORD", mta.Addr)...)
		if got := res.Phase(metrics.Auth).Count; got != msgs {
			t.Errorf("%s: auth phase count %d, want %d", mech, got, msgs)
		}
		want := (i + 1) * msgs
		if n := mta.WaitQueued(t, want, 30*time.Second); n != want {
			t.Errorf("%s: Postfix queued %d messages, want %d", mech,
				n, want)
		}
	}
	waitLog(t, mta, saslLine, 3*msgs)
	checkSASLLog(t, mta, user, msgs)

	// A wrong password is refused, by Dovecot through Postfix.
	r = postfixtest.Run(t, time.Minute, ours, append(base, "-m", "1",
		"--auth-user", user, "--auth-password", "wrong", mta.Addr)...)
	if r.ExitCode != 1 || !strings.Contains(r.Stderr,
		"fatal: authentication rejected: 535 5.7.8") {
		t.Errorf("wrong password: exit %d\n%s", r.ExitCode, r.Stderr)
	}
}

// checkSASLLog checks that Postfix logged n messages for each
// mechanism, all from user.
func checkSASLLog(t *testing.T, mta *postfixtest.MTA, user string,
	n int) {

	t.Helper()
	b, err := os.ReadFile(mta.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	byMech := map[string]int{}
	for _, m := range saslLine.FindAllStringSubmatch(string(b), -1) {
		byMech[m[1]]++
		if m[2] != user {
			t.Errorf("sasl_username=%s, want %s", m[2], user)
		}
	}
	for _, mech := range []string{"PLAIN", "LOGIN", "CRAM-MD5"} {
		if byMech[mech] != n {
			t.Errorf("Postfix logged %d messages with sasl_method=%s, "+
				"want %d (all: %v)", byMech[mech], mech, n, byMech)
		}
	}
}
