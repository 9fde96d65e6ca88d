package main

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestLastMesg(t *testing.T) {
	cases := []struct {
		out     string
		want    int
		wantErr bool
	}{
		{"sess=1 quit=0 mesg=1\rsess=1 quit=1 mesg=1\r", 1, false},
		{"sess=9 quit=9 mesg=9\rsess=10 quit=10 mesg=10000\r", 10000,
			false},
		// go-smtp-sink may end without the carriage return.
		{"sess=2 quit=2 mesg=2", 2, false},
		{"", 0, true},
		{"sess=1 quit=1 mesg=\r", 0, true},
	}
	for _, c := range cases {
		got, err := lastMesg(c.out)
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("lastMesg(%q) = %d, %v; want %d, error %v",
				c.out, got, err, c.want, c.wantErr)
		}
	}
}

func TestParseTime(t *testing.T) {
	cases := []struct {
		out         string
		rss, minflt int64
		wantErr     bool
	}{
		{"1076 212\n", 1076, 212, false},
		{"Command terminated by signal 15\n31920 8104\n", 31920, 8104,
			false},
		{"Command exited with non-zero status 3\n1596 90\n", 1596, 90,
			false},
		{"", 0, 0, true},
		{"1076\n", 0, 0, true},
		{"1076 x\n", 0, 0, true},
		{"Command terminated by signal 9\n", 0, 0, true},
	}
	for _, c := range cases {
		rss, minflt, err := parseTime(c.out)
		if (err != nil) != c.wantErr || rss != c.rss ||
			minflt != c.minflt {
			t.Errorf("parseTime(%q) = %d, %d, %v; want %d, %d, "+
				"error %v", c.out, rss, minflt, err, c.rss, c.minflt,
				c.wantErr)
		}
	}
}

func TestMedian(t *testing.T) {
	cases := []struct {
		xs   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, c := range cases {
		if got := median(c.xs); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.xs, got, c.want)
		}
	}
}

func TestHeadWriter(t *testing.T) {
	w := &headWriter{max: 8}
	io.WriteString(w, "\nfirst line\n")
	io.WriteString(w, "more")
	if got := string(w.buf); got != "\nfirst l" {
		t.Errorf("kept %q, want the first 8 bytes", got)
	}
	if got := w.firstLine(); got != "first l" {
		t.Errorf("firstLine() = %q", got)
	}
}

// fakeRuns returns runs of one tool, a warm-up first: msg/s of 1000 per
// second of wall time given, 1 s CPU and 10 MiB each.
func fakeRuns(tool string, walls ...float64) []run {
	var runs []run
	for i, wall := range walls {
		runs = append(runs, run{
			tool:   tool,
			warmup: i == 0,
			wall:   time.Duration(wall * float64(time.Second)),
			client: usage{user: time.Second, rssKiB: 10 << 10,
				minflt: 1234},
			sink: usage{sys: 1500 * time.Millisecond,
				minflt: 4321},
			mesg: 1000,
		})
	}
	return runs
}

func TestSummarize(t *testing.T) {
	runs := fakeRuns("a", 100, 1, 2, 4)
	runs[2].err = errors.New("lost messages")
	s := summarize(runs, "a", clients, 1000)

	// The warm-up (100 s) and the failed run (2 s) do not count.
	if s.counted != 2 || s.failed != 1 {
		t.Errorf("counted %d, failed %d; want 2, 1", s.counted, s.failed)
	}
	if s.rate != 625 { // median of 1000 and 250 msg/s
		t.Errorf("rate %v, want 625", s.rate)
	}
	if s.cpu != 10 || s.rss != 10 || s.maxRSS != 10 {
		t.Errorf("cpu %v rss %v max %v; want 10, 10, 10", s.cpu, s.rss,
			s.maxRSS)
	}
}

func TestTargets(t *testing.T) {
	ours := stats{counted: 5, rate: 200, cpu: 1, maxRSS: 40}
	theirs := stats{counted: 5, rate: 100, cpu: 2}
	cases := []struct {
		t    target
		want bool
	}{
		{rateAtLeast(1.8), true},
		{rateAtLeast(2.1), false},
		{cpuAtMost(1.0), true},
		{rssAtMost(32), false},
		{allRunsCount(), true},
	}
	for _, c := range cases {
		value, met := c.t.check(ours, theirs)
		if met != c.want {
			t.Errorf("%s: met %v (%s), want %v", c.t.label, met, value,
				c.want)
		}
	}

	// Nothing counted never meets a target.
	if _, met := rateAtLeast(1).check(stats{}, theirs); met {
		t.Errorf("rate target met without runs")
	}
}

func TestReportFailed(t *testing.T) {
	cfg := &config{runs: 3, messages: 1000, expect: 1000}
	sc := *findScenario("reuse-s100")
	runs := append(fakeRuns("go-smtp-source", 1, 1, 1, 1),
		fakeRuns("smtp-source", 1, 1, 1, 1)...)
	rep := &report{cfg: cfg, results: []result{{sc: sc, runs: runs}}}
	if n := rep.failed(); n != 0 {
		t.Fatalf("failed() = %d with all runs good", n)
	}

	// One lost run is reported and left out; two fail the scenario.
	runs[1].err = errors.New("lost")
	if n := rep.failed(); n != 0 {
		t.Errorf("failed() = %d with one run lost, want 0", n)
	}
	runs[5].err = errors.New("lost")
	if n := rep.failed(); n != 1 {
		t.Errorf("failed() = %d with two runs lost, want 1", n)
	}

	var b strings.Builder
	rep.render(&b)
	for _, want := range []string{"**FAILED**", "| reuse-s100 |",
		"**failed**: lost", "| sink CPU s | sink faults |",
		"| 10.0 | 1.500 | 4321 | 1000 |"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}

func TestScenarioNames(t *testing.T) {
	seen := map[string]bool{}
	for _, sc := range scenarios {
		if seen[sc.name] {
			t.Errorf("scenario %q twice", sc.name)
		}
		seen[sc.name] = true
		if len(sc.targets) == 0 {
			t.Errorf("scenario %q has no targets", sc.name)
		}
	}
}
