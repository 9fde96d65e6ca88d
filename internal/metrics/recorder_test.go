package metrics

import (
	"context"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// t0 is a synthetic run start, on a whole second.
var t0 = time.Unix(1_764_777_600, 0)

func at(d time.Duration) time.Time { return t0.Add(d) }

func TestRecordExact(t *testing.T) {
	r := New(t0)
	s := r.NewShard()
	var want []time.Duration
	for i := 1; i <= 1000; i++ {
		d := time.Duration(i) * 37 * time.Microsecond
		want = append(want, d)
		s.Step(Mail, d, 250, ParseEnhanced("2.1.0 Ok"))
	}
	s.Step(Rcpt, time.Millisecond, 450, ParseEnhanced("4.2.2 full"))
	s.Step(Rcpt, 2*time.Millisecond, 250, 0)
	s.Step(Connect, 3*time.Millisecond, 0, 0)
	s.Fail(EOD, KindTimeout)
	s.Fail(Connect, KindRefused)
	s.Fail(Connect, KindRefused)
	r.Tick(at(time.Second))
	res := r.Result()

	mail := res.Phase(Mail)
	if mail.Count != 1000 || mail.MinNS != int64(want[0]) ||
		mail.MaxNS != int64(want[999]) {
		t.Errorf("mail: count %d min %d max %d", mail.Count,
			mail.MinNS, mail.MaxNS)
	}
	var sum time.Duration
	for _, d := range want {
		sum += d
	}
	if mail.SumNS != int64(sum) || mail.MeanNS != int64(sum)/1000 {
		t.Errorf("mail: sum %d mean %d, want %d", mail.SumNS,
			mail.MeanNS, sum)
	}
	for _, c := range []struct {
		q   float64
		got int64
	}{
		{50, mail.P50NS}, {90, mail.P90NS}, {99, mail.P99NS},
		{99.9, mail.P999NS},
	} {
		exact := int64(want[int(c.q*10+0.5)-1])
		if !within(c.got, exact, 0.001) {
			t.Errorf("mail p%v = %d, want %d within 0.1%%", c.q, c.got,
				exact)
		}
	}

	wantReplies := map[string]int64{
		"MAIL 250": 1000, "RCPT 450": 1, "RCPT 250": 1,
	}
	if !mapsEqual(res.Replies, wantReplies) {
		t.Errorf("replies = %v", res.Replies)
	}
	if !mapsEqual(res.Enhanced, map[string]int64{"2.1.0": 1000,
		"4.2.2": 1}) {
		t.Errorf("enhanced = %v", res.Enhanced)
	}
	wantErrs := map[string]int64{"EOD timeout": 1, "CONNECT refused": 2}
	if !mapsEqual(res.Errors, wantErrs) {
		t.Errorf("errors = %v", res.Errors)
	}
	if c := res.Phase(Connect); c.Count != 1 || c.MaxNS != 3e6 {
		t.Errorf("connect = %+v", c)
	}
	if c := res.Phase(EOD); c.Count != 0 || c.HDR != "" {
		t.Errorf("eod = %+v, failures are not latencies", c)
	}
}

func within(got, want int64, rel float64) bool {
	d := float64(got - want)
	return d <= rel*float64(want) && -d <= rel*float64(want)
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || v != w {
			return false
		}
	}
	return true
}

func TestMessagesAndCounters(t *testing.T) {
	r := New(t0)
	s := r.NewShard()
	s.SessionOpened()
	s.SessionOpened()
	s.Message(Accepted, 10*time.Millisecond, 15*time.Millisecond)
	s.Message(Accepted, 20*time.Millisecond, 0)
	s.Message(TempFail, 30*time.Millisecond, 0)
	s.Message(PermFail, 40*time.Millisecond, 0)
	s.Message(Error, 50*time.Millisecond, 0)
	s.Message(Unknown, 60*time.Millisecond, 0)
	s.Recipients(3, 1)
	s.Bytes(1000, 200)
	s.Bytes(1, 2)
	s.Late()
	s.Dropped()
	s.Dropped()
	s.SessionDone(5 * time.Second)
	r.Tick(at(2 * time.Second))
	res := r.Result()

	wantMsgs := Messages{Attempted: 6, Accepted: 2, TempFail: 1,
		PermFail: 1, Error: 1, Unknown: 1}
	if res.Messages != wantMsgs {
		t.Errorf("messages = %+v", res.Messages)
	}
	if res.Recipients != (Recipients{3, 1}) ||
		res.Bytes != (Bytes{1001, 202}) ||
		res.Schedule != (Schedule{1, 2}) ||
		res.Sessions != (Sessions{2, 1}) {
		t.Errorf("counters: %+v %+v %+v %+v", res.Recipients, res.Bytes,
			res.Schedule, res.Sessions)
	}

	// Only messages with a final reply have a transaction time.
	tr := res.Phase(Transaction)
	if tr.Count != 4 || tr.MinNS != 10e6 || tr.MaxNS != 40e6 {
		t.Errorf("transaction = %+v", tr)
	}
	fi := res.Phase(TransactionFromIntended)
	if fi.Count != 1 || fi.MinNS != 15e6 {
		t.Errorf("from intended = %+v", fi)
	}
	if se := res.Phase(Session); se.Count != 1 || se.MaxNS != 5e9 {
		t.Errorf("session = %+v", se)
	}
	if res.ElapsedNS != 2e9 || res.RatePerS != 1 {
		t.Errorf("elapsed %d rate %v", res.ElapsedNS, res.RatePerS)
	}

	p := r.Snapshot()
	want := Progress{Elapsed: 2 * time.Second, Attempted: 6, Accepted: 2,
		Failed: 2, Errors: 2, Late: 1, Dropped: 2, Sessions: 1, Rate: 1}
	if p != want {
		t.Errorf("snapshot = %+v, want %+v", p, want)
	}
}

func TestLongLatencyIsClamped(t *testing.T) {
	r := New(t0)
	s := r.NewShard()
	s.SessionDone(30 * time.Hour)
	s.SessionDone(-time.Second)
	r.Tick(at(time.Second))
	se := r.Result().Phase(Session)
	if se.Count != 2 || se.MaxNS != int64(30*time.Hour) || se.MinNS != 0 {
		t.Fatalf("session = %+v", se)
	}
	if se.P999NS != se.MaxNS {
		t.Errorf("p99.9 = %d, want the exact max", se.P999NS)
	}
}

// TestSeries drives ticks with synthetic times and checks that each
// second's point holds what was recorded in it.
func TestSeries(t *testing.T) {
	r := New(at(300 * time.Millisecond))
	s := r.NewShard()
	send := func(n int, d time.Duration) {
		for range n {
			s.Message(Accepted, d, 0)
		}
	}

	send(3, time.Millisecond) // first, partial second
	r.Tick(at(time.Second))
	send(5, 2*time.Millisecond)
	s.Message(TempFail, time.Millisecond, 0)
	s.Fail(Connect, KindReset)
	r.Tick(at(2*time.Second + 2*time.Millisecond)) // a little late
	r.Tick(at(3*time.Second - time.Millisecond))   // a little early: empty
	send(7, 4*time.Millisecond)
	r.Tick(at(5 * time.Second)) // two seconds late: labelled by middle
	send(1, 8*time.Millisecond)
	r.Tick(at(5*time.Second + 100*time.Millisecond)) // same second again

	pts := r.Result().Series.Points
	type want struct {
		t        int64
		accepted int64
		tempfail int64
		p99      int64
	}
	sec := t0.Unix()
	wants := []want{
		{sec, 3, 0, 1e6},
		{sec + 1, 5, 1, 2e6},
		{sec + 2, 0, 0, 0},
		{sec + 3, 7, 0, 4e6},
		{sec + 5, 1, 0, 8e6},
	}
	if len(pts) != len(wants) {
		t.Fatalf("%d points, want %d", len(pts), len(wants))
	}
	for i, w := range wants {
		pt := pts[i]
		tr := pt.Phases["transaction"]
		var p99 int64
		if tr != nil {
			p99 = tr.P99NS
		}
		if pt.T != w.t || pt.Messages.Accepted != w.accepted ||
			pt.Messages.TempFail != w.tempfail || p99 != w.p99 {
			t.Errorf("point %d = t %d accepted %d tempfail %d p99 %d, "+
				"want %+v", i, pt.T, pt.Messages.Accepted,
				pt.Messages.TempFail, p99, w)
		}
	}
	if tr := pts[1].Phases["transaction"]; tr.Count != 6 ||
		tr.P50NS != 2e6 || tr.MinNS != 1e6 || tr.hist == nil {
		t.Errorf("second 1 transaction = %+v", tr)
	}
}

// TestSeriesMerge checks a point that two ticks fall in.
func TestSeriesSameSecond(t *testing.T) {
	r := New(t0)
	s := r.NewShard()
	s.Message(Accepted, time.Millisecond, 0)
	r.Tick(at(400 * time.Millisecond))
	s.Message(Accepted, 3*time.Millisecond, 0)
	s.Step(Mail, time.Millisecond, 250, 0)
	r.Tick(at(800 * time.Millisecond))
	pts := r.Result().Series.Points
	if len(pts) != 1 {
		t.Fatalf("%d points, want 1", len(pts))
	}
	tr := pts[0].Phases["transaction"]
	if pts[0].Messages.Accepted != 2 || tr.Count != 2 ||
		tr.MaxNS != 3e6 || tr.P99NS != 3e6 {
		t.Errorf("point = %+v, transaction %+v", pts[0], tr)
	}
	if m := pts[0].Phases["mail"]; m.Count != 1 || m.HDR != "" ||
		m.P50NS != 0 {
		t.Errorf("mail = %+v: only transactions have histograms", m)
	}
}

func TestShardClose(t *testing.T) {
	r := New(t0)
	a, b := r.NewShard(), r.NewShard()
	a.Message(Accepted, time.Millisecond, 0)
	b.Message(Accepted, time.Millisecond, 0)
	a.Close()
	r.Tick(at(time.Second))
	if res := r.Result(); res.Messages.Accepted != 2 {
		t.Errorf("accepted = %d, want 2", res.Messages.Accepted)
	}
	r.mu.Lock()
	n := len(r.shards)
	r.mu.Unlock()
	if n != 1 {
		t.Errorf("%d shards kept, want 1", n)
	}
}

// TestConcurrent records from many goroutines while ticking; run it with
// -race.
func TestConcurrent(t *testing.T) {
	r := New(t0)
	const workers, each = 8, 2000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			s := r.NewShard()
			defer s.Close()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for range each {
				d := time.Duration(rng.IntN(1e7))
				s.Step(Rcpt, d, 250, 0)
				s.Message(Accepted, d, 0)
			}
		})
	}
	done := make(chan struct{})
	var ticker sync.WaitGroup
	ticker.Go(func() {
		for i := 1; ; i++ {
			select {
			case <-done:
				return
			default:
				r.Tick(at(time.Duration(i) * time.Millisecond))
				r.Snapshot()
			}
		}
	})
	wg.Wait()
	close(done)
	ticker.Wait()
	r.Tick(at(time.Minute))

	res := r.Result()
	if res.Messages.Accepted != workers*each ||
		res.Phase(Rcpt).Count != workers*each ||
		res.Replies["RCPT 250"] != workers*each {
		t.Errorf("accepted %d, rcpt %d, replies %v",
			res.Messages.Accepted, res.Phase(Rcpt).Count, res.Replies)
	}
	var inSeries int64
	for _, pt := range res.Series.Points {
		inSeries += pt.Messages.Accepted
	}
	if inSeries != workers*each {
		t.Errorf("series holds %d messages", inSeries)
	}
}

func TestStart(t *testing.T) {
	r := New(time.Now())
	stop := r.Start(context.Background())
	s := r.NewShard()
	s.Message(Accepted, time.Millisecond, 0)
	stop()
	stop() // a second call does nothing
	res := r.Result()
	if res.Messages.Accepted != 1 || len(res.Series.Points) == 0 {
		t.Errorf("accepted %d, %d points", res.Messages.Accepted,
			len(res.Series.Points))
	}
}

// TestResultIsASnapshot checks that a result does not change when the
// recorder goes on.
func TestResultIsASnapshot(t *testing.T) {
	r := New(t0)
	s := r.NewShard()
	s.Message(Accepted, time.Millisecond, 0)
	r.Tick(at(400 * time.Millisecond))
	res := r.Result()
	before := encodeString(t, res)

	// The next tick falls in the same second: it adds to the last point.
	s.Message(Accepted, time.Second, 0)
	r.Tick(at(800 * time.Millisecond))
	if after := encodeString(t, res); after != before {
		t.Error("result changed after a later tick")
	}
	if got := r.Result().Series.Points[0].Messages.Accepted; got != 2 {
		t.Errorf("live point holds %d messages, want 2", got)
	}
}

func TestRecordingDoesNotAllocate(t *testing.T) {
	r := New(t0)
	s := r.NewShard()
	enh := ParseEnhanced("2.1.5 Ok")
	ops := map[string]func(){
		"Step": func() { s.Step(Rcpt, time.Millisecond, 250, enh) },
		"Fail": func() { s.Fail(Connect, KindRefused) },
		"Message": func() {
			s.Message(Accepted, time.Millisecond, time.Millisecond)
		},
		"Recipients":    func() { s.Recipients(1, 0) },
		"Bytes":         func() { s.Bytes(100, 10) },
		"SessionOpened": s.SessionOpened,
		"SessionDone":   func() { s.SessionDone(time.Second) },
		"Late":          s.Late,
	}
	for _, name := range slices.Sorted(maps.Keys(ops)) {
		// Two ticks warm both intervals a shard alternates between.
		ops[name]()
		r.Tick(at(time.Second))
		ops[name]()
		r.Tick(at(2 * time.Second))
		if n := testing.AllocsPerRun(100, ops[name]); n != 0 {
			t.Errorf("%s: %v allocations per call", name, n)
		}
		r.Tick(at(3 * time.Second))
	}
}

// TestManyReplyCodes goes past the codes a shard keeps in its array.
func TestManyReplyCodes(t *testing.T) {
	r := New(t0)
	s := r.NewShard()
	want := map[string]int64{}
	for code := 200; code < 240; code++ {
		for range code - 199 {
			s.Step(Rset, time.Millisecond, code, 0)
		}
		want["RSET "+strconv.Itoa(code)] = int64(code - 199)
	}
	r.Tick(at(time.Second))
	if got := r.Result().Replies; !mapsEqual(got, want) {
		t.Errorf("replies = %v", got)
	}
}
