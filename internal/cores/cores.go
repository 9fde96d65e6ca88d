// Package cores fits the number of Go processors (GOMAXPROCS) to the
// load: one while the process needs less than one core, all of them
// when one is not enough.
//
// A session's work between two system calls is a few microseconds.
// With a second processor idle, the runtime wakes a thread for it at
// every network event, and that thread mostly finds nothing to do: on
// a two-core machine shared with a single-threaded peer (Postfix's
// smtp-source or smtp-sink), those wake-ups take CPU from the peer and
// lower the rate of both. One processor serves until the process keeps
// it busy; then the governor gives it the others, and takes them back
// when the load falls.
package cores

import (
	"context"
	"log/slog"
	"os"
	"runtime"
	"syscall"
	"time"
)

// The governor's thresholds, in cores used (CPU seconds per second,
// all threads): more than up for upAfter samples in a row, and one
// processor is not enough; less than down for downAfter samples, and
// one is.
const (
	sample    = 200 * time.Millisecond
	up        = 0.95
	upAfter   = 2
	down      = 0.75
	downAfter = 10
)

// Governor adjusts GOMAXPROCS between 1 and a maximum.
type Governor struct {
	max int
	log *slog.Logger

	cur        int
	lastCPU    time.Duration
	lastWall   time.Time
	high, low  int // samples in a row above up, below down
	sampleCPU  func() time.Duration
	setProcs   func(int) int
	sampleTime func() time.Time
}

// Start runs a governor until ctx is done, and returns a function that
// stops it and restores the processors the program started with. It
// does nothing, and returns a no-op, on a single-core machine or when
// the user set GOMAXPROCS in the environment.
func Start(ctx context.Context, log *slog.Logger) (stop func()) {
	max := runtime.GOMAXPROCS(0)
	if max < 2 || os.Getenv("GOMAXPROCS") != "" {
		return func() {}
	}
	g := newGovernor(max, log)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		g.run(ctx)
	}()
	return func() {
		cancel()
		<-done
		runtime.GOMAXPROCS(max)
	}
}

func newGovernor(max int, log *slog.Logger) *Governor {
	g := &Governor{
		max:        max,
		log:        log,
		sampleCPU:  processCPU,
		setProcs:   runtime.GOMAXPROCS,
		sampleTime: time.Now,
	}
	return g
}

func (g *Governor) run(ctx context.Context) {
	g.start()
	t := time.NewTicker(sample)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			g.step()
		}
	}
}

// start takes the first sample and goes down to one processor.
func (g *Governor) start() {
	g.lastCPU, g.lastWall = g.sampleCPU(), g.sampleTime()
	g.set(1)
}

// step takes a sample and moves GOMAXPROCS when the load has stayed
// past a threshold long enough.
func (g *Governor) step() {
	cpu, wall := g.sampleCPU(), g.sampleTime()
	dw := wall.Sub(g.lastWall)
	used := 0.0
	if dw > 0 {
		used = float64(cpu-g.lastCPU) / float64(dw)
	}
	g.lastCPU, g.lastWall = cpu, wall

	switch {
	case used > up:
		g.high, g.low = g.high+1, 0
	case used < down:
		g.high, g.low = 0, g.low+1
	default:
		g.high, g.low = 0, 0
	}

	switch {
	case g.cur == 1 && g.high >= upAfter:
		g.set(g.max)
	case g.cur > 1 && g.low >= downAfter:
		g.set(1)
	}
}

func (g *Governor) set(n int) {
	if n == g.cur {
		return
	}
	g.setProcs(n)
	g.cur, g.high, g.low = n, 0, 0
	if g.log != nil {
		g.log.Debug("processors", "gomaxprocs", n)
	}
}

// processCPU returns the CPU time the process has used, user and
// system, in all its threads.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
