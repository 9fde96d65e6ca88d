package metrics

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"
)

// event is one thing a session reports, in a given second of the run.
type event struct {
	sec     int
	kind    int // 0 step, 1 fail, 2 message, 3 counters, 4 session
	phase   Phase
	d       time.Duration
	code    int
	enh     Enhanced
	outcome Outcome
	n       int
}

// randomEvents makes n events over secs seconds.
func randomEvents(rng *rand.Rand, n, secs int) []event {
	codes := []int{250, 250, 250, 451, 550}
	enhs := []string{"2.1.0", "2.1.5", "4.2.2", "5.1.1", ""}
	evs := make([]event, n)
	for i := range evs {
		e := event{
			sec:     rng.IntN(secs),
			kind:    rng.IntN(5),
			phase:   Phase(rng.IntN(int(Transaction))),
			d:       time.Duration(rng.ExpFloat64() * 3e6),
			code:    codes[rng.IntN(len(codes))],
			enh:     ParseEnhanced(enhs[rng.IntN(len(enhs))]),
			outcome: Outcome(rng.IntN(int(numOutcomes))),
			n:       rng.IntN(5),
		}
		if rng.IntN(50) == 0 {
			e.d = time.Duration(rng.Int64N(int64(time.Hour)))
		}
		evs[i] = e
	}
	return evs
}

func (e event) record(s *Shard) {
	switch e.kind {
	case 0:
		s.Step(e.phase, e.d, e.code, e.enh)
	case 1:
		s.Fail(e.phase, Kind(1+e.n%int(numKinds-1)))
	case 2:
		s.Message(e.outcome, e.d, 2*e.d)
	case 3:
		s.Recipients(e.n, e.n/2)
		s.Bytes(int64(e.n*1000), int64(e.n*10))
		if e.n == 0 {
			s.Late()
		}
		if e.n == 1 {
			s.Dropped()
		}
	case 4:
		s.SessionOpened()
		s.SessionDone(e.d * 10)
	}
}

// runEvents records evs as one run of secs seconds started at t0, with
// a tick at each whole second.
func runEvents(evs []event, secs int) *Result {
	r := New(t0)
	s := r.NewShard()
	for sec := range secs {
		for _, e := range evs {
			if e.sec == sec {
				e.record(s)
			}
		}
		r.Tick(at(time.Duration(sec+1) * time.Second))
	}
	return r.Result()
}

// sampleResult returns a small result with every kind of field set.
func sampleResult(t testing.TB) *Result {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 7))
	res := runEvents(randomEvents(rng, 200, 3), 3)
	res.RunID = "r-20261203-1600"
	res.ConfigHash = "sha256:00ff"
	res.Config = map[string]any{
		"target": "mx.test:25",
		"m":      1000,
		"big":    uint64(9007199254740993),
		"rate":   map[string]any{"n": 100, "per": "1s"},
	}
	res.Shard = &ShardInfo{Index: 2, Count: 8, Key: "w2"}
	res.Host = &Host{Hostname: "gen-2"}
	res.Time.PlannedStartNS = t0.UnixNano() - 5
	return res
}

func encodeString(t testing.TB, r *Result) string {
	t.Helper()
	var b bytes.Buffer
	if err := r.Encode(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func decodeString(t testing.TB, s string) *Result {
	t.Helper()
	r, err := Decode(bytes.NewReader([]byte(s)))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// permutations returns every order of 0..n-1.
func permutations(n int) [][]int {
	if n == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := append(append(append([]int{}, p[:i]...), n-1), p[i:]...)
			out = append(out, q)
		}
	}
	return out
}
