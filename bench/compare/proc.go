package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// usage is what one process cost.
type usage struct {
	user, sys time.Duration
	rssKiB    int64 // peak resident set size
	minflt    int64 // minor page faults
}

// cpu returns user plus system time.
func (u usage) cpu() time.Duration { return u.user + u.sys }

// timedCmd returns a command that runs argv under GNU time, which writes
// the program's peak RSS (KiB) and minor page faults to the file out.
//
// Why not wait4's ru_maxrss of a direct child: os/exec starts children
// with vfork semantics (CLONE_VM), and Linux carries the high-water mark of
// the memory a process had before execve into its ru_maxrss, so a direct
// child's peak RSS would include this program's. GNU time forks a small
// process of its own first.
//
// The command runs in its own process group, which a cancelled ctx kills
// whole, so no program outlives a run.
func timedCmd(ctx context.Context, timePath, out string,
	argv []string) *exec.Cmd {
	args := append([]string{"-o", out, "-f", "%M %R"}, argv...)
	cmd := exec.CommandContext(ctx, timePath, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// usageOf returns the usage of a finished timedCmd. The CPU times come
// from wait4 on time, which includes the program time waited for; time's
// own share is a millisecond or so.
func usageOf(cmd *exec.Cmd, out string) (usage, error) {
	var u usage
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		u.user = time.Duration(ru.Utime.Nano())
		u.sys = time.Duration(ru.Stime.Nano())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return u, fmt.Errorf("read time output: %w", err)
	}
	u.rssKiB, u.minflt, err = parseTime(string(b))
	return u, err
}

// parseTime reads the "%M %R" (peak RSS in KiB, minor page faults) that
// GNU time writes as its last line, after lines such as "Command
// terminated by signal 15".
func parseTime(s string) (rssKiB, minflt int64, err error) {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	f := strings.Fields(lines[len(lines)-1])
	if len(f) != 2 {
		return 0, 0, fmt.Errorf("time output %q: no peak RSS and faults", s)
	}
	rssKiB, err = strconv.ParseInt(f[0], 10, 64)
	if err == nil {
		minflt, err = strconv.ParseInt(f[1], 10, 64)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("time output %q: no peak RSS and faults", s)
	}
	return rssKiB, minflt, nil
}

// sinkProc is a running sink.
type sinkProc struct {
	addr    string
	cmd     *exec.Cmd
	timeOut string // time's output file
	stdout  string // the file the sink's -c counters go to
	stderr  *headWriter
	done    chan struct{} // closed when time has exited
	waitErr error
}

// startSink starts a sink on a new loopback port and waits until it
// greets.
func (b *bench) startSink(ctx context.Context, argv []string) (*sinkProc,
	error) {
	port, err := b.freePort()
	if err != nil {
		return nil, err
	}
	s := &sinkProc{
		addr:    net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		timeOut: b.tempName("sink-time"),
		stdout:  b.tempName("sink-stdout"),
		stderr:  &headWriter{max: 4096},
		done:    make(chan struct{}),
	}
	out, err := os.Create(s.stdout)
	if err != nil {
		return nil, err
	}
	defer out.Close()

	s.cmd = timedCmd(ctx, b.cfg.timePath, s.timeOut, b.sinkArgv(argv, s.addr))
	s.cmd.Stdout = out
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start sink: %w", err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.done)
	}()
	if err := s.awaitGreeting(ctx); err != nil {
		s.kill()
		return nil, err
	}
	return s, nil
}

// sinkArgv completes a sink's argv with -u (as root), -c, the address and
// the backlog.
func (b *bench) sinkArgv(argv []string, addr string) []string {
	out := []string{argv[0]}
	if os.Geteuid() == 0 {
		out = append(out, "-u", b.cfg.user)
	}
	out = append(out, "-c")
	out = append(out, argv[1:]...)
	return append(out, addr, strconv.Itoa(b.cfg.backlog))
}

// awaitGreeting connects until the sink answers, reads its greeting and
// says QUIT. The probe session counts no message.
func (s *sinkProc) awaitGreeting(ctx context.Context) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err == nil {
			return greetAndQuit(c)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sink did not listen on %s in 10s: %w",
				s.addr, err)
		}
		select {
		case <-s.done:
			return fmt.Errorf("sink exited at start (%v): %s", s.waitErr,
				s.stderr.firstLine())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// greetAndQuit reads an SMTP greeting on c, says QUIT and closes c.
func greetAndQuit(c net.Conn) error {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	code, err := readReply(r)
	if err != nil || code != "220" {
		return fmt.Errorf("sink greeting %q: %v", code, err)
	}
	if _, err := c.Write([]byte("QUIT\r\n")); err != nil {
		return fmt.Errorf("sink probe: %w", err)
	}
	_, err = readReply(r)
	return err
}

// readReply reads one (possibly multi-line) reply and returns its code.
func readReply(r *bufio.Reader) (string, error) {
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", err
		}
		if len(line) < 4 || line[3] != '-' {
			return line[:min(3, len(line))], nil
		}
	}
}

// stop ends the sink with SIGTERM and returns its usage and the last
// message count it printed.
func (s *sinkProc) stop() (usage, int, error) {
	pid, err := childPID(s.cmd.Process.Pid)
	if err == nil {
		err = syscall.Kill(pid, syscall.SIGTERM)
	}
	if err != nil {
		s.kill()
		return usage{}, 0, fmt.Errorf("stop sink: %w", err)
	}
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.kill()
		return usage{}, 0, errors.New("sink ignored SIGTERM for 10s")
	}

	u, err := usageOf(s.cmd, s.timeOut)
	if err != nil {
		return u, 0, err
	}
	b, err := os.ReadFile(s.stdout)
	if err != nil {
		return u, 0, err
	}
	mesg, err := lastMesg(string(b))
	return u, mesg, err
}

// kill ends the sink and time with SIGKILL and waits for them.
func (s *sinkProc) kill() {
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.done
}

// childPID returns the one child of process pid: the program that GNU
// time runs.
func childPID(pid int) (int, error) {
	name := fmt.Sprintf("/proc/%d/task/%d/children", pid, pid)
	b, err := os.ReadFile(name)
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) != 1 {
		return 0, fmt.Errorf("%s: want one child, have %q", name, b)
	}
	return strconv.Atoi(f[0])
}

// lastMesg returns the last count in the "sess=%d quit=%d mesg=%d\r"
// lines that smtp-sink -c prints.
func lastMesg(out string) (int, error) {
	i := strings.LastIndex(out, "mesg=")
	if i < 0 {
		return 0, errors.New("sink printed no mesg= counter")
	}
	digits := out[i+len("mesg="):]
	end := strings.IndexFunc(digits, func(r rune) bool {
		return r < '0' || r > '9'
	})
	if end >= 0 {
		digits = digits[:end]
	}
	n, err := strconv.Atoi(digits)
	if err != nil {
		return 0, fmt.Errorf("sink counter mesg=%q: %w", digits, err)
	}
	return n, nil
}

// freePort returns a loopback port nothing listens on, and never one this
// run used before: an old sink's sessions may linger in TIME_WAIT.
func (b *bench) freePort() (int, error) {
	for range 100 {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("find a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !b.used[port] {
			b.used[port] = true
			return port, nil
		}
	}
	return 0, errors.New("find a free port: only used ones offered")
}

// headWriter keeps the first max bytes written to it and drops the rest.
type headWriter struct {
	max int
	buf []byte
}

// Write keeps what fits and always succeeds.
func (w *headWriter) Write(p []byte) (int, error) {
	room := w.max - len(w.buf)
	w.buf = append(w.buf, p[:max(0, min(room, len(p)))]...)
	return len(p), nil
}

// firstLine returns the first non-empty line written, or "(nothing)".
func (w *headWriter) firstLine() string {
	for _, line := range strings.Split(string(w.buf), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			return line
		}
	}
	return "(nothing)"
}
