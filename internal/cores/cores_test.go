package cores

import (
	"context"
	"os"
	"runtime"
	"testing"
	"time"
)

// fakeGovernor is a governor with a clock, a CPU meter and a machine
// idle meter the test moves: each step is one sample at the given load
// and the given idle cores.
type fakeGovernor struct {
	*Governor
	now       time.Time
	cpu       time.Duration
	idle      time.Duration
	spare     float64 // idle cores in the next samples
	idleKnown bool
	procs     []int // every GOMAXPROCS set
}

func newFake(max int) *fakeGovernor {
	f := &fakeGovernor{now: time.Unix(1e9, 0), spare: 2, idleKnown: true}
	g := newGovernor(max, nil)
	g.sampleCPU = func() time.Duration { return f.cpu }
	g.sampleIdle = func() (time.Duration, bool) {
		return f.idle, f.idleKnown
	}
	g.sampleTime = func() time.Time { return f.now }
	g.setProcs = func(n int) int {
		f.procs = append(f.procs, n)
		return 0
	}
	f.Governor = g
	f.start()
	return f
}

func (f *fakeGovernor) load(cores float64) {
	f.now = f.now.Add(sample)
	f.cpu += time.Duration(cores * float64(sample))
	f.idle += time.Duration(f.spare * float64(sample))
	f.step()
}

// TestNoSpareCore: a saturated core does not raise the processors
// while the rest of the machine is busy, and does once a core is idle.
func TestNoSpareCore(t *testing.T) {
	f := newFake(2)
	f.spare = 0.1 // the peer holds the other core
	for range 20 {
		f.load(1.0)
	}
	if f.cur != 1 {
		t.Fatalf("raised to %d with no idle core", f.cur)
	}

	// One sample with room after the busy ones is not yet enough.
	f.spare = 0.9
	f.load(1.0)
	if f.cur != 1 {
		t.Fatalf("raised to %d after one sample with room", f.cur)
	}
	f.load(1.0)
	if f.cur != 2 {
		t.Fatalf("%d processors with a core idle, want 2", f.cur)
	}
}

// TestIdleUnknown: without /proc/stat the governor raises on the load
// alone, as it cannot tell whether a core is free.
func TestIdleUnknown(t *testing.T) {
	f := newFake(2)
	f.idleKnown, f.spare = false, 0
	f.load(1.0)
	f.load(1.0)
	if f.cur != 2 {
		t.Fatalf("%d processors, want 2", f.cur)
	}
}

func TestParseIdle(t *testing.T) {
	stat := "cpu  4705 356 584 3699 23 0 7 0 0 0\n" +
		"cpu0 1393 280 289 1757 12 0 5 0 0 0\n"
	got, ok := parseIdle([]byte(stat))
	// (3699 + 23) ticks of 10 ms.
	if want := 37220 * time.Millisecond; !ok || got != want {
		t.Errorf("parseIdle = %v, %v; want %v, true", got, ok, want)
	}

	for _, bad := range []string{
		"", "intr 1 2 3 4 5 6\n", "cpu 1 2 3\n", "cpu 1 2 3 x 5\n",
	} {
		if got, ok := parseIdle([]byte(bad)); ok {
			t.Errorf("parseIdle(%q) = %v, true; want false", bad, got)
		}
	}

	if _, err := os.Stat("/proc/stat"); err == nil {
		if _, ok := machineIdle(); !ok {
			t.Error("machineIdle cannot read this machine's /proc/stat")
		}
	}
}

func TestThresholds(t *testing.T) {
	f := newFake(4)
	if f.cur != 1 {
		t.Fatalf("starts with %d processors, want 1", f.cur)
	}

	// Busy but below one saturated core: stays at one.
	for range 20 {
		f.load(0.9)
	}
	// One sample past it is a blip, not a need.
	f.load(1.0)
	f.load(0.9)
	if f.cur != 1 {
		t.Fatalf("raised to %d on a blip", f.cur)
	}
	// Saturated for two samples: all processors.
	f.load(1.0)
	f.load(1.0)
	if f.cur != 4 {
		t.Fatalf("%d processors after one core was saturated, want 4",
			f.cur)
	}

	// A load between the thresholds keeps them.
	for range 30 {
		f.load(0.8)
	}
	if f.cur != 4 {
		t.Fatalf("dropped to %d at a load above the lower threshold",
			f.cur)
	}
	// Light for nine samples and then not: kept.
	for range downAfter - 1 {
		f.load(0.3)
	}
	f.load(0.8)
	if f.cur != 4 {
		t.Fatalf("dropped to %d before the load stayed low", f.cur)
	}
	// Light for long enough: back to one.
	for range downAfter {
		f.load(0.3)
	}
	if f.cur != 1 {
		t.Fatalf("%d processors after a light load, want 1", f.cur)
	}
	want := []int{1, 4, 1}
	if len(f.procs) != len(want) {
		t.Fatalf("GOMAXPROCS set to %v, want %v", f.procs, want)
	}
	for i := range want {
		if f.procs[i] != want[i] {
			t.Fatalf("GOMAXPROCS set to %v, want %v", f.procs, want)
		}
	}
}

// TestRealLoad runs the governor in this process: one goroutine that
// spins saturates the single processor while the machine has cores
// idle, so the governor must give it all; once it stops, the governor
// must go back to one.
func TestRealLoad(t *testing.T) {
	if runtime.NumCPU() < 2 || os.Getenv("GOMAXPROCS") != "" {
		t.Skip("needs two cores and GOMAXPROCS unset")
	}
	max := runtime.GOMAXPROCS(0)
	stop := Start(context.Background(), nil)
	defer stop()

	// waitProcs waits for GOMAXPROCS to become want, and says whether
	// it did within the time.
	waitProcs := func(want int, within time.Duration) bool {
		deadline := time.Now().Add(within)
		for runtime.GOMAXPROCS(0) != want {
			if time.Now().After(deadline) {
				return false
			}
			time.Sleep(20 * time.Millisecond)
		}
		return true
	}
	if !waitProcs(1, time.Second) {
		t.Fatalf("GOMAXPROCS %d after the start, want 1",
			runtime.GOMAXPROCS(0))
	}

	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			for i := 0; i < 1e5; i++ {
				_ = i * i
			}
		}
	}()
	cpu0, wall0 := processCPU(), time.Now()
	idle0, _ := machineIdle()
	if !waitProcs(max, 3*time.Second) {
		// The governor is right not to raise when the process could
		// not get one core, or no other core was idle: other programs
		// hold the machine.
		dw := float64(time.Since(wall0))
		used := float64(processCPU()-cpu0) / dw
		idle1, _ := machineIdle()
		free := float64(idle1-idle0) / dw
		if used < up || free < spare+0.1 {
			close(done)
			t.Skipf("the machine is too busy to test: %.2f of one "+
				"core used, %.2f cores idle", used, free)
		}
		t.Fatalf("GOMAXPROCS %d with %.2f cores used and %.2f idle, "+
			"want %d", runtime.GOMAXPROCS(0), used, free, max)
	}
	close(done)
	if !waitProcs(1, downAfter*sample+3*time.Second) {
		t.Fatalf("GOMAXPROCS %d after the load stopped, want 1",
			runtime.GOMAXPROCS(0))
	}

	stop()
	if n := runtime.GOMAXPROCS(0); n != max {
		t.Errorf("stop left GOMAXPROCS at %d, want %d", n, max)
	}
}
