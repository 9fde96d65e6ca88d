package sinkinterop_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/postfixtest"
)

// startSinkProcess starts the go-smtp-sink binary on a free port with
// args before the address, and returns the process and the address.
// A non-empty wrap is a command to run it under, such as prlimit(1).
func startSinkProcess(t *testing.T, wrap []string,
	args ...string) (*exec.Cmd, string) {

	t.Helper()
	bin := postfixtest.GoBuild(t, "./cmd/go-smtp-sink")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	argv := append(append(append(wrap, bin), args...), addr, "1024")
	cmd := exec.Command(argv[0], argv[1:]...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	c, err := dialRetry(addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	return cmd, addr
}

// peakRSS returns the process's peak resident set size in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}

// hostile is one kind of client that sends without end: what it says
// first, then filler until the sink hangs up or the time is over.
type hostile struct {
	name   string
	opener string
	filler []byte
}

var hostiles = []hostile{
	// A command line without end.
	{"endless line", "HELO ", []byte(strings.Repeat("x", 8192))},
	// Message content without its end: no CR LF . CR LF ever.
	{"endless DATA", "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n" +
		"DATA\r\n", []byte(strings.Repeat("y", 8190) + "\r\n")},
	// A BDAT chunk announced at the sink's largest, then sent.
	{"huge BDAT", "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n" +
		"BDAT 67108864 LAST\r\n", []byte(strings.Repeat("z", 8192))},
	// Commands without end, pipelined faster than replies are read.
	{"command flood", "", []byte(strings.Repeat("NOOP\r\n", 1365))},
}

// TestSinkMemoryBound has the sink's full 256 sessions send without
// end: endless lines, content, BDAT chunks and command floods, with
// no reply ever read. The sink must keep its memory bounded however
// much comes in, and still serve a well-behaved client afterwards.
func TestSinkMemoryBound(t *testing.T) {
	const (
		perKind = 64 // 4 kinds: the sink's default -m 256
		runFor  = 3 * time.Second
		bound   = 64 << 20
	)
	cmd, addr := startSinkProcess(t, nil, "--no-summary", "--chunking",
		"-t", "5")

	var sent atomic.Int64
	var wg sync.WaitGroup
	stop := time.Now().Add(runFor)
	for _, h := range hostiles {
		for range perKind {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sent.Add(h.flood(addr, stop))
			}()
		}
	}
	wg.Wait()

	peak := peakRSS(t, cmd.Process.Pid)
	t.Logf("clients sent %d MiB; the sink's peak RSS %d MiB",
		sent.Load()>>20, peak>>20)
	if peak > bound {
		t.Errorf("sink peak RSS %d MiB, want under %d MiB", peak>>20,
			bound>>20)
	}
	if sent.Load() < 4*bound {
		t.Errorf("the clients sent only %d MiB: too little to show "+
			"a bound of %d MiB", sent.Load()>>20, bound>>20)
	}
	checkServes(t, addr)
}

// flood connects, sends the opener and then the filler until stop or
// until the sink hangs up, and returns the bytes written.
func (h hostile) flood(addr string, stop time.Time) int64 {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return 0
	}
	defer c.Close()
	c.SetWriteDeadline(stop)
	n, err := io.WriteString(c, h.opener)
	total := int64(n)
	for err == nil {
		n, err = c.Write(h.filler)
		total += int64(n)
	}
	return total
}

// checkServes runs one plain transaction against the sink.
func checkServes(t *testing.T, addr string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("after the flood: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "HELO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n"+
		"DATA\r\nhi\r\n.\r\nQUIT\r\n")
	r := bufio.NewReader(c)
	var codes []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			break
		}
		codes = append(codes, line[:3])
	}
	want := "220 250 250 250 354 250 221"
	if got := strings.Join(codes, " "); got != want {
		t.Errorf("after the flood, replies %s, want %s", got, want)
	}
}

// TestSinkCutsSlowloris trickles a command line a byte at a time,
// faster than -t but never finishing it: the sink must hang up once
// the line has taken -t, where a limit per read would wait for ever.
func TestSinkCutsSlowloris(t *testing.T) {
	const limit = 2 * time.Second
	_, addr := startSinkProcess(t, nil, "--no-summary", "-t", "2")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, err := r.ReadString('\n'); err != nil ||
		!strings.HasPrefix(line, "220") {
		t.Fatalf("greeting %q, %v", line, err)
	}

	start := time.Now()
	closed := make(chan time.Duration, 1)
	go func() {
		// Anything but a hang-up is a failure; the hang-up's time is
		// the result.
		io.Copy(io.Discard, r)
		closed <- time.Since(start)
	}()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case d := <-closed:
			if d < limit-time.Second || d > limit+2*time.Second {
				t.Errorf("cut after %v, want about %v", d, limit)
			}
			return
		case <-tick.C:
			if time.Since(start) > 3*limit {
				t.Fatalf("still connected after %v of trickling",
					time.Since(start).Round(time.Millisecond))
			}
			c.Write([]byte("x"))
		}
	}
}
