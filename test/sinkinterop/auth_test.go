package sinkinterop_test

import (
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/postfixtest"
)

// swaksExitAuth is swaks' exit status for "error in AUTH transaction".
const swaksExitAuth = 28

// swaksSupport checks that swaks can run a feature (swaks --support),
// which may need a Perl module from another Debian package.
func swaksSupport(t *testing.T, swaks, feature, pkg string) {
	t.Helper()
	out, _ := exec.Command(swaks, "--support").CombinedOutput()
	if !strings.Contains(string(out), "=== "+feature+" supported") {
		postfixtest.Missing(t, "swaks lacks %s (Debian package %s):\n%s",
			feature, pkg, out)
	}
}

// The test account. The password has a space and a colon, which the
// user file keeps.
const (
	authUser = "alice"
	authPass = "s3cret: pass"
)

// usersFile writes a user file with the test account.
func usersFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users")
	body := "# go-smtp-sink test accounts\nbob:hunter2\n" + authUser + ":" +
		authPass + "\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSwaksAuth authenticates with swaks over STARTTLS with each
// mechanism, with the right password and a wrong one, against a sink
// that needs AUTH before MAIL and logs with -v. The log must never
// hold the password, in clear or in base64.
func TestSwaksAuth(t *testing.T) {
	swaks := tool(t, "swaks")
	swaksSupport(t, swaks, "TLS", "libnet-ssleay-perl")
	swaksSupport(t, swaks, "AUTH CRAM-MD5", "perl")
	s := postfixtest.StartSink(t, postfixtest.SinkUnderTest(t), true,
		"--starttls", "--auth-users", usersFile(t), "--auth-required",
		"-v")

	run := func(mech, pass string) postfixtest.Result {
		return postfixtest.Run(t, 30*time.Second, swaks, "--server",
			s.Addr, "--tls", "--auth", mech, "--auth-user", authUser,
			"--auth-password", pass, "--from", "a@example.com",
			"--to", "b@example.com", "--body", "auth "+mech)
	}
	for _, mech := range []string{"PLAIN", "LOGIN", "CRAM-MD5"} {
		r := run(mech, authPass)
		if r.ExitCode != 0 || !strings.Contains(r.Stdout,
			"235 2.7.0 Authentication successful") {
			t.Errorf("%s: swaks exit %d\n%s\n%s", mech, r.ExitCode,
				r.Stdout, r.Stderr)
		}
		if !strings.Contains(string(s.Dump(t)), "auth "+mech+"\n") {
			t.Errorf("%s: no message in the dump:\n%s", mech, s.Dump(t))
		}

		r = run(mech, "wrong")
		if r.ExitCode != swaksExitAuth || !strings.Contains(r.Stdout,
			"535 5.7.8 Authentication credentials invalid") {
			t.Errorf("%s, wrong password: swaks exit %d, want %d\n%s",
				mech, r.ExitCode, swaksExitAuth, r.Stdout)
		}
	}

	s.Stop()
	log := s.Stderr()
	for _, secret := range []string{authPass, "s3cret",
		base64.StdEncoding.EncodeToString([]byte(authPass)),
		base64.StdEncoding.EncodeToString(
			[]byte("\x00" + authUser + "\x00" + authPass))} {
		if strings.Contains(log, secret) {
			t.Errorf("the -v log holds %q:\n%s", secret, log)
		}
	}
	if !strings.Contains(log, "AUTH PLAIN [redacted]") {
		t.Errorf("the -v log lacks the redacted AUTH line:\n%s", log)
	}
	if !strings.Contains(log, " auth=3 auth-failed=3") {
		t.Errorf("the summary lacks the AUTH counts:\n%s", log)
	}
}

// TestSwaksAuthTLSOnly checks --auth-tls-only with swaks: no AUTH in
// plain text, AUTH under TLS.
func TestSwaksAuthTLSOnly(t *testing.T) {
	swaks := tool(t, "swaks")
	swaksSupport(t, swaks, "TLS", "libnet-ssleay-perl")
	s := postfixtest.StartSink(t, postfixtest.SinkUnderTest(t), false,
		"--starttls", "--auth-users", usersFile(t), "--auth-tls-only")
	args := []string{"--server", s.Addr, "--auth", "PLAIN",
		"--auth-user", authUser, "--auth-password", authPass,
		"--from", "a@example.com", "--to", "b@example.com"}

	r := postfixtest.Run(t, 30*time.Second, swaks, args...)
	if r.ExitCode != swaksExitAuth {
		t.Errorf("plain text: swaks exit %d, want %d\n%s", r.ExitCode,
			swaksExitAuth, r.Stdout)
	}
	r = postfixtest.Run(t, 30*time.Second, swaks,
		append(args, "--tls")...)
	if r.ExitCode != 0 {
		t.Errorf("TLS: swaks exit %d\n%s\n%s", r.ExitCode, r.Stdout,
			r.Stderr)
	}
}
