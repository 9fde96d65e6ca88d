package sinkinterop_test

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
	"github.com/go-smtp-source/go-smtp-source/internal/postfixtest"
)

// ourSink returns go-smtp-sink, skipping when $GO_SMTP_SINK_BIN names
// Postfix's smtp-sink, which has no --out.
func ourSink(t *testing.T) string {
	t.Helper()
	bin := postfixtest.SinkUnderTest(t)
	if postfixtest.IsPostfix(bin) {
		t.Skip("skipping: --out is go-smtp-sink's own")
	}
	return bin
}

// freeAddr returns a 127.0.0.1 address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// An --out file that cannot be opened ends the sink at once, with one
// fatal line naming the file, before it listens: not at SIGTERM, with
// the run's result lost.
func TestOutUnwritableFailsAtStart(t *testing.T) {
	bin := ourSink(t)
	out := filepath.Join(t.TempDir(), "missing", "x.json")
	addr := freeAddr(t)
	r := postfixtest.Run(t, 10*time.Second, bin, "--out", out, addr,
		"10")
	if r.ExitCode != 1 {
		t.Errorf("exit %d, want 1\nstderr:\n%s", r.ExitCode, r.Stderr)
	}
	// As root without -u, the root warning comes first.
	got := strings.TrimPrefix(postfixtest.NormalizeStderr(r.Stderr),
		"PROG: warning: running as root: no -u option given, keeping"+
			" root privileges\n")
	want := "PROG: fatal: --out: open " + out +
		": No such file or directory\n"
	if got != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", r.Stderr, want)
	}
	if r.Stdout != "" {
		t.Errorf("stdout %q, want nothing", r.Stdout)
	}
	if _, err := os.Stat(filepath.Dir(out)); !os.IsNotExist(err) {
		t.Errorf("%s: %v, want it still missing", filepath.Dir(out), err)
	}
}

// With -u nobody, the --out file is opened as root before privileges
// are dropped: a directory only root can write still gets the result
// document, written through the descriptor at exit.
func TestOutBeforePrivileges(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: -u needs root")
	}
	if _, err := user.Lookup("nobody"); err != nil {
		t.Skip("skipping: no user nobody")
	}
	bin := ourSink(t)
	src := postfixtest.SourcePath(t)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "x.json")

	addr := freeAddr(t)
	cmd := exec.Command(bin, "-u", "nobody", "--no-summary", "--out", out,
		addr, "10")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	c, err := dialRetry(addr)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("sink not listening: %v\nstderr:\n%s", err,
			stderr.String())
	}
	c.Close()

	const n = 3
	r := postfixtest.Run(t, runTimeout, src, "-m", strconv.Itoa(n), addr)
	if r.ExitCode != 0 {
		t.Errorf("smtp-source exit %d\n%s", r.ExitCode, r.Stderr)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sink: %v\nstderr:\n%s", err, stderr.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("sink stderr:\n%s", stderr.String())
	}

	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := metrics.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	if d := res.Delivery; d == nil || d.Unstamped != n {
		t.Errorf("delivery %+v, want %d unstamped arrivals", d, n)
	}
}
