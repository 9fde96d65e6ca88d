// Package cores fits the number of Go processors (GOMAXPROCS) to the
// load: one while the process needs less than one core, all of them
// when one is not enough and the machine has cores to spare.
//
// A session's work between two system calls is a few microseconds.
// With a second processor idle, the runtime wakes a thread for it at
// every network event, and that thread mostly finds nothing to do: on
// a two-core machine shared with a single-threaded peer (Postfix's
// smtp-source or smtp-sink), those wake-ups take CPU from the peer and
// lower the rate of both. One processor serves until the process keeps
// it busy; then the governor gives it the others, and takes them back
// when the load falls.
//
// A saturated core is not enough reason on its own: when the peer
// holds the other cores (a load generator and the server it measures
// on one small machine), more processors only fight it for them, and
// the pair goes slower. So the governor raises only while the machine
// has at least half a core idle, as /proc/stat counts it. Where there
// is no /proc/stat it cannot tell, and raises on load alone.
package cores

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
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

	// spare is the idle CPU, in cores of the whole machine, that must
	// be left for more processors to have somewhere to run.
	spare = 0.5
)

// Governor adjusts GOMAXPROCS between 1 and a maximum.
type Governor struct {
	max int
	log *slog.Logger

	cur       int
	lastCPU   time.Duration
	lastIdle  time.Duration
	lastWall  time.Time
	high, low int // samples in a row above up (with spare), below down

	sampleCPU  func() time.Duration
	sampleIdle func() (time.Duration, bool)
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
		sampleIdle: machineIdle,
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
	g.lastIdle, _ = g.sampleIdle()
	g.set(1)
}

// step takes a sample and moves GOMAXPROCS when the load has stayed
// past a threshold long enough.
func (g *Governor) step() {
	cpu, wall := g.sampleCPU(), g.sampleTime()
	idle, known := g.sampleIdle()
	dw := wall.Sub(g.lastWall)
	used, idleCores := 0.0, 0.0
	if dw > 0 {
		used = float64(cpu-g.lastCPU) / float64(dw)
		idleCores = float64(idle-g.lastIdle) / float64(dw)
	}
	g.lastCPU, g.lastIdle, g.lastWall = cpu, idle, wall
	room := !known || idleCores >= spare

	switch {
	case used > up && room:
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

// userHZ is the unit of /proc/stat's times: Linux reports them in
// USER_HZ ticks, 100 a second on every architecture Go supports there.
const userHZ = 100

// machineIdle returns the time all the machine's cores have spent idle
// (or waiting for I/O) since boot, from /proc/stat, and whether it
// could read it.
func machineIdle() (time.Duration, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	return parseIdle(b)
}

// parseIdle reads the idle and iowait ticks from the first line of
// /proc/stat: "cpu user nice system idle iowait ...".
func parseIdle(stat []byte) (time.Duration, bool) {
	line, _, _ := bytes.Cut(stat, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 6 || f[0] != "cpu" {
		return 0, false
	}
	var ticks uint64
	for _, s := range f[4:6] {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, false
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, true
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
