package sink

import (
	"net"
	"sync"
	"syscall"
	"time"
)

// closeEvery is how long an ended session's descriptor may stay open,
// its sending side already shut.
const closeEvery = 10 * time.Millisecond

// closer ends sessions' connections: it shuts the sending side at once,
// so the client reads the end of the stream as after smtp-sink's close,
// and closes the descriptors in batches, every closeEvery.
//
// close(2) goes through the Go runtime's system-call bookkeeping, and a
// call made there after every processor has been idle wakes the
// runtime's monitor thread. A sink fed a connection per message by a
// single-threaded client idles between events, so each close woke it:
// about 4,000 to 7,000 wake-ups and 20 us naps per 10,000 messages,
// and on a two-core machine the monitor thread preempted the client on
// its core more than any other thread (perf sched). Batched, a
// wake-up serves a whole batch. shutdown(2) is made raw.
type closer struct {
	mu      sync.Mutex
	pending []net.Conn
	started bool // run is running
	stopped bool // stop was called: connections are closed at once
	every   time.Duration
	wake    chan struct{}
	quit    chan struct{}
	done    chan struct{}
}

func newCloser() *closer {
	return &closer{every: closeEvery, wake: make(chan struct{}, 1),
		quit: make(chan struct{}), done: make(chan struct{})}
}

// end ends conn: a plain connection has its sending side shut now and
// is closed within closeEvery; any other (TLS, whose close sends an
// alert first) is closed now.
func (c *closer) end(conn net.Conn) {
	c.mu.Lock()
	if c.stopped || !shutWrite(conn) {
		c.mu.Unlock()
		conn.Close()
		return
	}
	c.pending = append(c.pending, conn)
	if !c.started {
		c.started = true
		go c.run()
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// shutWrite shuts conn's sending side with a raw shutdown(2) and
// reports whether it did.
func shutWrite(conn net.Conn) bool {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	err = rc.Control(func(fd uintptr) {
		syscall.RawSyscall(syscall.SYS_SHUTDOWN, fd, syscall.SHUT_WR, 0)
	})
	return err == nil
}

func (c *closer) run() {
	defer close(c.done)
	t := time.NewTimer(c.every)
	for {
		select {
		case <-c.wake:
		case <-c.quit:
			c.closeAll()
			return
		}
		t.Reset(c.every)
		select {
		case <-t.C:
		case <-c.quit:
		}
		c.closeAll()
	}
}

// closeAll closes what is pending.
func (c *closer) closeAll() {
	c.mu.Lock()
	batch := c.pending
	c.pending = nil
	c.mu.Unlock()
	for _, conn := range batch {
		conn.Close()
	}
}

// stop closes what is pending and ends the batches; after it, end
// closes connections at once. It may be called more than once.
func (c *closer) stop() {
	c.mu.Lock()
	started, first := c.started, !c.stopped
	c.stopped = true
	c.mu.Unlock()
	if started && first {
		close(c.quit)
	}
	if started {
		<-c.done
	}
	c.closeAll()
}
