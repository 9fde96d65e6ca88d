package metrics

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestMergeExact splits random events between four shards and checks
// that merging their results, in every order and after a trip through
// JSON, gives the result of recording all the events in one run.
func TestMergeExact(t *testing.T) {
	const secs, shards = 6, 4
	rng := rand.New(rand.NewPCG(1, 2))
	evs := randomEvents(rng, 3000, secs)

	parts := make([][]event, shards)
	for _, e := range evs {
		k := rng.IntN(shards)
		parts[k] = append(parts[k], e)
	}
	config := func() map[string]any {
		return map[string]any{"target": "mx.test:25", "m": 3000}
	}
	results := make([]*Result, shards)
	for k, part := range parts {
		r := runEvents(part, secs)
		r.RunID, r.ConfigHash = "r1", "sha256:1"
		r.Config = config()
		r.Config["shard"] = k // differs: dropped by the merge
		r.Shard = &ShardInfo{Index: k, Count: shards}
		// Through JSON, as merge and report read them.
		results[k] = decodeString(t, encodeString(t, r))
	}

	all := runEvents(evs, secs)
	all.RunID, all.ConfigHash = "r1", "sha256:1"
	all.Config = config()
	want := encodeString(t, all)

	var first string
	for _, perm := range permutations(shards) {
		in := make([]*Result, shards)
		for i, k := range perm {
			in[i] = results[k]
		}
		m, err := Merge(in...)
		if err != nil {
			t.Fatal(err)
		}
		got := encodeString(t, m)
		if first == "" {
			first = got
			checkMerged(t, m)
		} else if got != first {
			t.Fatalf("merge in order %v differs from the first order",
				perm)
		}
	}

	// Without the provenance of the parts, the merge is the whole run.
	m := decodeString(t, first)
	m.Shard, m.Sources = nil, nil
	if got := encodeString(t, m); got != want {
		t.Errorf("merged result differs from the whole run:\n%s",
			firstDiff(got, want))
	}
}

func checkMerged(t *testing.T, m *Result) {
	t.Helper()
	if m.Shard == nil || len(m.Shard.Merged) != 4 || m.Shard.Partial() {
		t.Errorf("shard = %+v", m.Shard)
	}
	if len(m.Sources) != 4 || m.Host != nil {
		t.Errorf("%d sources, host %v", len(m.Sources), m.Host)
	}
	if _, ok := m.Config["shard"]; ok || len(m.Config) != 2 {
		t.Errorf("config = %v", m.Config)
	}
}

// firstDiff shows where two texts start to differ.
func firstDiff(a, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return "line " + la[i] + "\nwant " + lb[i]
		}
	}
	return "lengths differ"
}

// TestMergeAssociative merges merged results.
func TestMergeAssociative(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var rs []*Result
	for k := range 4 {
		r := runEvents(randomEvents(rng, 300, 3), 3)
		r.Shard = &ShardInfo{Index: k, Count: 5}
		rs = append(rs, r)
	}
	ab, err := Merge(rs[0], rs[1])
	if err != nil {
		t.Fatal(err)
	}
	cd, err := Merge(rs[2], rs[3])
	if err != nil {
		t.Fatal(err)
	}
	nested, err := Merge(cd, ab)
	if err != nil {
		t.Fatal(err)
	}
	flat, err := Merge(rs...)
	if err != nil {
		t.Fatal(err)
	}
	if encodeString(t, nested) != encodeString(t, flat) {
		t.Error("merging merged results differs from one merge")
	}
	if !flat.Shard.Partial() || len(flat.Shard.Merged) != 4 {
		t.Errorf("4 of 5 shards: shard = %+v", flat.Shard)
	}
	if _, err := Merge(ab, rs[1]); err == nil ||
		!strings.Contains(err.Error(), "shard 1/5 appears twice") {
		t.Errorf("merging a shard twice: %v", err)
	}
}

func TestMergeOne(t *testing.T) {
	r := sampleResult(t)
	m, err := Merge(r)
	if err != nil {
		t.Fatal(err)
	}
	if encodeString(t, m) != encodeString(t, r) {
		t.Error("merging one result changed it")
	}
}

func TestMergeWindows(t *testing.T) {
	a := New(t0)
	a.NewShard().Message(Accepted, time.Millisecond, 0)
	a.Tick(at(2 * time.Second))
	b := New(at(10 * time.Second))
	s := b.NewShard()
	s.Message(Accepted, time.Millisecond, 0)
	s.Message(Accepted, time.Millisecond, 0)
	b.Tick(at(12 * time.Second))
	ra, rb := a.Result(), b.Result()
	rb.Time.Complete = false

	m, err := Merge(rb, ra)
	if err != nil {
		t.Fatal(err)
	}
	if m.ElapsedNS != int64(12*time.Second) || m.RatePerS != 0.25 {
		t.Errorf("elapsed %d, rate %v: want the union of windows",
			m.ElapsedNS, m.RatePerS)
	}
	if m.Time.Complete {
		t.Error("a merge with an incomplete input is complete")
	}
	if len(m.Sources) != 2 || m.Sources[0].StartNS != t0.UnixNano() ||
		m.Sources[1].Accepted != 2 || m.Sources[1].Complete {
		t.Errorf("sources = %+v", m.Sources)
	}
	if n := len(m.Series.Points); n != 2 {
		t.Errorf("%d points, want 2", n)
	}
}

func TestMergeRefuses(t *testing.T) {
	base := func() *Result {
		r := sampleResult(t)
		r.Shard = &ShardInfo{Index: 0, Count: 2}
		return r
	}
	cases := []struct {
		name   string
		change func(r *Result)
		want   string
	}{
		{"run id", func(r *Result) { r.RunID = "other" }, "run ids differ"},
		{"config hash", func(r *Result) { r.ConfigHash = "x" },
			"config hashes differ"},
		{"histogram", func(r *Result) { r.Latency.SigFigs = 2 },
			"latency histogram parameters differ"},
		{"series", func(r *Result) { r.Series.IntervalNS = 1e10 },
			"series parameters differ"},
		{"unsharded", func(r *Result) { r.Shard = nil },
			"sharded and unsharded"},
		{"shard count", func(r *Result) { r.Shard.Count = 3 },
			"shard counts differ: 2 and 3"},
		{"same shard", func(r *Result) {}, "shard 0/2 appears twice"},
	}
	for _, c := range cases {
		b := base()
		b.Shard.Index = 1
		if c.name == "same shard" {
			b.Shard.Index = 0
		}
		c.change(b)
		_, err := Merge(base(), b)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	if _, err := Merge(); err == nil {
		t.Error("merging nothing succeeded")
	}
}

// TestMergeRefusesTheSameRunTwice: an unsharded result given twice, or
// given with a merge it is already in, would count its messages twice.
func TestMergeRefusesTheSameRunTwice(t *testing.T) {
	run := func(shift time.Duration) *Result {
		r := sampleResult(t)
		r.Shard = nil
		r.Time.StartNS += int64(shift)
		r.Time.EndNS += int64(shift)
		return r
	}
	a, b := run(0), run(time.Minute)
	if _, err := Merge(a, b); err != nil {
		t.Fatalf("two runs: %v", err)
	}
	const want = "the same result is given twice"
	if _, err := Merge(a, run(0)); err == nil ||
		!strings.Contains(err.Error(), want) {
		t.Errorf("a run twice: %v, want %q", err, want)
	}
	ab, err := Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Merge(ab, b); err == nil ||
		!strings.Contains(err.Error(), want) {
		t.Errorf("a run and a merge that holds it: %v, want %q", err,
			want)
	}
}

// TestMergeRefusesSinkWithSource: a sink's result pairs with a source's
// in report; merged, its arrivals would join the sent messages.
func TestMergeRefusesSinkWithSource(t *testing.T) {
	src := sampleResult(t)
	snk := NewDeliveryResult(src.RunID, NewDeliveryRecorder().Delivery(),
		time.Unix(0, src.Time.StartNS), time.Unix(0, src.Time.EndNS))
	snk.ConfigHash = src.ConfigHash
	_, err := Merge(src, snk)
	if err == nil || !strings.Contains(err.Error(), "give both to report") {
		t.Errorf("source and sink: %v", err)
	}
}
