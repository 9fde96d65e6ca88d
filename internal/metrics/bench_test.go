package metrics

import (
	"sync"
	"testing"
	"time"
)

// ticking ticks r every 10 ms until the returned stop is called, so that
// shard buffers stay as small as they are in a run.
func ticking(r *Recorder) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				r.Tick(now)
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// BenchmarkStep records steps from parallel sessions, one shard each, as
// the engine does.
func BenchmarkStep(b *testing.B) {
	r := New(time.Now())
	enh := ParseEnhanced("2.1.5")
	defer ticking(r)()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		s := r.NewShard()
		d := time.Duration(0)
		for pb.Next() {
			d = (d + 7919) % (50 * time.Millisecond)
			s.Step(Rcpt, d, 250, enh)
		}
	})
}

// BenchmarkMessage records whole messages (7 steps, the transaction and
// the counters) from parallel sessions.
func BenchmarkMessage(b *testing.B) {
	r := New(time.Now())
	defer ticking(r)()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		s := r.NewShard()
		d := time.Duration(0)
		for pb.Next() {
			d = (d + 7919) % (50 * time.Millisecond)
			for _, p := range []Phase{Mail, Rcpt, Rcpt, Data, EOD} {
				s.Step(p, d, 250, 0)
			}
			s.Recipients(2, 0)
			s.Bytes(2000, 100)
			s.Message(Accepted, 5*d, 0)
		}
	})
}

// BenchmarkTick measures a tick over 100 shards that saw 1000 messages
// each, as at 100k messages/s.
func BenchmarkTick(b *testing.B) {
	r := New(time.Now())
	shards := make([]*Shard, 100)
	for i := range shards {
		shards[i] = r.NewShard()
	}
	b.ReportAllocs()
	now := time.Now()
	for i := 0; b.Loop(); i++ {
		for _, s := range shards {
			for j := range 1000 {
				d := time.Duration(j*7919) % (50 * time.Millisecond)
				s.Step(Rcpt, d, 250, 0)
				s.Message(Accepted, d, 0)
			}
		}
		r.Tick(now.Add(time.Duration(i) * time.Second))
	}
}
