package report

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
)

// knownRun records transactions of 1, 2, ... 1000 µs over two seconds
// (the first 400 in the first), so that the percentiles are known: the
// value at q% is q*10 µs, within the histograms' 0.1%.
func knownRun() *metrics.Result {
	rec := metrics.New(t0)
	sh := rec.NewShard()
	for i := 1; i <= 1000; i++ {
		sh.Step(metrics.Mail, us(i), 250, enh210)
		switch {
		case i%100 == 0:
			sh.Message(metrics.TempFail, us(i), 0)
		case i%250 == 1:
			sh.Message(metrics.PermFail, us(i), 0)
		default:
			sh.Message(metrics.Accepted, us(i), 0)
		}
		if i == 400 {
			rec.Tick(t0.Add(time.Second))
		}
	}
	sh.Fail(metrics.Connect, metrics.KindRefused)
	sh.Message(metrics.Error, 0, 0)
	sh.Late()
	rec.Tick(t0.Add(2 * time.Second))
	r := rec.Result()
	r.Config = map[string]any{"target": "mx.test:25"}
	return r
}

func TestJSONFields(t *testing.T) {
	var b bytes.Buffer
	if err := JSON(&b, knownRun()); err != nil {
		t.Fatal(err)
	}

	// Every required field is present, whatever its value.
	var raw map[string]any
	if err := json.Unmarshal(b.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"messages", "phases", "replies",
		"elapsed_ns", "rate_per_s", "late", "dropped", "sessions",
		"bytes", "start", "end", "series"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("no %q in %s", k, b.String())
		}
	}
	msgs := raw["messages"].(map[string]any)
	for _, k := range []string{"attempted", "accepted", "tempfail",
		"permfail", "error", "unknown"} {
		if _, ok := msgs[k]; !ok {
			t.Errorf("no messages.%s", k)
		}
	}
	phases := raw["phases"].(map[string]any)
	for _, p := range []string{"connect", "banner", "helo", "starttls",
		"auth", "mail", "rcpt", "data", "eod", "quit", "transaction",
		"session"} {
		ph, ok := phases[p].(map[string]any)
		if !ok {
			t.Errorf("no phases.%s", p)
			continue
		}
		for _, k := range []string{"count", "min_ns", "mean_ns",
			"p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns"} {
			if _, ok := ph[k]; !ok {
				t.Errorf("no phases.%s.%s", p, k)
			}
		}
	}

	var s Summary
	if err := json.Unmarshal(b.Bytes(), &s); err != nil {
		t.Fatal(err)
	}
	checkKnownValues(t, &s)
}

func checkKnownValues(t *testing.T, s *Summary) {
	t.Helper()
	want := metrics.Messages{Attempted: 1001, Accepted: 986,
		TempFail: 10, PermFail: 4, Error: 1}
	if s.Messages != want {
		t.Errorf("messages %+v, want %+v", s.Messages, want)
	}
	if s.Format != Format || s.Target != "mx.test:25" {
		t.Errorf("format %q target %q", s.Format, s.Target)
	}
	if s.ElapsedNS != 2e9 || s.RatePerS != 493 || s.Late != 1 {
		t.Errorf("elapsed %d rate %v late %d, want 2e9 493 1",
			s.ElapsedNS, s.RatePerS, s.Late)
	}
	if s.SuccessRatio != 986.0/1001 {
		t.Errorf("success ratio %v", s.SuccessRatio)
	}
	if s.Replies["MAIL 250"] != 1000 || s.Errors["CONNECT refused"] != 1 ||
		s.Enhanced["2.1.0"] != 1000 {
		t.Errorf("replies %v errors %v enhanced %v", s.Replies,
			s.Errors, s.Enhanced)
	}

	tx := s.Phases["transaction"]
	if tx.Count != 1000 || tx.MinNS != 1000 || tx.MaxNS != 1e6 ||
		tx.MeanNS != 500500 {
		t.Errorf("transaction %+v", tx)
	}
	for _, c := range []struct {
		name      string
		got, want int64
	}{
		{"p50", tx.P50NS, 500e3},
		{"p90", tx.P90NS, 900e3},
		{"p99", tx.P99NS, 990e3},
		{"p99.9", tx.P999NS, 999e3},
	} {
		if d := c.got - c.want; d < 0 || d > c.want/1000 {
			t.Errorf("transaction %s = %d, want %d within 0.1%%",
				c.name, c.got, c.want)
		}
	}
	if s.Phases["auth"] != (PhaseStats{}) {
		t.Errorf("auth, never seen, is %+v", s.Phases["auth"])
	}

	if len(s.Series) != 2 {
		t.Fatalf("%d seconds in the series, want 2", len(s.Series))
	}
	first := s.Series[0]
	if first.T != t0.Unix() || first.Messages.Attempted != 400 ||
		first.Phases["transaction"].MaxNS != 400e3 {
		t.Errorf("first second %+v", first)
	}
	if p := first.Phases["transaction"].P50NS; p < 198e3 || p > 202e3 {
		t.Errorf("first second's p50 %d, want 200µs within 1%%", p)
	}
}

func TestSummarizeWarnings(t *testing.T) {
	late := shardRun(t, 1, 10*time.Second)
	r, err := metrics.Merge(shardRun(t, 0, 0), late)
	if err != nil {
		t.Fatal(err)
	}
	s := Summarize(r)
	if !s.Partial || s.StartSkewNS != 10e9 || len(s.Sources) != 2 {
		t.Errorf("partial %v skew %d sources %d", s.Partial,
			s.StartSkewNS, len(s.Sources))
	}
	want := []string{
		"partial merge: shards [0 1] of 4, missing [2 3]",
		"the runs' time windows do not overlap",
	}
	if len(s.Warnings) != 2 || s.Warnings[0] != want[0] ||
		s.Warnings[1] != want[1] {
		t.Errorf("warnings %q, want %q", s.Warnings, want)
	}

	// Overlapping windows of the same run, all shards: no warning.
	var all []*metrics.Result
	for k := range 4 {
		all = append(all, shardRun(t, k, time.Duration(k)*time.Millisecond))
	}
	r, err = metrics.Merge(all...)
	if err != nil {
		t.Fatal(err)
	}
	if s := Summarize(r); s.Partial || len(s.Warnings) != 0 ||
		s.StartSkewNS != 3e6 {
		t.Errorf("full merge: partial %v warnings %q skew %d", s.Partial,
			s.Warnings, s.StartSkewNS)
	}
}
