package postfixtest

import (
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestGoBuild(t *testing.T) {
	const pkg = "./internal/postfixtest/testdata/hello"
	bin := GoBuild(t, pkg)
	if again := GoBuild(t, pkg); again != bin {
		t.Errorf("second GoBuild = %s, want cached %s", again, bin)
	}
	r := Run(t, 30*time.Second, bin)
	if r.ExitCode != 0 || r.Stdout != "hello from GoBuild\n" {
		t.Errorf("built binary: exit %d, stdout %q", r.ExitCode, r.Stdout)
	}
}

func TestRunBounded(t *testing.T) {
	r := RunBounded(t, 200*time.Millisecond, "sleep", "10")
	if !r.TimedOut || r.Elapsed > 5*time.Second {
		t.Errorf("sleep 10 bounded at 200ms: %+v", r)
	}
	r = RunBounded(t, 5*time.Second, "sh", "-c", "echo out; echo err >&2; exit 3")
	if r.TimedOut || r.ExitCode != 3 || r.Stdout != "out\n" ||
		r.Stderr != "err\n" {
		t.Errorf("sh exit 3: %+v", r)
	}
}

// TestSinkDump sends Postfix's client into Postfix's sink over TCP and a
// unix socket and checks the dump holds what was sent.
func TestSinkDump(t *testing.T) {
	src, sink := SourcePath(t), SinkPath(t)
	for _, listen := range []string{Loopback4, UnixSock} {
		t.Run(listen, func(t *testing.T) {
			s := StartSinkAt(t, sink, listen, true)
			r := Run(t, 20*time.Second, src, "-m", "3", "-s", "2",
				"-f", "a@example.com", "-t", "b@example.com", s.Addr)
			if r.ExitCode != 0 || r.Stderr != "" {
				t.Fatalf("smtp-source: exit %d, stderr %q", r.ExitCode,
					r.Stderr)
			}
			txs := Transactions(NormalizeDump(s.Dump(t)))
			if len(txs) != 3 {
				t.Fatalf("%d transactions in dump, want 3:\n%s",
					len(txs), s.Dump(t))
			}
			for _, want := range []string{
				"X-Mail-Args: <a@example.com>\n",
				"X-Rcpt-Args: <b@example.com>\n",
				"Date: DATE\nMessage-Id: ID\n\nLa de da de da 1.\n",
			} {
				if !strings.Contains(txs[0], want) {
					t.Errorf("transaction lacks %q:\n%s", want, txs[0])
				}
			}
			if txs[0] != txs[2] {
				t.Errorf("normalized transactions differ:\n%s\n%s",
					txs[0], txs[2])
			}
		})
	}
}

func TestSinkStop(t *testing.T) {
	s := StartSink(t, SinkPath(t), false)
	s.Stop()
	if !s.Exited() {
		t.Fatal("sink still running after Stop")
	}
	if listening(s.Addr) {
		t.Errorf("%s still listening after Stop", s.Addr)
	}
	s.Stop() // a second Stop is harmless
}

func TestMissingSkips(t *testing.T) {
	if InCI() {
		t.Skip("CI=true turns Missing into a failure")
	}
	var skipped bool
	t.Run("missing", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		Missing(t, "nothing")
	})
	if !skipped {
		t.Error("Missing did not skip outside CI")
	}
}

// A listener counts as the sink's only when the sink holds it: another
// process's socket on the same port does not.
func TestListeningBy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()

	other := exec.Command("sleep", "10")
	if err := other.Start(); err != nil {
		t.Skip("no sleep(1) to stand for another process")
	}
	defer other.Process.Kill()

	if !listeningBy(os.Getpid(), addr) {
		t.Errorf("%s: this process's listener not seen", addr)
	}
	if listeningBy(other.Process.Pid, addr) {
		t.Errorf("%s: taken for the listener of pid %d", addr,
			other.Process.Pid)
	}
}
