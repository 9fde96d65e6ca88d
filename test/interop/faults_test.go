package interop_test

import (
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/postfixtest"
)

// faultBound is how long one client run may take in TestSourceFaults.
// Postfix's client needs about 1 s for a fatal error (msg_fatal sleeps
// a second before exit); nothing here should come near the bound.
const faultBound = 15 * time.Second

// faultCommands are the smtp-sink command names a fault can hit.
var faultCommands = []string{
	"connect", "helo", "mail", "rcpt", "data", ".", "rset", "quit",
}

// TestSourceFaults points both clients at smtp-sink with each fault
// option (-f hard reject, -r soft reject, -q silent disconnect, -Q 421
// and disconnect) on each command, with and without -A, and compares
// exit status and the warning/fatal lines.
func TestSourceFaults(t *testing.T) {
	postfix := postfixtest.SourcePath(t)
	sink := postfixtest.SinkPath(t)
	ours := postfixtest.SourceUnderTest(t)

	var mu sync.Mutex
	var hangs []string
	for _, fault := range []string{"-f", "-r", "-q", "-Q"} {
		for _, cmd := range faultCommands {
			sinkArgs := []string{fault, cmd}
			if cmd == "rset" {
				// smtp-source sends RSET only after a rejection.
				sinkArgs = append(sinkArgs, "-r", "rcpt")
			}
			for _, abort := range []bool{false, true} {
				name := fault + " " + cmd
				args := []string{"-s", "1", "-m", "3"}
				if abort {
					name += " -A"
					args = append(args, "-A")
				}
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					s := postfixtest.StartSink(t, sink, false, sinkArgs...)
					args := append(args, s.Addr)
					if fault == "-q" && cmd == "quit" {
						quitClosed(t, postfix, ours, args)
						return
					}
					if fault == "-Q" && cmd == "connect" && abort {
						closingGreeting(t, postfix, ours, args)
						return
					}
					if compareFault(t, postfix, ours, args) {
						mu.Lock()
						hangs = append(hangs, name)
						mu.Unlock()
					}
				})
			}
		}
	}
	t.Cleanup(func() {
		slices.Sort(hangs)
		t.Logf("Postfix's smtp-source hung (killed after %v) on: %q",
			faultBound, hangs)
	})
}

// compareFault runs both clients with args and compares them. It
// reports whether Postfix's client hung; then only our client's prompt
// end is checked.
func compareFault(t *testing.T, postfix, ours string,
	args []string) (hung bool) {
	t.Helper()
	want, got, hung := runBoth(t, postfix, ours, args)
	if hung {
		t.Logf("Postfix's smtp-source hangs here (killed after %v)",
			faultBound)
		return true
	}
	wd := postfixtest.Diagnostics(postfixtest.NormalizeStderr(want.Stderr))
	gd := postfixtest.Diagnostics(postfixtest.NormalizeStderr(got.Stderr))
	if d := sameText("warning/fatal lines", strings.Join(wd, "\n"),
		strings.Join(gd, "\n")); d != "" {
		t.Error(d)
	}
	return false
}

// runBoth runs Postfix's client and ours with args, each within
// faultBound, and compares their exit status unless Postfix's hung.
// Ours must never hang.
func runBoth(t *testing.T, postfix, ours string,
	args []string) (want, got postfixtest.Result, hung bool) {

	t.Helper()
	want = postfixtest.RunBounded(t, faultBound, postfix, args...)
	got = postfixtest.RunBounded(t, faultBound, ours, args...)
	if got.TimedOut && !postfixtest.IsPostfix(ours) {
		t.Errorf("ours still running after %v; killed", faultBound)
	}
	if want.TimedOut {
		return want, got, true
	}
	if got.ExitCode != want.ExitCode {
		t.Errorf("exit status: postfix %d, ours %d",
			want.ExitCode, got.ExitCode)
	}
	return want, got, false
}

// deliberate checks a fault where we differ from Postfix's client on
// purpose: Postfix's client must still end with exit 1 and the fatal
// line postfixFatal; ours must exit 0 with exactly the diagnostics
// wantDiag, and deliver all 3 messages when delivered is set.
func deliberate(t *testing.T, postfix, ours string, args []string,
	postfixFatal string, wantDiag []string, delivered bool) {

	t.Helper()
	want := postfixtest.RunBounded(t, faultBound, postfix, args...)
	if want.ExitCode != 1 ||
		!strings.Contains(want.Stderr, "fatal: "+postfixFatal) {
		t.Errorf("Postfix's client no longer fails here: exit %d\n%s",
			want.ExitCode, want.Stderr)
	}
	if postfixtest.IsPostfix(ours) {
		return
	}
	got := postfixtest.RunBounded(t, faultBound, ours, args...)
	diag := postfixtest.Diagnostics(postfixtest.NormalizeStderr(got.Stderr))
	if got.ExitCode != 0 || !slices.Equal(diag, wantDiag) {
		t.Errorf("ours: exit %d, diagnostics %q; want 0 and %q",
			got.ExitCode, diag, wantDiag)
	}
	if delivered && !strings.Contains(got.Stderr, "accepted=3 failed=0") {
		t.Errorf("ours did not deliver all 3 messages:\n%s", got.Stderr)
	}
}

// quitClosed: a server that closes the connection instead of answering
// QUIT (hard case C08). Postfix's client dies with "lost connection
// while sending message" after the first message, although the server
// accepted it; ours counts the message as delivered at its final dot
// and goes on.
func quitClosed(t *testing.T, postfix, ours string, args []string) {
	t.Helper()
	deliberate(t, postfix, ours, args,
		"lost connection while sending message", nil, true)
}

// closingGreeting: a 421 greeting with -A. Postfix's client warns and
// sends HELO into the closed connection, which is then fatal; ours
// warns and ends that session, and each of the 3 messages gets a
// session and a warning of its own.
func closingGreeting(t *testing.T, postfix, ours string, args []string) {
	t.Helper()
	const warning = "PROG: warning: rejected at server banner: " +
		"421 4.0.0 Server closing connection"
	deliberate(t, postfix, ours, args,
		"lost connection while sending HELO",
		[]string{warning, warning, warning}, false)
}

// TestSourceSilentServer faces both clients with a server that goes
// silent: before its greeting, or after it. Postfix's client has no
// timer for a reply and hangs; ours gives up after its --banner-timeout
// or --reply-timeout (300 s by default, as Postfix's I/O timeout; short
// here).
func TestSourceSilentServer(t *testing.T) {
	postfix := postfixtest.SourcePath(t)
	ours := postfixtest.SourceUnderTest(t)
	for _, c := range []struct {
		name     string
		greeting string // sent on accept, then silence
		timeout  string // our option that must end the wait
	}{
		{"no greeting", "", "--banner-timeout"},
		{"no reply to HELO", "220 silent.example ESMTP\r\n",
			"--reply-timeout"},
	} {
		t.Run(c.name, func(t *testing.T) {
			addr := silentServer(t, c.greeting)
			want := postfixtest.RunBounded(t, 3*time.Second, postfix, addr)
			if !want.TimedOut {
				t.Logf("Postfix's smtp-source ended by itself: exit %d\n%s",
					want.ExitCode, want.Stderr)
			}
			if postfixtest.IsPostfix(ours) {
				t.Skip("skipping the check on ours: the binary under " +
					"test is Postfix's, which waits forever")
			}
			got := postfixtest.RunBounded(t, faultBound, ours,
				c.timeout, "2s", addr)
			if got.TimedOut {
				t.Fatalf("ours hung (killed after %v)", faultBound)
			}
			diag := postfixtest.Diagnostics(
				postfixtest.NormalizeStderr(got.Stderr))
			if got.ExitCode != 1 || len(diag) == 0 ||
				!strings.HasPrefix(diag[len(diag)-1], "PROG: fatal: ") {
				t.Errorf("ours: exit %d, want 1 and a fatal error\n%s",
					got.ExitCode, got.Stderr)
			}
			t.Logf("ours: exit %d after %v: %q", got.ExitCode,
				got.Elapsed.Round(time.Millisecond), diag)
			if got.Elapsed > 10*time.Second {
				t.Errorf("ours took %v with %s 2s", got.Elapsed, c.timeout)
			}
		})
	}
}

// silentServer accepts connections on a free 127.0.0.1 port, sends
// greeting (if any) and then keeps them open without a word until the
// test ends.
func silentServer(t *testing.T, greeting string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if greeting != "" {
				c.Write([]byte(greeting))
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}
