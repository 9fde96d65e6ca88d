package sinkinterop_test

import (
	"bufio"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// go-smtp-sink started with a soft file descriptor limit far below the
// sessions it must hold still serves them all: the Go runtime raises
// the soft limit to the hard limit when the program starts (Go 1.19
// and later), which is what smtp-sink users would do with ulimit -n.
func TestSessionsBeyondSoftFDLimit(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("no prlimit(1) to start the sink with a low limit")
	}
	const soft, sessions = 256, 1000
	_, addr := startSinkProcess(t,
		[]string{prlimit, "--nofile=" + strconv.Itoa(soft) + ":", "--"},
		"--no-summary", "-m", "2000")

	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < sessions; i++ {
		c, err := dialRetry(addr)
		if err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
		conns = append(conns, c)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "220 ") {
			t.Fatalf("session %d of %d (soft limit %d): greeting %q, %v",
				i+1, sessions, soft, line, err)
		}
	}
}

// dialRetry connects, waiting a little for the sink to start listening.
func dialRetry(addr string) (net.Conn, error) {
	var err error
	for range 50 {
		var c net.Conn
		if c, err = net.Dial("tcp", addr); err == nil {
			return c, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, err
}
