package shard

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// DefaultMaxStartDelay is how late after --start-at a shard may still
// start (--max-start-delay).
const DefaultMaxStartDelay = time.Second

// ErrLate is wrapped by Wait's error when the start time had passed by
// more than the allowed delay: the process must then exit with ExitLate
// without connecting anywhere.
var ErrLate = errors.New("missed the start time")

// StartAt reads --start-at: an RFC 3339 time (2026-12-03T16:00:00Z,
// fractions of a second allowed) or "+d", a Go duration after now
// (+30s), for runs on one host.
func StartAt(s string, now time.Time) (time.Time, error) {
	if rel, ok := strings.CutPrefix(s, "+"); ok {
		d, err := time.ParseDuration(rel)
		if err != nil || d < 0 {
			return time.Time{}, fmt.Errorf("bad --start-at %q: want "+
				"+duration (+30s) or an RFC 3339 time", s)
		}
		// Round(0) drops the monotonic reading: the start is a wall
		// clock time, as an absolute one is.
		return now.Add(d).Round(0), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad --start-at %q: want an "+
			"RFC 3339 time (2026-12-03T16:00:00Z) or +duration", s)
	}
	return t, nil
}

// recheck bounds each sleep of Wait, so that a step of the wall clock
// during a long lead (NTP correcting it) still moves the start.
const recheck = time.Second

// Wait sleeps until the wall clock reads at and returns the actual
// start. When the clock is already past at+maxDelay it returns at once
// with an error wrapping ErrLate; when ctx ends first, ctx's error.
func Wait(ctx context.Context, at time.Time,
	maxDelay time.Duration) (time.Time, error) {

	at = at.Round(0)
	for {
		now := time.Now()
		if late := now.Sub(at); late > maxDelay {
			return now, fmt.Errorf("%w: %s by %v (allowed: %v)", ErrLate,
				at.UTC().Format(time.RFC3339Nano),
				late.Round(time.Millisecond), maxDelay)
		}
		d := at.Sub(now)
		if d <= 0 {
			return now, nil
		}
		t := time.NewTimer(min(d, recheck))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return time.Now(), ctx.Err()
		}
	}
}
