package sink

import (
	"fmt"
	"sync"
	"time"
)

// counterPrinter writes smtp-sink's -c counter, "sess=%d quit=%d
// mesg=%d\r", and our rate line. smtp-sink prints the counter at every
// session end and message end; here a goroutine prints the latest
// values when they moved, at most once per counterEvery, so thousands
// of messages a second cost a few writes, and the last line printed
// always has the final counts.
type counterPrinter struct {
	s        *Server
	wake     chan struct{}
	quit     chan struct{} // closed once the sessions have ended
	done     chan struct{} // closed when the last line is out
	stopOnce sync.Once
	last     [3]int64
}

func newCounterPrinter(s *Server) *counterPrinter {
	return &counterPrinter{s: s, wake: make(chan struct{}, 1),
		quit: make(chan struct{}), done: make(chan struct{})}
}

// stop prints the final counter and waits for it.
func (c *counterPrinter) stop() {
	if c == nil {
		return
	}
	c.stopOnce.Do(func() { close(c.quit) })
	<-c.done
}

// poke asks for the counter to be printed; it never blocks.
func (c *counterPrinter) poke() {
	if c == nil {
		return
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *counterPrinter) run() {
	defer close(c.done)
	var tick <-chan time.Time
	if d := c.s.cfg.RateInterval; d > 0 {
		t := time.NewTicker(d)
		defer t.Stop()
		tick = t.C
	}
	prev := c.s.Stats()
	var hold <-chan time.Time // running while a line is recent
	for {
		// While a line is recent, pokes wait in c.wake and wake
		// nobody; the hold's end lets the last one through.
		wake := c.wake
		if hold != nil {
			wake = nil
		}
		select {
		case <-wake:
			c.print()
			hold = time.After(counterEvery)
		case <-hold:
			hold = nil
		case <-tick:
			prev = c.rate(prev)
		case <-c.quit:
			c.print()
			return
		}
	}
}

// counterEvery is the least time between two counter lines. The
// counter moves at every message, faster than anyone reads it, and each
// line is a write(2) through the runtime's system-call bookkeeping,
// which wakes its monitor thread: printed at every message, the lines
// were 10,000 write(2) calls per 10,000 messages with -c.
const counterEvery = 50 * time.Millisecond

// print writes the counter if it changed.
func (c *counterPrinter) print() {
	w := c.s.cfg.Counter
	if w == nil {
		return
	}
	now := [3]int64{c.s.sessions.Load(), c.s.quits.Load(),
		c.s.messages.Load()}
	if now == c.last {
		return
	}
	c.last = now
	fmt.Fprintf(w, "sess=%d quit=%d mesg=%d\r", now[0], now[1], now[2])
}

// rate logs the rates since prev, if anything happened, and returns the
// new snapshot.
func (c *counterPrinter) rate(prev Stats) Stats {
	now := c.s.Stats()
	if now.Sessions == prev.Sessions && now.Messages == prev.Messages {
		return now
	}
	secs := (now.Elapsed - prev.Elapsed).Seconds()
	per := func(a, b int64) float64 { return float64(a-b) / secs }
	c.s.log.Info(fmt.Sprintf("rate: sess/s=%.0f mesg/s=%.0f rcpt/s=%.0f"+
		" bytes/s=%.0f active=%d", per(now.Sessions, prev.Sessions),
		per(now.Messages, prev.Messages),
		per(now.Recipients, prev.Recipients),
		per(now.Bytes, prev.Bytes), now.Active))
	return now
}
