package main

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/postfixtest"
	"github.com/go-smtp-source/go-smtp-source/internal/sink"
	"github.com/go-smtp-source/go-smtp-source/internal/sink/sinktest"
	"github.com/go-smtp-source/go-smtp-source/internal/smtp"
)

// rawServer serves every connection with handle on a loopback port
// until the test ends, then closes the listener and the connections and
// waits for the handlers.
func rawServer(t *testing.T, handle func(c *net.TCPConn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c.(*net.TCPConn))
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// serveUntilData plays a server up to its 354 reply: a greeting, then
// 250 to every command until DATA. It returns the reader of the rest,
// or nil when the client left.
func serveUntilData(c net.Conn) *bufio.Reader {
	br := bufio.NewReader(c)
	io.WriteString(c, "220 raw.example ESMTP\r\n")
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil
		}
		if strings.EqualFold(strings.TrimSpace(line), "DATA") {
			io.WriteString(c, "354 go ahead\r\n")
			return br
		}
		io.WriteString(c, "250 ok\r\n")
	}
}

// TestTransportResetMidData: the server resets the connection (close
// with SO_LINGER 0) after part of the message content. The run ends at
// once with smtp-source's "lost connection" fatal, and the message is
// an error, never accepted.
func TestTransportResetMidData(t *testing.T) {
	addr := rawServer(t, func(c *net.TCPConn) {
		br := serveUntilData(c)
		if br == nil {
			return
		}
		io.CopyN(io.Discard, br, 64<<10)
		c.SetLinger(0)
	})
	out := filepath.Join(t.TempDir(), "r.json")
	r := runCmd(t, "--out", out, "-l", "4000000", "-m", "1",
		"--reply-timeout", "5s", addr)
	r.check(t, want{code: 1,
		fatalRE: `^(lost connection while sending message|` +
			`.*Connection reset by peer)$`,
		counts: counts{failed: 1, sessions: 1}})
	if r.elapsed > 3*time.Second {
		t.Errorf("run took %v after a reset", r.elapsed)
	}
	m := readResult(t, out).Messages
	if m.Accepted != 0 || m.Error+m.Unknown != 1 {
		t.Errorf("messages %+v, want one error or unknown", m)
	}
}

// TestTransportServerStopsReading: the server sends 354 and never reads
// again, so the socket buffers fill and the client's write blocks. The
// reply timeout bounds the write, as smtp-source's does.
func TestTransportServerStopsReading(t *testing.T) {
	hold := make(chan struct{})
	addr := rawServer(t, func(c *net.TCPConn) {
		if serveUntilData(c) != nil {
			<-hold
		}
	})
	t.Cleanup(func() { close(hold) }) // before rawServer's: LIFO
	r := runCmd(t, "-l", "10000000", "-m", "1", "--reply-timeout", "1s",
		addr)
	r.check(t, want{code: 1, fatal: "timeout while sending message",
		counts: counts{failed: 1, sessions: 1}})
	if r.elapsed < time.Second || r.elapsed > 4*time.Second {
		t.Errorf("run took %v, want about the 1s timeout", r.elapsed)
	}
}

// TestTransportHugeReply: replies with a 1 MB line, and a line that
// never ends. The reply parser keeps a bounded part of a line, so the
// diagnostic stays short and memory stays small; the endless line ends
// at the banner timeout.
func TestTransportHugeReply(t *testing.T) {
	huge := strings.Repeat("x", 1<<20)
	t.Run("1MB", func(t *testing.T) {
		banner := []byte("220 " + huge + "\r\n")
		reject := []byte("550 5.0.0 " + huge + "\r\n")
		addr := rawServer(t, func(c *net.TCPConn) {
			br := bufio.NewReader(c)
			c.Write(banner)
			if _, err := br.ReadString('\n'); err == nil {
				c.Write(reject)
			}
			io.Copy(io.Discard, br)
		})
		alloc := allocated()
		r := runCmd(t, "-m", "1", "--reply-timeout", "5s", addr)
		if d := allocated() - alloc; d > 8<<20 {
			t.Errorf("run allocated %d bytes for 2 MB of replies", d)
		}
		if r.code != 1 {
			t.Errorf("exit %d, want 1", r.code)
		}
		fatal := r.diagnostics(fatalPrefix)
		const want = "HELO rejected: 550 5.0.0 xxx"
		if len(fatal) != 1 || !strings.HasPrefix(fatal[0], want) ||
			len(fatal[0]) > len(want)+smtp.MaxReplyText {
			t.Errorf("%d fatal lines; want one of at most %d bytes "+
				"starting %q", len(fatal), len(want)+smtp.MaxReplyText,
				want)
		}
		if got := r.summary(t); got != (counts{failed: 1, sessions: 1}) {
			t.Errorf("summary %+v", got)
		}
	})
	t.Run("endless", func(t *testing.T) {
		addr := rawServer(t, func(c *net.TCPConn) {
			io.WriteString(c, "220 ")
			line := bytes.Repeat([]byte("x"), 64<<10)
			for {
				if _, err := c.Write(line); err != nil {
					return
				}
			}
		})
		alloc := allocated()
		r := runCmd(t, "-m", "1", "--banner-timeout", "1s", addr)
		if d := allocated() - alloc; d > 8<<20 {
			t.Errorf("run allocated %d bytes", d)
		}
		r.check(t, want{code: 1,
			fatal:  "timeout while reading server greeting",
			counts: counts{failed: 1, sessions: 1}})
		if r.elapsed > 4*time.Second {
			t.Errorf("run took %v, want about the 1s timeout", r.elapsed)
		}
	})
}

// allocated returns the bytes this process has allocated so far.
func allocated() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc
}

// TestTransportConnectRetries: -C 3 against a closed port makes three
// attempts, as smtp-source does: two warnings, then the fatal error.
func TestTransportConnectRetries(t *testing.T) {
	r := runCmd(t, "-C", "3", "-m", "5", closedPort(t))
	refused := "connect: Connection refused"
	r.check(t, want{code: 1, warnings: []string{refused, refused},
		fatal: refused, counts: counts{failed: 1}})
}

// TestTransportFDLimit: with fewer descriptors than sessions, the run
// ends as smtp-source's does, with one "socket: Too many open files"
// fatal at the first failure (-C notwithstanding), exit 1 and its
// counts, and does not hang or panic.
func TestTransportFDLimit(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		postfixtest.Missing(t, "no prlimit(1)")
	}
	bin := postfixtest.GoBuild(t, "./cmd/go-smtp-source")
	_, addr := sinktest.Start(t, sink.Config{})
	cmd := exec.Command(prlimit, "--nofile=64:64", "--", bin,
		"-C", "3", "-s", "200", "-m", "2000", addr)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	timer := time.AfterFunc(10*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	err = cmd.Run()
	r := result{code: cmd.ProcessState.ExitCode(), stderr: stderr.String()}
	if err != nil && r.code < 0 {
		t.Fatalf("%v (hung and killed?)\n%s", err, r.stderr)
	}
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	if got := r.diagnostics(fatalPrefix); len(got) != 1 ||
		got[0] != "socket: Too many open files" {
		t.Errorf("fatal lines %q, want one socket fatal", got)
	}
	// socket(2) failing is fatal at once: -C retries connect(2) only.
	for _, w := range r.diagnostics(warnPrefix) {
		if strings.Contains(w, "Too many open files") {
			t.Errorf("warning %q: want the fatal error at once", w)
		}
	}
	if c := r.summary(t); c.accepted+c.failed == 0 {
		t.Errorf("summary %+v counts nothing", c)
	}
	if strings.Contains(r.stderr, "panic") {
		t.Errorf("panic:\n%s", r.stderr)
	}
}

// TestTransportSinkKilled: the server process is killed (SIGKILL) mid
// run. The run ends with smtp-source's "lost connection" fatal; it
// counts accepted no message the sink did not take, and every message
// the sink took but never acknowledged as unknown.
func TestTransportSinkKilled(t *testing.T) {
	bin := postfixtest.GoBuild(t, "./cmd/go-smtp-sink")
	dump := filepath.Join(t.TempDir(), "dump")
	addr := closedPort(t)
	sk := exec.Command(bin, "-D", dump, "--fault", ".:100%:delay=5ms",
		addr, "100")
	if err := sk.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sk.Process.Kill(); sk.Wait() })
	waitListening(t, addr)
	go func() {
		deadline := time.Now().Add(5 * time.Second)
		for dumped(dump) < 20 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		sk.Process.Signal(syscall.SIGKILL)
	}()

	out := filepath.Join(t.TempDir(), "r.json")
	r := runCmd(t, "--out", out, "-d", "-s", "2", "-m", "100000",
		"--reply-timeout", "5s", addr)
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	r.checkFatal(t, want{fatalRE: `^lost connection while `})
	m := readResult(t, out).Messages
	n := dumped(dump)
	if m.Accepted > n || n > m.Accepted+m.Unknown {
		t.Errorf("accepted %d, unknown %d; the sink dumped %d",
			m.Accepted, m.Unknown, n)
	}
	if t.Failed() {
		t.Logf("stderr:\n%s", r.stderr)
	}
}

// dumped counts the transactions in a sink's dump file.
func dumped(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return int64(len(postfixtest.Transactions(b)))
}

// waitListening waits until addr takes connections.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	for range 200 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s", addr)
}

// TestTransportPortsExhausted: in a network namespace with 11
// ephemeral ports, 30 sessions at once to a sink that holds each
// connection run out of local ports. The run ends at once with
// connect(2)'s error as its fatal line, exit 1.
func TestTransportPortsExhausted(t *testing.T) {
	ip, err := exec.LookPath("ip")
	if err != nil || os.Geteuid() != 0 {
		postfixtest.Missing(t, "needs root and ip(8) for a namespace")
	}
	src := postfixtest.GoBuild(t, "./cmd/go-smtp-source")
	snk := postfixtest.GoBuild(t, "./cmd/go-smtp-sink")
	ns := "gss-ports-" + strconv.Itoa(os.Getpid())
	do := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(ip, args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	do("netns", "add", ns)
	t.Cleanup(func() { exec.Command(ip, "netns", "del", ns).Run() })
	do("-n", ns, "link", "set", "lo", "up")
	do("netns", "exec", ns, "sysctl", "-qw",
		"net.ipv4.ip_local_port_range=40000 40010")

	sk := exec.Command(ip, "netns", "exec", ns, snk,
		"--fault", "connect:100%:delay=2s", "127.0.0.1:2525", "100")
	if err := sk.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sk.Process.Kill(); sk.Wait() })
	time.Sleep(300 * time.Millisecond) // no way to dial into ns here

	cmd := exec.Command(ip, "netns", "exec", ns, src, "-s", "30",
		"-m", "300", "--reply-timeout", "5s", "127.0.0.1:2525")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	timer := time.AfterFunc(15*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	cmd.Run()
	r := result{code: cmd.ProcessState.ExitCode(), stderr: stderr.String()}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("run took %v", d)
	}
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	want := "connect: Cannot assign requested address"
	if got := r.diagnostics(fatalPrefix); len(got) != 1 || got[0] != want {
		t.Errorf("fatal lines %q, want %q", got, want)
	}
	r.summary(t)
	if t.Failed() {
		t.Logf("stderr:\n%s", r.stderr)
	}
}

// TestBuiltinSinkListensTCP checks that the built-in sink listens with
// TCP, as smtp-sink does, not Go's default Multipath TCP.
func TestBuiltinSinkListensTCP(t *testing.T) {
	ln, err := listenLoopback()
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	rc, err := ln.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var proto int
	var serr error
	rc.Control(func(fd uintptr) {
		proto, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET,
			syscall.SO_PROTOCOL)
	})
	if serr != nil || proto != syscall.IPPROTO_TCP {
		t.Errorf("SO_PROTOCOL = %d (%v), want IPPROTO_TCP (%d)", proto,
			serr, syscall.IPPROTO_TCP)
	}
}
