package shard

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestStartAt(t *testing.T) {
	now := time.Date(2026, 12, 3, 15, 59, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Time
	}{
		{"2026-12-03T16:00:00Z", time.Date(2026, 12, 3, 16, 0, 0, 0,
			time.UTC)},
		{"2026-12-03T17:00:00.25+01:00", time.Date(2026, 12, 3, 16, 0, 0,
			250e6, time.UTC)},
		{"+30s", now.Add(30 * time.Second)},
		{"+1m30s", now.Add(90 * time.Second)},
		{"+0s", now},
	}
	for _, c := range cases {
		got, err := StartAt(c.in, now)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("StartAt(%q) = %v, %v; want %v", c.in, got, err,
				c.want)
		}
	}
	for _, bad := range []string{"", "30s", "+", "+-5s", "+5",
		"2026-12-03 16:00:00", "2026-12-03T16:00:00", "tomorrow"} {
		if _, err := StartAt(bad, now); err == nil {
			t.Errorf("StartAt(%q): no error", bad)
		}
	}
}

func TestWaitStartsOnTime(t *testing.T) {
	at := time.Now().Add(80 * time.Millisecond).Round(0)
	got, err := Wait(context.Background(), at, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got.Before(at) {
		t.Errorf("started %v early", at.Sub(got))
	}
	// Generous: a loaded CI machine may wake the timer late.
	if late := got.Sub(at); late > 250*time.Millisecond {
		t.Errorf("started %v late", late)
	}
}

func TestWaitRefusesLateStart(t *testing.T) {
	at := time.Now().Add(-2 * time.Second)
	begin := time.Now()
	_, err := Wait(context.Background(), at, time.Second)
	if !errors.Is(err, ErrLate) {
		t.Fatalf("err = %v, want ErrLate", err)
	}
	if d := time.Since(begin); d > 250*time.Millisecond {
		t.Errorf("a late start took %v to refuse", d)
	}

	// Within the allowed delay it starts at once.
	at = time.Now().Add(-200 * time.Millisecond)
	if _, err := Wait(context.Background(), at, time.Second); err != nil {
		t.Errorf("200ms late, 1s allowed: %v", err)
	}
}

func TestWaitCanceled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(),
		30*time.Millisecond)
	defer cancel()
	_, err := Wait(ctx, time.Now().Add(time.Hour), time.Second)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the context's", err)
	}
}
