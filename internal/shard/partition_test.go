package shard

import (
	"math"
	"math/rand"
	"slices"
	"testing"
	"testing/quick"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/message"
)

// shards returns the N specs of a run.
func shards(n int) []Spec {
	out := make([]Spec, n)
	for k := range out {
		out[k] = Spec{Index: k, Count: n}
	}
	return out
}

// TestPartitionProperties checks, over random message counts and shard
// counts, that the stripes are disjoint and cover 0..M-1, that Global
// and Local are inverse, and that the counts differ by at most one.
func TestPartitionProperties(t *testing.T) {
	check := func(m32 uint32, n8 uint8) bool {
		m := int64(m32 % 200_001)
		n := int(n8%64) + 1
		owner := make([]int8, m) // shard+1 of each message
		var counts []int64
		for _, s := range shards(n) {
			c := s.Messages(m)
			counts = append(counts, c)
			for j := range c {
				g := s.Global(j)
				if g < 0 || g >= m || owner[g] != 0 || !s.Owns(g) ||
					s.Local(g) != j {
					t.Logf("M=%d N=%d shard %d: j=%d g=%d", m, n,
						s.Index, j, g)
					return false
				}
				owner[g] = int8(s.Index%100) + 1
			}
			if s.Owns(s.Global(c)) && s.Global(c) < m {
				t.Logf("M=%d N=%d shard %d owns more than %d", m, n,
					s.Index, c)
				return false
			}
		}
		if slices.Contains(owner, 0) {
			t.Logf("M=%d N=%d: a message has no shard", m, n)
			return false
		}
		if slices.Max(counts)-slices.Min(counts) > 1 {
			t.Logf("M=%d N=%d: counts %v", m, n, counts)
			return false
		}
		return true
	}
	cfg := &quick.Config{MaxCount: 150,
		Rand: rand.New(rand.NewSource(1))}
	if err := quick.Check(check, cfg); err != nil {
		t.Fatal(err)
	}
}

func TestOwnsOnlyOneShard(t *testing.T) {
	for n := 1; n <= 9; n++ {
		for g := range int64(100) {
			owners := 0
			for _, s := range shards(n) {
				if s.Owns(g) {
					owners++
				}
			}
			if owners != 1 {
				t.Fatalf("N=%d: message %d has %d owners", n, g, owners)
			}
		}
	}
	if (Spec{}).Owns(-1) {
		t.Error("a negative message number is owned")
	}
}

func TestMessagesEdges(t *testing.T) {
	cases := []struct {
		s    Spec
		m    int64
		want int64
	}{
		{Spec{}, 10, 10},                   // unsharded
		{Spec{Index: 0, Count: 1}, 10, 10}, // one shard
		{Spec{Index: 3, Count: 4}, 3, 0},   // fewer messages than shards
		{Spec{Index: 3, Count: 4}, 4, 1},   // one each
		{Spec{Index: 0, Count: 4}, 5, 2},   // ⌈5/4⌉
		{Spec{Index: 1, Count: 4}, 5, 1},   // ⌈4/4⌉
		{Spec{Index: 2, Count: 3}, 0, 0},   // nothing to send
		{Spec{Index: 0, Count: 1}, math.MaxInt64, math.MaxInt64},
	}
	for _, c := range cases {
		if got := c.s.Messages(c.m); got != c.want {
			t.Errorf("%v.Messages(%d) = %d, want %d", c.s, c.m, got,
				c.want)
		}
	}

	// Duration mode runs with M = MaxInt64: no overflow, and the
	// shares still add up.
	for _, n := range []int{2, 3, 7, 64, MaxCount} {
		var sum int64
		for _, s := range shards(n) {
			sum += s.Messages(math.MaxInt64)
		}
		if sum != math.MaxInt64 {
			t.Errorf("N=%d: shares of MaxInt64 add up to %d", n, sum)
		}
	}
}

func TestGlobalSaturates(t *testing.T) {
	s := Spec{Index: 5, Count: 8}
	if g := s.Global(math.MaxInt64 / 4); g != math.MaxInt64 {
		t.Errorf("Global(MaxInt64/4) = %d, want MaxInt64", g)
	}
	if g := s.Global(-1); g >= 0 {
		t.Errorf("Global(-1) = %d, want negative", g)
	}
	if g := s.Global(3); g != 29 {
		t.Errorf("Global(3) = %d, want 5+8·3 = 29", g)
	}
}

// TestSessionsSplit checks that the shares of -s add up to S and
// differ by at most one, for every S ≥ N.
func TestSessionsSplit(t *testing.T) {
	for n := 1; n <= 40; n++ {
		for total := n; total <= 3*n+5; total++ {
			var shares []int
			for _, s := range shards(n) {
				v, err := s.Sessions(total, false)
				if err != nil {
					t.Fatalf("N=%d S=%d: %v", n, total, err)
				}
				shares = append(shares, v)
			}
			sum := 0
			for _, v := range shares {
				sum += v
			}
			if sum != total || slices.Max(shares)-slices.Min(shares) > 1 ||
				slices.Min(shares) < 1 {
				t.Fatalf("N=%d S=%d: shares %v", n, total, shares)
			}
		}
	}
}

func TestSessionsFewerThanShards(t *testing.T) {
	s := Spec{Index: 3, Count: 4}
	if _, err := s.Sessions(3, false); err == nil {
		t.Error("-s 3 over 4 shards: no error")
	}
	// Every shard refuses, also those that would have a session:
	// they would send a run that cannot end whole.
	for _, sh := range shards(4) {
		if _, err := sh.Sessions(2, false); err == nil {
			t.Errorf("-s 2 over 4 shards: shard %d has no error",
				sh.Index)
		}
	}
	if v, err := s.Sessions(3, true); err != nil || v != 1 {
		t.Errorf("-s 3 over 4 shards, raised: %d, %v; want 1", v, err)
	}
	if v, _ := (Spec{Index: 0, Count: 4}).Sessions(3, true); v != 1 {
		t.Errorf("shard 0 of 4 with -s 3: %d sessions, want 1", v)
	}
	if _, err := s.Sessions(0, true); err == nil {
		t.Error("-s 0: no error")
	}
}

// recipients returns the recipient addresses of every message of every
// shard of an N-way run of m messages of r recipients each.
func recipients(t *testing.T, gen *message.Generator, n int, m int64,
	r int) []string {

	t.Helper()
	var out []string
	for _, s := range shards(n) {
		for j := range s.Messages(m) {
			g := s.Global(j)
			for i := range r {
				out = append(out, string(gen.AppendRecipient(nil, g, i)))
			}
		}
	}
	return out
}

// TestRecipientsIdenticalForAnyN checks that with -N (both numberings)
// every recipient number is unique and the set of recipients is the
// same for any number of shards as for one process: g·r+j+1 with
// Postfix 3.7 numbering, g·r+j with 3.9's.
func TestRecipientsIdenticalForAnyN(t *testing.T) {
	const m, r = 1001, 3
	for _, nb := range []message.Numbering{message.NumberingPrepend,
		message.NumberingAppend} {
		gen, err := message.New(message.Config{
			Hostname: "gen.test", Sender: "s@gen.test",
			Recipient: "u@sink.test", RcptCount: r, Numbered: true,
			Numbering: nb,
		})
		if err != nil {
			t.Fatal(err)
		}
		base := recipients(t, gen, 1, m, r)
		slices.Sort(base)
		if len(slices.Compact(slices.Clone(base))) != m*r {
			t.Fatalf("%v: N=1 recipients are not unique", nb)
		}
		first, last := "1u@sink.test", "3003u@sink.test"
		if nb == message.NumberingAppend {
			first, last = "u0@sink.test", "u3002@sink.test"
		}
		if !slices.Contains(base, first) || !slices.Contains(base, last) {
			t.Fatalf("%v: want %s and %s among the recipients", nb,
				first, last)
		}
		for _, n := range []int{2, 3, 4, 7, 64, 1001, 1500} {
			got := recipients(t, gen, n, m, r)
			slices.Sort(got)
			if !slices.Equal(got, base) {
				t.Fatalf("%v N=%d: recipients differ from N=1", nb, n)
			}
		}
	}
}

// TestOffsetUnionIsGlobalSchedule checks that the shards' schedules put
// together are the schedule of one process, send for send.
func TestOffsetUnionIsGlobalSchedule(t *testing.T) {
	const m = 5000
	for _, rate := range []float64{1000, 333.3, 1.0 / 60, 1e6} {
		var want []time.Duration
		for g := range int64(m) {
			want = append(want, Offset(g, rate))
		}
		for _, n := range []int{2, 3, 8, 64} {
			got := make([]time.Duration, m)
			for _, s := range shards(n) {
				for j := range s.Messages(m) {
					g := s.Global(j)
					got[g] = Offset(g, rate)
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("rate %v N=%d: schedules differ", rate, n)
			}
		}
		for g := 1; g < m; g++ {
			if want[g] < want[g-1] {
				t.Fatalf("rate %v: message %d is due before %d", rate,
					g, g-1)
			}
		}
	}
	// At 1000/s message g is due g milliseconds after the start.
	for _, g := range []int64{0, 1, 999, 123456789} {
		if d := Offset(g, 1000); d != time.Duration(g)*time.Millisecond {
			t.Errorf("Offset(%d, 1000) = %v", g, d)
		}
	}
	if Offset(10, 0) != 0 {
		t.Error("a closed model has a schedule")
	}
}

func TestSeedIsStable(t *testing.T) {
	if Seed("r1") != Seed("r1") || Seed("r1") == Seed("r2") {
		t.Error("Seed is not a function of the run id")
	}
	// FNV-1a of "a", as published.
	if got := Seed("a"); got != 0xaf63dc4c8601ec8c {
		t.Errorf("Seed(a) = %#x", got)
	}
}
