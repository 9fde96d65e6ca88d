package postfixtest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Listen addresses StartSinkAt knows besides "unix:" + path.
const (
	Loopback4 = "127.0.0.1:0" // a free 127.0.0.1 port
	Loopback6 = "[::1]:0"     // a free ::1 port
	UnixSock  = "unix:"       // a fresh socket in a temporary directory
)

// Sink is a running smtp-sink (Postfix's or ours).
type Sink struct {
	// Addr is the server's address in smtp-source's syntax:
	// "127.0.0.1:PORT", "[::1]:PORT" or "unix:PATH".
	Addr string
	// DumpPath is the file given to -D, or "" without a dump.
	DumpPath string

	cmd    *exec.Cmd
	stdout lockedBuffer
	stderr lockedBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // Wait's result, set before done is closed
	once   sync.Once
}

// StartSink starts bin on a free 127.0.0.1 port with backlog 100. When
// bin is Postfix's smtp-sink and we are root it adds "-u nobody", which
// Postfix demands. With dump it passes "-D DIR/dump", where DIR is a
// fresh directory the sink can write after dropping privileges. extra
// are more options. It returns once the port listens and stops the sink
// at the end of the test.
func StartSink(t testing.TB, bin string, dump bool, extra ...string) *Sink {
	t.Helper()
	return StartSinkAt(t, bin, Loopback4, dump, extra...)
}

// StartSinkAt is StartSink with a choice of listen address: Loopback4,
// Loopback6, UnixSock, or a fixed address such as "127.0.0.1:2525" or
// "unix:/path".
func StartSinkAt(t testing.TB, bin, listen string, dump bool,
	extra ...string) *Sink {
	t.Helper()
	dir := sharedTempDir(t, "postfixtest-sink")
	var lastErr error
	// A free port can be taken by someone else before the sink binds it.
	for range 5 {
		addr, err := sinkAddr(listen, dir)
		if err != nil {
			t.Fatalf("sink address %s: %v", listen, err)
		}
		s, err := startSink(bin, addr, dir, dump, extra)
		if err == nil {
			t.Cleanup(func() { s.Stop() })
			return s
		}
		lastErr = err
		if !strings.HasSuffix(listen, ":0") && listen != UnixSock {
			break
		}
	}
	t.Fatalf("start %s: %v", bin, lastErr)
	return nil
}

// sinkAddr turns a StartSinkAt listen address into a concrete one.
func sinkAddr(listen, dir string) (string, error) {
	switch listen {
	case UnixSock:
		// sun_path is short: keep the path well under 108 bytes.
		return "unix:" + filepath.Join(dir, "sink.sock"), nil
	case Loopback4, Loopback6:
		l, err := net.Listen("tcp", listen)
		if err != nil {
			return "", err
		}
		defer l.Close()
		host := "127.0.0.1"
		if listen == Loopback6 {
			host = "[::1]"
		}
		port := l.Addr().(*net.TCPAddr).Port
		return host + ":" + strconv.Itoa(port), nil
	}
	return listen, nil
}

func startSink(bin, addr, dir string, dump bool,
	extra []string) (*Sink, error) {
	s := &Sink{Addr: addr, done: make(chan struct{})}
	var args []string
	if IsPostfix(bin) && os.Geteuid() == 0 {
		args = append(args, "-u", "nobody")
	}
	if dump {
		s.DumpPath = filepath.Join(dir, "dump")
		os.Remove(s.DumpPath)
		args = append(args, "-D", s.DumpPath)
	}
	args = append(args, extra...)
	args = append(args, addr, "100")
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		os.Remove(path)
	}

	s.cmd = exec.Command(bin, args...)
	s.cmd.Stdout = &s.stdout
	s.cmd.Stderr = &s.stderr
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()

	if err := s.waitListening(10 * time.Second); err != nil {
		s.Stop()
		return nil, fmt.Errorf("%s %s: %w\nstderr:\n%s",
			bin, quoteArgs(args), err, s.Stderr())
	}
	return s, nil
}

// waitListening waits until the sink listens on s.Addr.
func (s *Sink) waitListening(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		select {
		case <-s.done:
			return fmt.Errorf("exited early: %v", s.err)
		default:
		}
		if listeningBy(s.cmd.Process.Pid, s.Addr) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not listening after %v", limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop ends the sink (SIGTERM, then SIGKILL after 3 s) and waits for it.
// It is safe to call more than once.
func (s *Sink) Stop() {
	s.once.Do(func() {
		pid := s.cmd.Process.Pid
		syscall.Kill(-pid, syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(3 * time.Second):
			syscall.Kill(-pid, syscall.SIGKILL)
			<-s.done
		}
	})
}

// Exited reports whether the sink process has ended (e.g. by -M).
func (s *Sink) Exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// Stdout returns what the sink has written to stdout so far (-c).
func (s *Sink) Stdout() string { return s.stdout.String() }

// Stderr returns what the sink has written to stderr so far.
func (s *Sink) Stderr() string { return s.stderr.String() }

// Dump returns the sink's -D file once it has stopped growing: the
// client may exit as soon as it has read the reply to ".", a moment
// before the sink is done writing. A dump that was never written (no
// transaction finished) is empty.
func (s *Sink) Dump(t testing.TB) []byte {
	t.Helper()
	if s.DumpPath == "" {
		t.Fatalf("sink %s was started without a dump", s.Addr)
	}
	deadline := time.Now().Add(3 * time.Second)
	last, stable := int64(-1), 0
	for stable < 3 && time.Now().Before(deadline) {
		time.Sleep(40 * time.Millisecond)
		size := int64(0)
		if fi, err := os.Stat(s.DumpPath); err == nil {
			size = fi.Size()
		}
		if size == last {
			stable++
		} else {
			last, stable = size, 0
		}
	}
	b, err := os.ReadFile(s.DumpPath)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("read dump: %v", err)
	}
	return b
}

// sharedTempDir makes a directory that an unprivileged sink can use
// (t.TempDir's parent is private to root) and removes it at cleanup.
func sharedTempDir(t testing.TB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// listening reports whether something listens on addr (smtp-source
// syntax). It reads /proc/net so as not to open a session; where /proc
// has no answer (gVisor lists no tcp6 sockets) it dials.
func listening(addr string) bool {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if found, known := procUnixListening(path); known {
			return found
		}
		return dials("unix", path)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if ip := net.ParseIP(host); ip != nil && ip.To4() != nil {
		if procTCPListening("/proc/net/tcp", port) {
			return true
		}
	}
	return dials("tcp", addr)
}

// listeningBy reports whether process pid listens on the IPv4 address
// addr: the listener on addr's port must be one of pid's descriptors,
// so that another process's socket on that port (a test probing for a
// free port, another package's server) does not pass for the sink's.
// Where /proc cannot tell, it is listening.
func listeningBy(pid int, addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	ip := net.ParseIP(host)
	p, perr := strconv.Atoi(port)
	if err != nil || perr != nil || ip == nil || ip.To4() == nil {
		return listening(addr)
	}
	socks, ok := socketInodes(pid)
	if !ok {
		return listening(addr)
	}
	want := fmt.Sprintf(":%04X", p)
	return scanProc("/proc/net/tcp", func(f []string) bool {
		return len(f) > 9 && strings.HasSuffix(f[1], want) &&
			f[3] == "0A" && socks[f[9]]
	})
}

// socketInodes returns the inodes of process pid's sockets, as
// /proc/net/tcp names them; false when its descriptors cannot be read.
func socketInodes(pid int) (map[string]bool, bool) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, false
	}
	inodes := map[string]bool{}
	for _, e := range entries {
		link, _ := os.Readlink(filepath.Join(dir, e.Name()))
		if inode, ok := strings.CutPrefix(link, "socket:["); ok {
			inodes[strings.TrimSuffix(inode, "]")] = true
		}
	}
	return inodes, true
}

func dials(network, addr string) bool {
	c, err := net.DialTimeout(network, addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// procTCPListening looks for a socket in state LISTEN (0A) on port.
func procTCPListening(file, port string) bool {
	p, err := strconv.Atoi(port)
	if err != nil {
		return false
	}
	want := fmt.Sprintf(":%04X", p)
	return scanProc(file, func(f []string) bool {
		return len(f) > 3 && strings.HasSuffix(f[1], want) && f[3] == "0A"
	})
}

// procUnixListening looks for a listening (flag __SO_ACCEPTCON) unix
// socket at path; known is false when /proc/net/unix is unreadable.
func procUnixListening(path string) (found, known bool) {
	if _, err := os.Stat("/proc/net/unix"); err != nil {
		return false, false
	}
	return scanProc("/proc/net/unix", func(f []string) bool {
		return len(f) > 7 && f[7] == path && f[3] == "00010000"
	}), true
}

func scanProc(file string, match func([]string) bool) bool {
	f, err := os.Open(file)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if match(strings.Fields(sc.Text())) {
			return true
		}
	}
	return false
}

// lockedBuffer is a bytes.Buffer safe for a writer and readers at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
