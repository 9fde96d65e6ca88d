package postfixtest

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Result is what one run of a program left behind.
type Result struct {
	Stdout   string
	Stderr   string
	ExitCode int // -1 when a signal ended the program
	Elapsed  time.Duration
	TimedOut bool // the program was killed at the time bound
}

// Run runs bin with args, stdin empty, and waits for it to exit. A run
// that outlives timeout is killed and fails the test.
func Run(t testing.TB, timeout time.Duration, bin string,
	args ...string) Result {
	t.Helper()
	r := RunBounded(t, timeout, bin, args...)
	if r.TimedOut {
		t.Fatalf("%s %s: still running after %v; killed\nstderr:\n%s",
			bin, quoteArgs(args), timeout, r.Stderr)
	}
	return r
}

// RunBounded is Run for programs that may hang on purpose (a client
// facing a silent server): at the time bound it kills the program and
// reports TimedOut instead of failing the test.
func RunBounded(t testing.TB, timeout time.Duration, bin string,
	args ...string) Result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	// Its own process group, so that the kill reaches any children.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 2 * time.Second

	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	var timedOut atomic.Bool
	timer := time.AfterFunc(timeout, func() {
		timedOut.Store(true)
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	})
	err := cmd.Wait()
	elapsed := time.Since(start)
	timer.Stop()

	r := Result{
		Stdout:   stdout.String(),
		Stderr:   stderr.String(),
		Elapsed:  elapsed,
		TimedOut: timedOut.Load(),
	}
	var exit *exec.ExitError
	switch {
	case err == nil, errors.Is(err, exec.ErrWaitDelay):
		r.ExitCode = cmd.ProcessState.ExitCode()
	case errors.As(err, &exit):
		r.ExitCode = exit.ExitCode()
	default:
		t.Fatalf("wait %s: %v", bin, err)
	}
	return r
}

// quoteArgs renders args for a log line, quoting the empty ones.
func quoteArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = a
		if a == "" || strings.ContainsAny(a, " \t'\"") {
			q[i] = "'" + a + "'"
		}
	}
	return strings.Join(q, " ")
}
