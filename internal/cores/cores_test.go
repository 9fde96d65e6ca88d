package cores

import (
	"context"
	"os"
	"runtime"
	"testing"
	"time"
)

// fakeGovernor is a governor with a clock and a CPU meter the test
// moves: each step is one sample at the given load, in cores.
type fakeGovernor struct {
	*Governor
	now   time.Time
	cpu   time.Duration
	procs []int // every GOMAXPROCS set
}

func newFake(max int) *fakeGovernor {
	f := &fakeGovernor{now: time.Unix(1e9, 0)}
	g := newGovernor(max, nil)
	g.sampleCPU = func() time.Duration { return f.cpu }
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
	f.step()
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
// spins saturates the single processor, so the governor must give it
// all; once it stops, the governor must go back to one.
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
	if !waitProcs(max, 3*time.Second) {
		// The governor is right not to raise when the process could
		// not get one core: other programs hold the machine.
		used := float64(processCPU()-cpu0) / float64(time.Since(wall0))
		if used < up {
			close(done)
			t.Skipf("the machine is too busy for one spinning "+
				"goroutine to get a core (%.2f of one)", used)
		}
		t.Fatalf("GOMAXPROCS %d with %.2f cores used, want %d",
			runtime.GOMAXPROCS(0), used, max)
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
