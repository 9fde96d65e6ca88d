package load

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/shard"
)

// rcptSeq reads the message number back from fakeGen's recipients.
var rcptSeq = regexp.MustCompile(`^RCPT TO:<r(\d+)\.0@`)

// sentSeqs returns the message numbers the server saw, sorted.
func sentSeqs(s *server) []int64 {
	var seqs []int64
	for _, c := range s.commands() {
		if m := rcptSeq.FindStringSubmatch(c); m != nil {
			n, _ := strconv.ParseInt(m[1], 10, 64)
			seqs = append(seqs, n)
		}
	}
	slices.Sort(seqs)
	return seqs
}

// TestShardsStripeMessages: four shards of -m 10 send the messages g
// with g mod 4 = k, each once, and together exactly 0..9.
func TestShardsStripeMessages(t *testing.T) {
	var all []int64
	for k := range 4 {
		s := newServer(t, nil)
		cfg := config(s)
		cfg.Messages, cfg.Sessions, cfg.KeepOpen = 10, 2, true
		cfg.Shard = shard.Spec{Index: k, Count: 4}
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatalf("shard %d: %v", k, err)
		}
		got := sentSeqs(s)
		if want := cfg.Shard.Messages(10); res.Accepted != want ||
			int64(len(got)) != want {
			t.Errorf("shard %d: accepted %d, sent %v, want %d",
				k, res.Accepted, got, want)
		}
		for _, g := range got {
			if g%4 != int64(k) {
				t.Errorf("shard %d sent message %d", k, g)
			}
		}
		all = append(all, got...)
	}
	slices.Sort(all)
	want := []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	if !slices.Equal(all, want) {
		t.Errorf("the shards sent %v, want %v", all, want)
	}
}

// TestShardKeepsGlobalSchedule: with --rate, shard 1 of 2 sends message
// g at start + g/R, the one-machine schedule, from the planned start.
func TestShardKeepsGlobalSchedule(t *testing.T) {
	s := newServer(t, nil)
	cfg := config(s)
	cfg.Messages, cfg.Rate = 4, 10 // messages 1 and 3: at 100, 300 ms
	cfg.Shard = shard.Spec{Index: 1, Count: 2}
	cfg.Start = time.Now().Add(200 * time.Millisecond)
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	d := time.Since(cfg.Start)
	if d < 300*time.Millisecond || d > 2*time.Second {
		t.Errorf("ended %v after the planned start, want just after "+
			"300ms (message 3 at 3/R)", d)
	}
	if got := sentSeqs(s); !slices.Equal(got, []int64{1, 3}) {
		t.Errorf("sent %v, want [1 3]", got)
	}
}

// TestDrainStopsNewMessages: once Drain is closed, no message is
// started, the one in flight ends, and the sessions quit.
func TestDrainStopsNewMessages(t *testing.T) {
	s := newServer(t, nil)
	cfg := config(s)
	cfg.Messages, cfg.KeepOpen = 1000, true
	cfg.FixedDelay = 50 * time.Millisecond
	drain := make(chan struct{})
	cfg.Drain = drain
	time.AfterFunc(120*time.Millisecond, func() { close(drain) })

	start := time.Now()
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("drained in %v", d)
	}
	if res.Accepted < 1 || res.Accepted > 5 || res.Failed != 0 {
		t.Errorf("accepted %d failed %d, want a few accepted, none "+
			"failed", res.Accepted, res.Failed)
	}
	cmds := s.commands()
	if len(cmds) == 0 || cmds[len(cmds)-1] != "QUIT" {
		t.Errorf("the session did not QUIT: %q", cmds)
	}
}
