package metrics

import (
	"context"
	"slices"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// The histograms' geometry. Run histograms: nanoseconds from 1 ns to 24
// hours with 3 significant digits. Per-second histograms use 2 digits,
// which keeps the series small.
const (
	hdrLowest     = 1
	hdrHighest    = 24 * 3600 * int64(time.Second)
	hdrSigFigs    = 3
	seriesSigFigs = 2
)

// stats are the exact count, sum, minimum and maximum of a phase's
// latencies, which histograms only approximate.
type stats struct {
	n, sum, min, max int64
}

func (a *stats) add(v int64) {
	if a.n == 0 || v < a.min {
		a.min = v
	}
	a.max = max(a.max, v)
	a.n++
	a.sum += v
}

// totals are the run's numbers since the start.
type totals struct {
	n        counters
	stats    [NumPhases]stats
	hists    [NumPhases]*hdr.Histogram // allocated when first needed
	replies  map[replyKey]int64
	enhanced map[Enhanced]int64
	errors   map[errKey]int64
	tls      map[uint32]int64 // version<<16 | cipher suite
}

// pending is what the current second has seen so far.
type pending struct {
	n     counters
	stats [NumPhases]stats
	hists [NumPhases]*hdr.Histogram // only for seriesHist phases
}

// seriesHist reports whether the per-second series keeps a histogram of
// phase p; the others keep exact statistics only.
func seriesHist(p Phase) bool {
	return p == Transaction || p == TransactionFromIntended
}

// Progress holds live numbers for a progress line, as of the last Tick.
type Progress struct {
	Elapsed   time.Duration // from the start to the last Tick
	Attempted int64         // messages that ended, in any way
	Accepted  int64         // messages accepted
	Failed    int64         // messages refused by the server (4xx, 5xx)
	Errors    int64         // messages lost to the transport, or unknown
	Late      int64         // sends started after their scheduled time
	Dropped   int64         // scheduled sends skipped
	Sessions  int64         // sessions open
	Rate      float64       // messages accepted per second, last interval
}

// A Recorder collects a run's measurements from its shards. Create it
// with New; its methods are safe for concurrent use.
type Recorder struct {
	start   time.Time
	startNS int64

	mu     sync.Mutex // guards shards
	shards []*Shard

	// The ticker's state.
	tickMu  sync.Mutex
	lastNS  int64 // wall clock of the last tick, ns
	scratch []*Shard
	tot     totals
	pend    pending
	series  []*Point

	progMu sync.Mutex
	prog   Progress
}

// New returns a Recorder for a run that started at start.
func New(start time.Time) *Recorder {
	ns := start.UnixNano()
	return &Recorder{
		start:   start,
		startNS: ns,
		lastNS:  ns,
		tot: totals{
			replies:  make(map[replyKey]int64),
			enhanced: make(map[Enhanced]int64),
			errors:   make(map[errKey]int64),
			tls:      make(map[uint32]int64),
		},
	}
}

// NewShard returns a new shard for one session to record into.
func (r *Recorder) NewShard() *Shard {
	s := &Shard{r: r, cur: newInterval(), spare: newInterval()}
	r.mu.Lock()
	r.shards = append(r.shards, s)
	r.mu.Unlock()
	return s
}

// Tick moves what every shard recorded into the run totals and closes
// one point of the per-second series, labelled with the second that
// holds the middle of the interval since the previous Tick. Call it
// once a second, ideally on whole seconds as Start does; between ticks
// each shard keeps its latencies in a buffer of 8 bytes each.
func (r *Recorder) Tick(now time.Time) {
	r.tickMu.Lock()
	defer r.tickMu.Unlock()

	r.drain()

	end := r.startNS + now.Sub(r.start).Nanoseconds()
	mid := r.lastNS + (end-r.lastNS)/2
	r.addPoint(floorDiv(mid, int64(time.Second)))
	r.progress(end)

	r.pend.n = counters{}
	r.pend.stats = [NumPhases]stats{}
	for _, h := range r.pend.hists {
		if h != nil {
			h.Reset()
		}
	}
	r.lastNS = max(r.lastNS, end)
}

// drain takes every shard's interval and forgets closed shards.
func (r *Recorder) drain() {
	r.mu.Lock()
	r.scratch = append(r.scratch[:0], r.shards...)
	r.mu.Unlock()

	gone := false
	for _, s := range r.scratch {
		iv, closed := s.swap()
		r.absorb(iv)
		iv.reset()
		s.spare = iv
		s.gone = closed
		gone = gone || closed
	}
	if !gone {
		return
	}

	r.mu.Lock()
	r.shards = slices.DeleteFunc(r.shards, func(s *Shard) bool {
		return s.gone
	})
	r.mu.Unlock()
}

// absorb adds one shard interval to the totals and the pending second.
func (r *Recorder) absorb(iv *interval) {
	for _, x := range iv.vals {
		p, v := Phase(x>>phaseShift), int64(x&valueMask)
		r.tot.stats[p].add(v)
		record(&r.tot.hists[p], hdrSigFigs, v)
		r.pend.stats[p].add(v)
		if seriesHist(p) {
			record(&r.pend.hists[p], seriesSigFigs, v)
		}
	}
	r.tot.n.add(&iv.n)
	r.pend.n.add(&iv.n)
	addTo(r.tot.replies, &iv.replies)
	addTo(r.tot.enhanced, &iv.enhanced)
	addTo(r.tot.errors, &iv.errors)
	addTo(r.tot.tls, &iv.tls)
}

// record adds v to *h, creating the histogram when needed. Values past
// the histogram's range are counted at its highest value.
func record(h **hdr.Histogram, sigfigs int, v int64) {
	if *h == nil {
		*h = hdr.New(hdrLowest, hdrHighest, sigfigs)
	}
	(*h).RecordValue(min(v, hdrHighest))
}

// addPoint adds the pending second to the series as second t, or to the
// last point when the clock has not moved past it.
func (r *Recorder) addPoint(t int64) {
	var pt *Point
	if n := len(r.series); n > 0 && r.series[n-1].T >= t {
		pt = r.series[n-1]
	} else {
		if n > 0 {
			r.series[n-1].seal()
		}
		pt = &Point{T: t}
		r.series = append(r.series, pt)
	}
	pt.add(&r.pend)
}

// progress updates the numbers Snapshot returns.
func (r *Recorder) progress(end int64) {
	n := &r.tot.n
	p := Progress{
		Elapsed:   time.Duration(end - r.startNS),
		Attempted: messagesOf(n).Attempted,
		Accepted:  n[Accepted],
		Failed:    n[TempFail] + n[PermFail],
		Errors:    n[Error] + n[Unknown],
		Late:      n[cLate],
		Dropped:   n[cDropped],
		Sessions:  n[cSessionsOpened] - n[cSessionsDone],
	}
	if d := end - r.lastNS; d > 0 {
		p.Rate = float64(r.pend.n[Accepted]) / time.Duration(d).Seconds()
	}

	r.progMu.Lock()
	r.prog = p
	r.progMu.Unlock()
}

// Snapshot returns the live numbers as of the last Tick. It is cheap:
// it takes one uncontended lock.
func (r *Recorder) Snapshot() Progress {
	r.progMu.Lock()
	defer r.progMu.Unlock()
	return r.prog
}

// Start ticks in a goroutine on every whole second of the wall clock
// until ctx is done or stop is called. stop waits for the goroutine,
// ticks a last time so that nothing recorded before it is lost, and
// returns; call it once the sessions have finished, before Result.
func (r *Recorder) Start(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.run(ctx)
	}()

	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			<-done
			r.Tick(time.Now())
		})
	}
}

func (r *Recorder) run(ctx context.Context) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		now := time.Now()
		t.Reset(now.Truncate(time.Second).Add(time.Second).Sub(now))
		select {
		case <-ctx.Done():
			return
		case now = <-t.C:
			r.Tick(now)
		}
	}
}

// floorDiv divides rounding toward minus infinity.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
