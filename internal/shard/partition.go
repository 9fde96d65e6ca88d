package shard

import (
	"fmt"
	"math"
	"time"
)

// The partition stripes the global message sequence 0, 1, 2, ... over
// the shards: shard k owns the messages g with g mod N = k. Stripes,
// unlike contiguous ranges, keep every shard busy over the whole run in
// an open model (ranges would give all early sends to shard 0).

// n returns the shard count, 1 for an unsharded run.
func (s Spec) n() int64 { return int64(max(s.Count, 1)) }

// Owns reports whether message g belongs to this shard.
func (s Spec) Owns(g int64) bool {
	return g >= 0 && g%s.n() == int64(s.Index)
}

// Messages returns how many of the messages 0..m-1 this shard owns:
// ⌈(m-k)/N⌉, so that the shards' counts differ by at most one and add
// up to m.
func (s Spec) Messages(m int64) int64 {
	k := int64(s.Index)
	if m <= k {
		return 0
	}
	return (m-k-1)/s.n() + 1 // no overflow even for m = MaxInt64
}

// Global returns the global number of this shard's j-th message (j from
// 0): g = k + N·j. The engine hands out j from its counter and g
// everywhere else (recipients, headers, delays, schedule). It saturates
// at math.MaxInt64, past any message budget.
func (s Spec) Global(j int64) int64 {
	n, k := s.n(), int64(s.Index)
	if j < 0 {
		return -1
	}
	if j > (math.MaxInt64-k)/n {
		return math.MaxInt64
	}
	return k + n*j
}

// Local returns the position j of message g in this shard's stripe, the
// inverse of Global; g must be owned by the shard.
func (s Spec) Local(g int64) int64 {
	return (g - int64(s.Index)) / s.n()
}

// Sessions returns this shard's share of total sessions (-s):
// ⌊S/N⌋, plus one for the first S mod N shards, so that the shares add
// up to S. A shard without a session would leave its messages unsent,
// so S < N is an error, unless raise is set: then every shard gets at
// least one session and the run has N sessions in all.
func (s Spec) Sessions(total int, raise bool) (int, error) {
	n := int(s.n())
	if total < 1 {
		return 0, fmt.Errorf("session count %d is not positive", total)
	}
	if total < n && !raise {
		// Every shard refuses, not only those left without a
		// session: the others would send a run that cannot end whole.
		idle := fmt.Sprintf("shards %d to %d", total, n-1)
		if total == n-1 {
			idle = fmt.Sprintf("shard %d", total)
		}
		return 0, fmt.Errorf("-s %d is less than the %d shards: "+
			"%s would have no session (use -s %d or more)",
			total, n, idle, n)
	}
	share := total / n
	if s.Index < total%n {
		share++
	}
	return max(share, 1), nil
}

// Offset returns when message g is due in an open model at rate per
// second: g/rate after the run's common start (--start-at). It depends
// on g alone, so the shards' schedules together are exactly the
// schedule of one process sending every message.
func Offset(g int64, rate float64) time.Duration {
	if rate <= 0 || g <= 0 {
		return 0
	}
	return time.Duration(float64(g) / rate * float64(time.Second))
}

// Seed returns the seed of the random pauses (-R) of a sharded run
// without --seed. It is derived from the run id, so every shard draws
// the same pause for message g; the process id, an unsharded run's
// default, differs from machine to machine.
func Seed(runID string) uint64 {
	// FNV-1a, 64 bits: stable, and the run id is not secret.
	h := uint64(14695981039346656037)
	for i := 0; i < len(runID); i++ {
		h ^= uint64(runID[i])
		h *= 1099511628211
	}
	return h
}
