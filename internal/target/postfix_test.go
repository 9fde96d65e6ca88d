package target

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The Postfix tools we compare against, from Debian's postfix package.
const (
	smtpSource = "/usr/sbin/smtp-source"
	smtpSink   = "/usr/sbin/smtp-sink"
)

// needTool skips the test when path is missing, unless CI=true.
func needTool(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %s is missing: %v", path, err)
		}
		t.Skipf("%s not installed", path)
	}
}

// postfixFatals runs a Postfix tool once per argument list and
// returns the text after "fatal: " on the first line of each run's
// standard error. Postfix sleeps a second before a fatal exit, so the
// runs go in parallel; they mostly sleep.
func postfixFatals(t *testing.T, path string, runs [][]string) []string {
	t.Helper()
	reasons := make([]string, len(runs))
	errs := make([]error, len(runs))
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i, args := range runs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			reasons[i], errs[i] = postfixFatal(path, args)
		}()
	}
	wg.Wait()

	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return reasons
}

// postfixFatal runs one Postfix tool that is expected to fail.
func postfixFatal(path string, args []string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil || ctx.Err() != nil {
		return "", fmt.Errorf("%s %q: want a fatal error, got %v, "+
			"stderr %q", path, args, err, stderr.String())
	}
	line, _, _ := strings.Cut(stderr.String(), "\n")
	_, reason, ok := strings.Cut(line, ": fatal: ")
	if !ok {
		return "", fmt.Errorf("%s %q: no fatal error in %q", path, args,
			line)
	}
	return reason, nil
}

// familyFlag is the Postfix option for f, if any.
func familyFlag(f Family) []string {
	switch f {
	case IPv4:
		return []string{"-4"}
	case IPv6:
		return []string{"-6"}
	}
	return nil
}

// sourceFatal is what go-smtp-source would print after "fatal: " for
// an endpoint whose server is down: the parse or resolve error, or
// else the connect error.
func sourceFatal(endpoint string, f Family) string {
	tg, err := Parse(endpoint)
	if err != nil {
		return err.Error()
	}
	addr, err := tg.Resolve(context.Background(), f)
	if err != nil {
		return err.Error()
	}
	d := &Dialer{Addr: addr, Timeout: 5 * time.Second}
	conn, err := d.Dial(context.Background())
	if err != nil {
		return "connect: " + ErrnoText(err)
	}
	conn.Close()
	return "connected"
}

// TestPostfixSource checks that we accept and reject client endpoints
// as smtp-source does, with its wording. Every endpoint is either
// malformed, refused before any lookup, or on loopback with nothing
// listening, so nothing leaves the host and no DNS is asked.
func TestPostfixSource(t *testing.T) {
	needTool(t, smtpSource)
	port := strconv.Itoa(closedPort(t))
	missing := filepath.Join(t.TempDir(), "none")
	long := "unix:" + strings.Repeat("a", maxUnixPath)

	cases := []struct {
		endpoint string
		f        Family
	}{
		{"", AnyFamily},
		{"inet:", AnyFamily},
		{":", AnyFamily},
		{":" + port, AnyFamily},
		{"[::1", AnyFamily},
		{"inet:[::1", AnyFamily},
		{"[::1]x", AnyFamily},
		{"[]:25", AnyFamily},
		{"[IPv6:zz]:25", AnyFamily},
		{"[ipv6:1.2.3.4]:25", AnyFamily},
		{"host:port:extra", AnyFamily},
		{"a:b:c", AnyFamily},
		{"::1", AnyFamily},
		{"::", AnyFamily},
		{"a b", AnyFamily},
		{"loc@lhost", AnyFamily},
		{"[fe80::1%lo]:25", AnyFamily},
		{"999.1.1.1", AnyFamily},
		{"1.2.3.4.5", AnyFamily},
		{"0.1.2.3", AnyFamily},
		{"123", AnyFamily},
		{"foo..bar", AnyFamily},
		{"a-", AnyFamily},
		{strings.Repeat("a", 64), AnyFamily},
		{"INET:localhost:1", AnyFamily},
		{"localhost:25x", AnyFamily},
		{"localhost:2x5", AnyFamily},
		{"localhost:1 ", AnyFamily},
		{"127.0.0.1:nosuchsvc", AnyFamily},
		{"127.0.0.1:SMTP", AnyFamily},
		{"127.0.0.1:-1", AnyFamily},
		{"127.0.0.1:+", AnyFamily},
		{"127.0.0.1:4294967295", AnyFamily},
		{"[a]:b:c", AnyFamily},
		{"inet:unix:/x", AnyFamily},
		{"[::1]:" + port, IPv4},
		{"[::1]:nosuchsvc", IPv4},
		{"127.0.0.1:" + port, IPv6},
		{long, AnyFamily},

		// These get as far as connect.
		{"127.0.0.1:" + port, AnyFamily},
		{"inet:127.0.0.1:" + port, AnyFamily},
		{"[127.0.0.1]:" + port, AnyFamily},
		{"127.0.0.010:" + port, AnyFamily},
		{"0x7f.0.0.1:" + port, AnyFamily},
		{"127.0.0.1:+" + port, AnyFamily},
		{"127.0.0.1:0" + port, AnyFamily},
		{"127.0.0.1:" + strconv.Itoa(65536*2+atoi(t, port)), AnyFamily},
		{"[::1]:" + port, AnyFamily},
		{"[IPv6:::1]:" + port, IPv6},
		{"::1:" + port, AnyFamily},
		{"[::ffff:127.0.0.1]:" + port, AnyFamily},
		{"localhost:" + port, IPv4},
		{"unix:" + missing, AnyFamily},
		{"unix:", AnyFamily},
	}
	runs := make([][]string, len(cases))
	for i, c := range cases {
		runs[i] = append(familyFlag(c.f), "-m", "1", c.endpoint)
	}
	wants := postfixFatals(t, smtpSource, runs)

	for i, c := range cases {
		if got := sourceFatal(c.endpoint, c.f); got != wants[i] {
			t.Errorf("%q: we say %q, smtp-source %q", runs[i], got,
				wants[i])
		}
	}
}

// TestPostfixSink compares listen endpoints that smtp-sink refuses.
// Endpoints it accepts would have it serve, so only failures are
// compared here; TestListen* cover the rest.
func TestPostfixSink(t *testing.T) {
	needTool(t, smtpSink)
	dir := t.TempDir()
	taken := listenLoopback(t, "tcp4", "127.0.0.1:0")
	takenPort := taken.Addr().(*net.TCPAddr).Port

	cases := []struct {
		endpoint string
		f        Family
	}{
		{"", AnyFamily},
		{":", AnyFamily},
		{"localhost:", AnyFamily},
		{"[::1]", AnyFamily},
		{"[::1]:", AnyFamily},
		{"[]:25", AnyFamily},
		{"[::1", AnyFamily},
		{"::1", AnyFamily},
		{"a:b:c", AnyFamily},
		{":25x", AnyFamily},
		{"127.0.0.1:nosuchsvc", AnyFamily},
		{"[::1]:2525", IPv4},
		{fmt.Sprintf("127.0.0.1:%d", takenPort), AnyFamily},
		{"unix:" + dir, AnyFamily},
		{"unix:" + dir + "/none/sink", AnyFamily},
		{"unix:" + strings.Repeat("a", maxUnixPath), AnyFamily},
	}
	runs := make([][]string, len(cases))
	for i, c := range cases {
		runs[i] = append(familyFlag(c.f), c.endpoint, "5")
		if os.Geteuid() == 0 {
			// smtp-sink refuses to run as root without -u.
			runs[i] = append([]string{"-u", "nobody"}, runs[i]...)
		}
	}
	wants := postfixFatals(t, smtpSink, runs)

	for i, c := range cases {
		if got := sinkFatal(c.endpoint, c.f); got != wants[i] {
			t.Errorf("%q: we say %q, smtp-sink %q", runs[i], got,
				wants[i])
		}
	}
}

// sinkFatal is what go-smtp-sink would print after "fatal: " when
// told to listen on endpoint, or "listening".
func sinkFatal(endpoint string, f Family) string {
	tg, err := ParseListen(endpoint)
	if err != nil {
		return err.Error()
	}
	ln, err := Listen(context.Background(), tg, f, 5, 0)
	if err != nil {
		return err.Error()
	}
	ln.Close()
	return "listening"
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
