package sinkinterop_test

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/postfixtest"
)

// tool returns the path of a program the test needs, or skips (fails
// in CI) when it is missing.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		postfixtest.Missing(t, "%s not installed (Debian package %s)",
			name, name)
	}
	return p
}

// TestSwaksStartTLS delivers a message over STARTTLS with swaks.
func TestSwaksStartTLS(t *testing.T) {
	swaks := tool(t, "swaks")
	s := postfixtest.StartSink(t, postfixtest.SinkUnderTest(t), true,
		"--starttls")
	r := postfixtest.Run(t, 30*time.Second, swaks, "--server", s.Addr,
		"--tls", "--from", "a@example.com", "--to", "b@example.com",
		"--body", "tls body line", "--helo", "client.example")
	if r.ExitCode != 0 {
		t.Fatalf("swaks exit %d\n%s\n%s", r.ExitCode, r.Stdout, r.Stderr)
	}
	if !strings.Contains(r.Stdout, "TLS started") {
		t.Errorf("swaks did not start TLS:\n%s", r.Stdout)
	}
	dump := string(s.Dump(t))
	for _, want := range []string{"X-Client-Proto: ESMTPS\n",
		"X-Helo-Args: client.example\n", "X-Mail-Args: <a@example.com>\n",
		"tls body line\n"} {
		if !strings.Contains(dump, want) {
			t.Errorf("dump lacks %q:\n%s", want, dump)
		}
	}
}

// TestSwaksImplicitTLS delivers a message over --smtps.
func TestSwaksImplicitTLS(t *testing.T) {
	swaks := tool(t, "swaks")
	s := postfixtest.StartSink(t, postfixtest.SinkUnderTest(t), true,
		"--smtps")
	r := postfixtest.Run(t, 30*time.Second, swaks, "--server", s.Addr,
		"--tlsc", "--from", "a@example.com", "--to", "b@example.com")
	if r.ExitCode != 0 {
		t.Fatalf("swaks exit %d\n%s\n%s", r.ExitCode, r.Stdout, r.Stderr)
	}
	if !strings.Contains(string(s.Dump(t)), "X-Rcpt-Args: <b@example.com>") {
		t.Errorf("no message in the dump:\n%s", s.Dump(t))
	}
}

// TestOpenSSLStartTLS runs a transaction through openssl s_client
// -starttls smtp.
func TestOpenSSLStartTLS(t *testing.T) {
	openssl := tool(t, "openssl")
	s := postfixtest.StartSink(t, postfixtest.SinkUnderTest(t), true,
		"--starttls")
	cmd := exec.Command(openssl, "s_client", "-starttls", "smtp",
		"-connect", s.Addr, "-quiet", "-crlf", "-ign_eof")
	cmd.Stdin = strings.NewReader("EHLO client.example\n" +
		"MAIL FROM:<a@example.com>\nRCPT TO:<b@example.com>\nDATA\n" +
		"Subject: openssl\n\nbody\n.\nQUIT\n")
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("openssl s_client still running after 30s")
	}
	if err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	for _, want := range []string{"250 2.1.5 Ok", "354 End data",
		"250 2.0.0 Ok", "221 Bye"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	if !strings.Contains(string(s.Dump(t)), "Subject: openssl\n") {
		t.Errorf("no message in the dump:\n%s", s.Dump(t))
	}
}
