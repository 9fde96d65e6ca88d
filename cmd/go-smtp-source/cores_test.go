package main

import (
	"net"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// TestProcessorsFitTheLoad: a run of one session or many runs on one
// processor while it needs no more (package cores), and gives the
// processors back at its end.
func TestProcessorsFitTheLoad(t *testing.T) {
	max := runtime.GOMAXPROCS(0)
	if max < 2 || os.Getenv("GOMAXPROCS") != "" {
		t.Skip("needs two processors and GOMAXPROCS unset")
	}

	for _, c := range []struct {
		sessions int
		want     int // the fewest processors seen during the run
	}{
		{sessions: 1, want: 1},
		{sessions: 4, want: 1},
	} {
		var fewest atomic.Int64
		fewest.Store(int64(max))
		done := make(chan struct{})
		watched := make(chan struct{})
		go func() {
			defer close(watched)
			for {
				if n := int64(runtime.GOMAXPROCS(0)); n < fewest.Load() {
					fewest.Store(n)
				}
				select {
				case <-done:
					return
				case <-time.After(time.Millisecond):
				}
			}
		}()

		r := runCmd(t, "-s", strconv.Itoa(c.sessions), "-m", "3000",
			"sink:")
		close(done)
		<-watched
		if r.code != 0 {
			t.Fatalf("-s %d: exit %d, stderr:\n%s", c.sessions,
				r.code, r.stderr)
		}
		if got := r.summary(t); got != (counts{3000, 0, 3000}) {
			t.Errorf("-s %d: summary %+v, want 3000 accepted in "+
				"3000 sessions", c.sessions, got)
		}
		if got := int(fewest.Load()); got != c.want {
			t.Errorf("-s %d: as few as %d processors during the "+
				"run, want %d", c.sessions, got, c.want)
		}
		if n := runtime.GOMAXPROCS(0); n != max {
			t.Errorf("-s %d: %d processors after the run, want %d",
				c.sessions, n, max)
		}
	}
}

// TestBlockingFits: blocking sockets only for one session to a TCP
// address of another process.
func TestBlockingFits(t *testing.T) {
	tcp := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 25}
	unix := &net.UnixAddr{Name: "/s", Net: "unix"}
	for _, c := range []struct {
		sessions int
		sk       *builtinSink
		addr     net.Addr
		want     bool
	}{
		{1, nil, tcp, true},
		{2, nil, tcp, false},
		{1, &builtinSink{}, tcp, false},
		{1, nil, unix, false},
	} {
		if got := blockingFits(c.sessions, c.sk, c.addr); got != c.want {
			t.Errorf("blockingFits(%d, %v, %v) = %v, want %v",
				c.sessions, c.sk != nil, c.addr, got, c.want)
		}
	}
}
